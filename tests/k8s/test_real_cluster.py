"""The whole Kubernetes path on a real cluster: `make test-k8s` (root, Linux; minutes, not seconds).

The `host` provider (k8s/host/) builds Kubernetes, etcd, CoreDNS and the KubeRay operator from the
Go module proxy, starts them on this machine and loads locally built images; then the same make
targets a kind user runs: `make operator`, `make deploy`, `make compare-k8s`, `make dashboard`,
`make undeploy`, `make clean-cluster`. The stages run in file order and share one cluster; the
module fixture tears it down even when a stage fails, and the last test checks that the host is as
before (mounts, links, nftables, iptables chains, sysctls, processes).

Wall time of each stage goes to results/k8s/timings.json (cold: the build cache was empty).
Only `make test-k8s` runs this module (it sets RAY101_TEST_K8S=1); `make test` skips it.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "results" / "k8s"

if os.environ.get("RAY101_TEST_K8S") != "1":
    pytest.skip("the real Kubernetes run: `make test-k8s` (root, minutes)", allow_module_level=True)
if os.geteuid() != 0:
    pytest.fail("make test-k8s must run as root (the host provider starts a kubelet)", pytrace=False)

CACHE = Path(os.environ.get("RAY101_CACHE") or Path.home() / ".cache" / "ray101")
STATE = Path(os.environ.get("RAY101_HOST_STATE") or "/var/lib/ray101-host")
K8S_BIN = CACHE / "kubernetes-v1.34.4" / "bin"
OTHER_CHECKOUTS = re.compile(r"r101")  # other checkouts' local Ray clusters (bridges r101*)
TIMINGS: dict[str, float] = {}
COLD = not (K8S_BIN / "kubelet").exists()


def sh(cmd: list[str], env: dict, timeout: float, check: bool = True,
       echo: bool = True) -> subprocess.CompletedProcess:
    """Run a command from the repo root, echoing its output into the test log (``echo=False``
    for output that holds secrets: the log must never show a token or a password)."""
    print("$", " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, cwd=REPO, env=env, text=True, capture_output=True, timeout=timeout)
    if echo:
        sys.stdout.write(proc.stdout[-6000:])
    sys.stdout.write(proc.stderr[-4000:])
    if check:
        assert proc.returncode == 0, f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr[-800:]}"
    return proc


def streamed(cmd: list[str], env: dict, timeout: float) -> None:
    """Run a long command with its progress lines shown as they come (a cold build takes many
    minutes: the log must show which component is building and for how long)."""
    print("$", " ".join(cmd), flush=True)
    deadline = time.monotonic() + timeout
    tail: list[str] = []
    with subprocess.Popen(cmd, cwd=REPO, env=env, text=True, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            print(line, end="", flush=True)
            tail = (tail + [line])[-20:]
            if time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"{' '.join(cmd)} still running after {timeout} s")
    assert proc.returncode == 0, f"{' '.join(cmd)} exited {proc.returncode}: {''.join(tail)}"


def timed(stage: str, cmd: list[str], env: dict, timeout: float, stream: bool = False) -> None:
    start = time.monotonic()
    try:
        if stream:
            streamed(cmd, env, timeout)
        else:
            sh(cmd, env, timeout)
    finally:
        TIMINGS[stage] = round(time.monotonic() - start, 1)
        write_timings()


def write_timings() -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "timings.json").write_text(json.dumps(
        {"cache": "cold" if COLD else "warm", "seconds": TIMINGS}, indent=2) + "\n")


def host_snapshot() -> dict[str, set[str]]:
    """What a cluster could leave behind, minus other checkouts' local clusters."""
    def lines(cmd: list[str]) -> set[str]:
        out = subprocess.run(cmd, capture_output=True, text=True).stdout
        return {line.strip() for line in out.splitlines() if line.strip()}

    mounts = {line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()}
    links = {line.split(":")[1].strip().split("@")[0] for line in lines(["ip", "-o", "link"])}
    chains = set()
    for tool in ("iptables-save", "ip6tables-save"):
        chains |= {f"{tool} {c.split()[0]}" for c in lines([tool]) if c.startswith(":")}
    sysctls = {f"{k}={Path('/proc/sys', k.replace('.', '/')).read_text().strip()}"
               for k in ("vm.overcommit_memory", "kernel.panic", "kernel.panic_on_oops",
                         "net.ipv4.ip_forward", "net.ipv4.conf.all.forwarding")}
    ours = (str(STATE), str(CACHE), "/var/lib/kubelet", "/run/containerd", "kube-", "etcd",
            "containerd")
    procs = set()
    for p in Path("/proc").glob("[0-9]*"):
        try:
            cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if any(o in cmd for o in ours) and "pytest" not in cmd:
            procs.add(cmd[:200])
    snap = {
        "mounts": mounts, "links": links, "nft tables": lines(["nft", "list", "tables"]),
        "iptables chains": chains, "sysctls": sysctls, "processes": procs,
        "cgroups": {str(d) for d in Path("/sys/fs/cgroup").glob("*/ray101-host")},
        "dirs": {d for d in ("/var/lib/kubelet", "/var/log/containers", "/var/log/pods",
                             "/run/containerd", "/var/lib/cni", str(STATE)) if Path(d).exists()},
    }
    return {k: {x for x in v if not OTHER_CHECKOUTS.search(x)} for k, v in snap.items()}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """Environment of every command: our own kubeconfig and ray101 home, tools on PATH."""
    home = tmp_path_factory.mktemp("k8s")
    e = dict(os.environ)
    tools = Path(e.get("RAY101_TOOLS") or REPO / ".tools")
    e.update(PROVIDER="host", KUBECONFIG=str(home / "kubeconfig"), RAY101_HOME=str(home / "ray101"),
             PATH=f"{tools / 'bin'}:{REPO / '.venv' / 'bin'}:{e['PATH']}")
    return e


