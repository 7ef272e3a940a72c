"""Stages of the real-cluster tiers for the KubeRay-native lab (issue 19 items 1-2), shared by the
kind tier (test_kind_cluster.py) and the host tier (test_real_cluster.py): call them after
`make deploy` with `--set clusters.auto.enabled=true`.

- :func:`autoscaling_stage`: k8s-auto starts with no worker; a job that keeps its head's CPUs busy
  makes KubeRay's autoscaler add workers; each is timed (pod created -> Ray node alive -> first
  task, from the pods and Ray's State API, by `ray101 run`); the job's tasks ran on them; once idle
  the workers go away again (bounded wait).
- :func:`rayjob_stage`: one workload through the Jobs API and through a KubeRay RayJob
  (`--via rayjob`) on k8s-multi: the RayJob shows in `kubectl get rayjobs` with its
  clusterSelector and no secret, the outputs are the same, the job is in the dashboard under its
  name, and the RayJob is gone afterwards.
- :func:`rayjob_cluster_stage`: one small workload through a RayJob with a RayCluster of its own
  (`--via rayjob-cluster`, shaped like k8s-single) beside the Jobs API on k8s-single: the RayJob
  carries a rayClusterSpec, shutdownAfterJobFinishes and no secret, KubeRay made a second
  RayCluster for it, the outputs are the same, the cluster's start is timed, and neither the
  RayJob nor its cluster is left afterwards.

Each writes its figures to RESULTS/<prefix>autoscaling.json, <prefix>rayjob.json or
<prefix>rayjob-cluster.json and returns them.
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
from pathlib import Path

from test_real_cluster import REPO, sh

NAMESPACE = "ray101"
AUTO_RAYCLUSTER = "ray101-auto"
# 24 tasks of 2 s: 24 s on the head's 2 CPUs alone, long enough for workers to join mid-job.
AUTO_RUN = ["parallel-retrieve", "--cluster", "k8s-auto", "--param", "items=24",
            "--param", "seconds=2", "--repeat", "2", "--json", "--quiet"]


def kubectl_json(env: dict, *args: str) -> dict:
    return json.loads(sh(["kubectl", "-n", NAMESPACE, *args, "-o", "json"], env, 120,
                         echo=False).stdout)


def worker_pods(env: dict) -> list[dict]:
    pods = kubectl_json(env, "get", "pods", "-l",
                        f"ray.io/cluster={AUTO_RAYCLUSTER},ray.io/node-type=worker")["items"]
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def write(results: Path, name: str, data: dict) -> None:
    results.mkdir(parents=True, exist_ok=True)
    (results / name).write_text(json.dumps(data, indent=2) + "\n")


def autoscaling_stage(env: dict, results: Path, prefix: str = "") -> dict:
    started = time.monotonic()
    clusters = {c["name"]: c for c in json.loads(sh(["ray101", "clusters", "--json"], env, 120).stdout)}
    auto = clusters["k8s-auto"]
    assert auto["topology"] == "auto" and auto["state"] == "ready", auto
    assert (auto["min_workers"], auto["max_workers"]) == (0, 2), auto
    idle = auto["idle_timeout_s"]
    assert worker_pods(env) == [], "k8s-auto has workers before any job"
    head = kubectl_json(env, "get", "pods", "-l",
                        f"ray.io/cluster={AUTO_RAYCLUSTER},ray.io/node-type=head")["items"][0]
    containers = {c["name"]: c for c in head["spec"]["containers"]}
    assert set(containers) == {"ray-head", "autoscaler"}, containers
    assert all(s.get("ready") for s in head["status"]["containerStatuses"]), head["status"]
    # only the autoscaler holds an API token (Pod Security "restricted" admitted the pod)
    mounts = {n: {m["mountPath"] for m in c.get("volumeMounts", [])} for n, c in containers.items()}
    token_dir = "/var/run/secrets/kubernetes.io/serviceaccount"
    assert token_dir in mounts["autoscaler"] and token_dir not in mounts["ray-head"], mounts

    run = sh(["ray101", "run", *AUTO_RUN], env, 900)
    ended = time.monotonic()
    [entry] = json.loads(run.stdout)
    assert entry["status"] == "SUCCEEDED", entry
    workers = entry["autoscaling"]["workers"]
    assert workers, f"KubeRay's autoscaler made no worker: {entry}"
    assert all(w["created_s"] is not None for w in workers), workers
    # On a busy 2-core node a second worker may become a Ray node only after the job ended (the
    # head and the first worker finished the tasks): it is reported without node_alive_s, and it
    # must go away with the others below. At least one joined during the job and ran its tasks.
    joined = [w for w in workers if w["node_alive_s"] is not None]
    assert joined, f"no autoscaled worker became a Ray node during the job: {workers}"
    for w in joined:
        assert w["created_s"] <= w["node_alive_s"] + 1, w  # creationTimestamp: whole seconds
    used = set(entry["node_ips"])
    assert used & {w["node_ip"] for w in joined}, (used, workers)  # the job ran on new nodes
    assert any(w["first_task_s"] is not None for w in workers), workers

    deadline = ended + idle + 150  # the idle timeout, the autoscaler's period, pod shutdown
    while worker_pods(env) and time.monotonic() < deadline:
        time.sleep(3)
    left = [p["metadata"]["name"] for p in worker_pods(env)]
    gone_after = round(time.monotonic() - ended, 1)
    figures = {"idle_timeout_s": idle, "runtimes_s": entry["runtimes_s"], "workers": workers,
               "job_end_to_end_s": entry["end_to_end_s"], "workers_gone_after_s": gone_after,
               "left": left, "stage_s": round(time.monotonic() - started, 1),
               "command": "ray101 run " + " ".join(AUTO_RUN)}
    write(results, f"{prefix}autoscaling.json", figures)
    print(json.dumps(figures, indent=2))
    assert left == [], f"idle workers still there {gone_after} s after the job: {left}"
    return figures


def run_watching_rayjobs(env: dict, args: list[str], also=None,
                         period_s: float = 0.5) -> tuple[dict, dict[str, dict], list[str]]:
    """`ray101 run ARGS` (one workload, --json) while `kubectl get rayjobs` watches: its run
    entry, every RayJob seen by name, and the RayJob's (deployment/job) statuses in the order
    they came. ``also``: called at each look too."""
    proc = subprocess.Popen(["ray101", "run", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: dict[str, dict] = {}
    statuses: list[str] = []
    while proc.poll() is None:
        for rj in kubectl_json(env, "get", "rayjobs")["items"]:
            seen[rj["metadata"]["name"]] = rj
            st = rj.get("status") or {}
            pair = f"{st.get('jobDeploymentStatus')}/{st.get('jobStatus')}"
            if not statuses or statuses[-1] != pair:
                statuses.append(pair)
        if also:
            also()
        time.sleep(period_s)
    out, err = proc.communicate()
    print(out[-3000:], err[-3000:])
    assert proc.returncode == 0, err[-1500:]
    [entry] = json.loads(out)
    return entry, seen, statuses


def rayjob_stage(env: dict, results: Path, prefix: str = "") -> dict:
    workload = ["task-dependencies", "--cluster", "k8s-multi", "--json", "--quiet"]
    direct = json.loads(sh(["ray101", "run", *workload], env, 600).stdout)[0]
    assert direct["status"] == "SUCCEEDED" and direct["via"] == "jobs-api", direct

    via, seen, statuses = run_watching_rayjobs(env, [*workload, "--via", "rayjob"])
    assert via["status"] == "SUCCEEDED" and via["via"] == "rayjob", via
    assert via["output"] == direct["output"], (via["output"], direct["output"])

    assert len(seen) == 1, list(seen)
    [(name, rayjob)] = seen.items()
    spec = rayjob["spec"]
    assert spec["clusterSelector"] == {"ray.io/cluster": "ray101-multi"}, spec
    assert spec["jobId"] == via["job_id"] and spec["submissionMode"] == "HTTPMode", spec
    secret = kubectl_json(env, "get", "secret", "ray101-ray-auth")
    token = base64.b64decode(secret["data"]["auth_token"]).decode()
    assert token not in json.dumps(rayjob), "the RayJob carries the token"
    assert kubectl_json(env, "get", "rayjobs")["items"] == [], "the RayJob was not deleted"

    status = json.loads(sh(["ray101", "jobs", "status", via["job_id"], "--cluster", "k8s-multi",
                            "--json"], env, 120).stdout)
    assert status["status"] == "SUCCEEDED", status
    assert status["metadata"]["job_name"] == "task-dependencies on k8s-multi (multi-node, repeat 1)"
    figures = {"rayjob": name, "statuses_seen": statuses,
               "jobs_api_end_to_end_s": direct["end_to_end_s"],
               "rayjob_end_to_end_s": via["end_to_end_s"],
               "runtimes_s": {"jobs-api": direct["runtimes_s"], "rayjob": via["runtimes_s"]},
               "outputs_agree": True}
    write(results, f"{prefix}rayjob.json", figures)
    print(json.dumps(figures, indent=2))
    return figures


def rayjob_cluster_stage(env: dict, results: Path, prefix: str = "") -> dict:
    started = time.monotonic()
    workload = ["task-dependencies", "--cluster", "k8s-single", "--json", "--quiet"]
    direct = json.loads(sh(["ray101", "run", *workload], env, 600).stdout)[0]
    assert direct["status"] == "SUCCEEDED" and direct["via"] == "jobs-api", direct

    made: set[str] = set()

    def own_clusters() -> None:
        made.update(rc["metadata"]["name"] for rc in kubectl_json(
            env, "get", "rayclusters", "-l", "ray.io/originated-from-cr-name")["items"])

    own, seen, statuses = run_watching_rayjobs(env, [*workload, "--via", "rayjob-cluster"],
                                               also=own_clusters, period_s=1.0)
    assert own["status"] == "SUCCEEDED" and own["via"] == "rayjob-cluster", own
    assert own["output"] == direct["output"], (own["output"], direct["output"])
    start = own["own_cluster"]
    assert start["cluster_ready_s"] is not None and start["job_running_s"] is not None, start
    assert start["cluster_gone_s"] is not None, start

    assert len(seen) == 1, list(seen)
    [(name, rayjob)] = seen.items()
    spec = rayjob["spec"]
    assert "clusterSelector" not in spec and spec["shutdownAfterJobFinishes"] is True, spec
    single = kubectl_json(env, "get", "raycluster", "ray101-single")
    head = spec["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    assert head["image"] == single["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0][
        "image"], head
    assert spec["rayClusterSpec"]["authOptions"] == single["spec"]["authOptions"], spec
    assert made == {start["raycluster"]}, (made, start)
    secret = kubectl_json(env, "get", "secret", "ray101-ray-auth")
    token = base64.b64decode(secret["data"]["auth_token"]).decode()
    assert token not in json.dumps(rayjob), "the RayJob carries the token"
    assert kubectl_json(env, "get", "rayjobs")["items"] == [], "the RayJob was not deleted"
    left = kubectl_json(env, "get", "rayclusters", "-l", "ray.io/originated-from-cr-name")["items"]
    assert left == [], f"the RayJob's cluster was left: {[r['metadata']['name'] for r in left]}"
    figures = {"rayjob": name, "submission_mode": spec["submissionMode"],
               "statuses_seen": statuses, "own_cluster": start,
               "jobs_api_end_to_end_s": direct["end_to_end_s"],
               "rayjob_cluster_end_to_end_s": own["end_to_end_s"],
               "runtimes_s": {"jobs-api": direct["runtimes_s"],
                              "rayjob-cluster": own["runtimes_s"]},
               "outputs_agree": True, "stage_s": round(time.monotonic() - started, 1),
               "command": "ray101 run " + " ".join(workload) + " --via rayjob-cluster"}
    write(results, f"{prefix}rayjob-cluster.json", figures)
    print(json.dumps(figures, indent=2))
    return figures
