"""`helm test`: one small job through the Ray Jobs API of one RayCluster, with the release's token.

The chart runs this file as `python -c` in a pod of its own (templates/tests/jobs-api.yaml), with
the Ray image and only the standard library. Environment:
  RAY101_HEAD_URL      the head's dashboard, e.g. http://ray101-multi-head-svc.ray101.svc:8265
  RAY101_EXPECT_NODES  Ray nodes the cluster must have alive (head plus workers)
  RAY_AUTH_TOKEN       the token, from the Secret KubeRay gives the cluster (absent: no auth)
  RAY101_TIMEOUT_S     how long the whole check may take (default 240)
It checks that the head refuses a request without the token, submits a job whose driver joins the
cluster through `ray.init()`, counts the alive nodes and runs one task, and waits for SUCCEEDED.
Prints what it saw, never the token; exits 0 on success, 1 with one line saying what failed.
"""

import json
import os
import sys
import time
import urllib.error
import urllib.request

MARK = "ray101-helm-test"
# The driver, run by the head's job supervisor with RAY_ADDRESS set. Workers of a just-deployed
# cluster may still be joining: it waits up to 60 s for them. No single quotes (shell quoting).
DRIVER = """
import time
import ray
ray.init()
deadline = time.monotonic() + 60
while sum(n["Alive"] for n in ray.nodes()) < {nodes} and time.monotonic() < deadline:
    time.sleep(1)
alive = sum(n["Alive"] for n in ray.nodes())
answer = ray.get(ray.remote(lambda: 6 * 7).remote())
print("{mark} nodes=%d answer=%d" % (alive, answer))
"""


class Failed(Exception):
    """What went wrong, in one line."""


def call(method, url, token, body=None, timeout=10.0):
    """One request; (HTTP status, parsed JSON or text). Connection errors raise OSError."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            status, text = answer.status, answer.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode(errors="replace")
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def ok(status, answer, what):
    if status in (401, 403):
        raise Failed(f"{what}: the head refused the token (HTTP {status}); is RAY_AUTH_TOKEN the "
                     "Secret the RayCluster's authOptions name?")
    if status >= 300:
        raise Failed(f"{what}: HTTP {status}: {str(answer)[:300]}")
    return answer


def check(head, token, nodes, deadline):
    while True:  # the head's Service may not answer yet
        try:
            status, version = call("GET", head + "/api/version", token)
            break
        except OSError as e:
            if time.monotonic() > deadline:
                raise Failed(f"{head} did not answer: {e}") from None
            time.sleep(2)
    ok(status, version, "GET /api/version")
    print(f"{head}: Ray {version.get('ray_version')}", flush=True)
    if token:
        status, _ = call("GET", head + "/api/jobs/", None)
        if status not in (401, 403):
            raise Failed(f"the head answered HTTP {status} to a request without the token")
        print(f"without the token: HTTP {status}; with it:", flush=True)
    job_id = f"{MARK}-{int(time.time())}"
    entrypoint = "python -c '" + DRIVER.format(nodes=nodes, mark=MARK) + "'"
    ok(*call("POST", head + "/api/jobs/", token,
             {"entrypoint": entrypoint, "submission_id": job_id,
              "metadata": {"ray101": "helm-test"}}), "POST /api/jobs/")
    print(f"submitted {job_id}", flush=True)
    while True:
        info = ok(*call("GET", f"{head}/api/jobs/{job_id}", token), f"GET /api/jobs/{job_id}")
        if info.get("status") in ("SUCCEEDED", "FAILED", "STOPPED"):
            break
        if time.monotonic() > deadline:
            raise Failed(f"job {job_id} still {info.get('status')} at the deadline")
        time.sleep(1)
    logs = ok(*call("GET", f"{head}/api/jobs/{job_id}/logs", token), "GET logs").get("logs", "")
    lines = [line for line in logs.splitlines() if line.startswith(MARK)]
    print(f"job {job_id}: {info['status']}; {lines[-1] if lines else 'no result line'}", flush=True)
    expected = f"{MARK} nodes={nodes} answer=42"
    if info["status"] != "SUCCEEDED" or expected not in lines:
        tail = " | ".join(logs.strip().splitlines()[-5:])
        raise Failed(f"job {job_id} {info['status']} ({info.get('message') or 'no message'}), "
                     f"expected {expected!r}; log tail: {tail}")
    call("DELETE", f"{head}/api/jobs/{job_id}", token)  # keep the cluster's job list clean


def main():
    try:
        head = os.environ["RAY101_HEAD_URL"].rstrip("/")
        nodes = int(os.environ["RAY101_EXPECT_NODES"])
        timeout = float(os.environ.get("RAY101_TIMEOUT_S", "240"))
    except (KeyError, ValueError) as e:
        print(f"helm test: bad environment: {e}", file=sys.stderr)
        return 2
    try:
        check(head, os.environ.get("RAY_AUTH_TOKEN", "").strip(), nodes, time.monotonic() + timeout)
    except Failed as e:
        print(f"helm test FAILED: {e}", file=sys.stderr)
        return 1
    print("helm test passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