@pytest.fixture(scope="module", autouse=True)
def cluster(env):
    """The host as it was before; tear the cluster down after the last stage, whatever happened.
    The provider's Debian packages come first: the snapshot runs their tools (nft, iptables-save),
    and packages stay installed after teardown, so before and after compare like with like."""
    timed("packages", ["k8s/host/packages.sh"], env, 1200, stream=True)
    before = host_snapshot()
    yield before
    if (STATE / "pids").exists():
        timed("teardown", ["make", "--no-print-directory", "clean-cluster"], env, 600)


def test_build(env):
    """Binaries and image tarballs (the Ray image downloads while Go compiles)."""
    timed("build", ["k8s/host/build.sh", "--images"], env, 3600, stream=True)
    for name in ("kube-apiserver", "kubelet", "kubectl", "kubeadm"):
        assert (K8S_BIN / name).exists()
    assert list((CACHE / "images").glob("ray-*.tar")), "build.sh --images made no Ray image"


def test_cluster_up(env):
    timed("cluster up", ["make", "--no-print-directory", "cluster"], env, 1800)
    nodes = sh(["kubectl", "get", "nodes", "-o", "json"], env, 60)
    [node] = json.loads(nodes.stdout)["items"]
    ready = {c["type"]: c["status"] for c in node["status"]["conditions"]}
    assert ready["Ready"] == "True"


def test_operator(env):
    timed("operator", ["make", "--no-print-directory", "operator"], env, 900)


def test_deploy(env):
    timed("deploy", ["make", "--no-print-directory", "deploy"], env, 1800)
    out = sh(["ray101", "clusters", "--json"], env, 120).stdout
    clusters = {c["name"]: c for c in json.loads(out)}
    for name, workers in (("k8s-single", 0), ("k8s-multi", 2)):
        row = clusters[name]
        assert row["state"] == "ready", row
        assert (row["available_workers"] or 0) == (row["desired_workers"] or 0) == workers, row


def test_helm_test(env):
    """`helm test`: per RayCluster a pod sends one job through the head's Jobs API with the token
    from the Secret (helm/ray101/templates/tests/). Failed test pods stay: their logs are shown."""
    try:
        timed("helm test", ["helm", "test", "ray101", "-n", "ray101", "--timeout", "10m"], env, 900)
    except AssertionError:
        sh(["kubectl", "-n", "ray101", "logs", "-l", "app.kubernetes.io/component=helm-test",
            "--prefix", "--tail", "40"], env, 60, check=False)
        raise


def as_nobody(*cmd: str) -> subprocess.CompletedProcess:
    """A command as an ordinary local user (`nobody`), with a clean environment."""
    return subprocess.run(["runuser", "-u", "nobody", "--", "env", "-i", "PATH=/usr/bin:/bin", *cmd],
                          capture_output=True, text=True, timeout=60)


def test_a_local_user_reads_no_secret(env):
    """No way in for another user of this machine: etcd wants a client certificate of its own CA
    (plain HTTP and TLS without one both fail), the API server and the kubelet refuse anonymous
    requests. The Secrets hold the Ray token and the MongoDB password."""
    key = base64.b64encode(b"/registry/secrets/").decode()
    end = base64.b64encode(b"/registry/secrets0").decode()
    body = json.dumps({"key": key, "range_end": end})
    for url in ("http://127.0.0.1:2379/v3/kv/range", "https://127.0.0.1:2379/v3/kv/range"):
        got = as_nobody("curl", "-sk", "-m", "10", "-X", "POST", url, "-d", body)
        print(url, got.returncode, got.stdout[:200])
        assert '"kvs"' not in got.stdout and '"count"' not in got.stdout, f"etcd answered a local user at {url}"
    for url in ("https://10.244.0.1:6443/api/v1/namespaces/ray101/secrets", "https://10.244.0.1:6443/version",
                "https://10.244.0.1:10250/pods"):
        got = as_nobody("curl", "-sk", "-m", "10", "-o", "/dev/null", "-w", "%{http_code}", url)
        print(url, got.stdout)
        assert got.stdout == "401", f"{url} answered {got.stdout!r} to a local user without credentials"


def test_compare(env):
    timed("compare", ["make", "--no-print-directory", "compare-k8s"], env, 3600)
    report = json.loads((RESULTS / "compare.json").read_text())
    rows = report["workloads"] if isinstance(report, dict) and "workloads" in report else report
    assert rows, report
    text = json.dumps(report)
    assert '"consistent": false' not in text and '"consistent": true' in text


def pod_memory(env) -> dict:
    """Peak memory (cgroup v1 max_usage, MiB), limit and restarts of every pod in ray101."""
    pods = json.loads(sh(["kubectl", "-n", "ray101", "get", "pods", "-o", "json"], env, 60).stdout)
    out = {}
    for pod in pods["items"]:
        uid = pod["metadata"]["uid"]
        peaks = [int((d / "memory.max_usage_in_bytes").read_text()) for d in
                 Path("/sys/fs/cgroup/memory/ray101-host/kubepods").rglob(f"pod{uid}")]
        statuses = pod["status"].get("containerStatuses", [])
        out[pod["metadata"]["name"]] = {
            "peak_mib": round(max(peaks) / 2**20) if peaks else None,
            "limit": pod["spec"]["containers"][0].get("resources", {}).get("limits", {}).get("memory"),
            "restarts": sum(c.get("restartCount", 0) for c in statuses),
            "last_terminated": [c.get("lastState", {}).get("terminated", {}).get("reason")
                                for c in statuses if c.get("lastState", {}).get("terminated")],
        }
    return out


def test_compare_used_memory_within_limits(env):
    """Evidence for the head's memory limit: peak use of each pod over the whole compare."""
    memory = pod_memory(env)
    (RESULTS / "pod-memory.json").write_text(json.dumps(memory, indent=2) + "\n")
    print(json.dumps(memory, indent=2))
    assert not any("OOMKilled" in m["last_terminated"] for m in memory.values()), memory


def test_chaos_kill_node_during_parallel_retrieve(env):
    run = subprocess.Popen(
        ["ray101", "run", "parallel-retrieve", "--cluster", "k8s-multi", "--repeat", "4",
         "--param", "items=24", "--param", "seconds=2.0", "--json", "--quiet"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:  # wait for the job to be RUNNING, then kill a worker
        jobs = json.loads(sh(["ray101", "jobs", "list", "--cluster", "k8s-multi", "--json"], env,
                             120).stdout)
        if any(j.get("status") == "RUNNING" for j in jobs):
            break
        assert run.poll() is None, run.communicate()
    else:
        pytest.fail("parallel-retrieve never started RUNNING")
    killed = sh(["ray101", "chaos", "kill-node", "--cluster", "k8s-multi", "--json"], env, 120)
    out, err = run.communicate(timeout=900)
    print(killed.stdout, out[-3000:], err[-3000:])
    assert run.returncode == 0, err[-1500:]
    assert "SUCCEEDED" in out


def test_dashboard_through_make_dashboard(env):
    proc = subprocess.Popen(["make", "--no-print-directory", "dashboard"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True,  # SIGINT as Ctrl-C even under `make &`:
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        url = None
        seen = []
        for line in proc.stdout:
            print(line, end="")
            seen.append(line)
            m = re.search(r"Ray dashboard of k8s-multi: (http://127\.0\.0\.1:\d+)", line)
            if m:
                url = m.group(1)
            if "Port-forward open" in line:
                break
        assert url, "make dashboard printed no URL"
        secret = sh(["kubectl", "-n", "ray101", "get", "secret", "-l",
                     "app.kubernetes.io/instance=ray101", "-o", "json"], env, 60, echo=False).stdout
        tokens = [base64.b64decode(s["data"]["auth_token"]).decode()
                  for s in json.loads(secret)["items"] if "auth_token" in (s.get("data") or {})]
        assert tokens
        request = urllib.request.Request(f"{url}/api/jobs/",
                                         headers={"Authorization": f"Bearer {tokens[0]}"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 200 and isinstance(json.loads(answer.read()), list)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{url}/api/jobs/", timeout=30)
        assert refused.value.code in (401, 403)
        assert not any(tokens[0] in line for line in seen), "make dashboard printed the token"
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=60)


def test_undeploy(env):
    timed("undeploy", ["make", "--no-print-directory", "undeploy"], env, 600)
    left = sh(["kubectl", "-n", "ray101", "get", "rayclusters,statefulsets,pvc", "-o", "name"],
              env, 60).stdout.split()
    assert left == []


def snapshot_diff(before: dict[str, set[str]], after: dict[str, set[str]]) -> dict:
    """What teardown left different from the host as it was, per kind of thing."""
    return {k: {"added": sorted(after[k] - before[k]), "removed": sorted(before[k] - after[k])}
            for k in before if after[k] != before[k]}


def test_teardown_leaves_nothing(env, cluster):
    timed("teardown", ["make", "--no-print-directory", "clean-cluster"], env, 600)
    diff = snapshot_diff(cluster, host_snapshot())
    (RESULTS / "teardown-diff.json").write_text(json.dumps(diff, indent=2) + "\n")
    assert diff == {}
