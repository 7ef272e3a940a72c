"""The whole Kubernetes path on a real cluster: `make test-k8s` (root, Linux; minutes, not seconds).

The `host` provider (k8s/host/) builds Kubernetes, etcd, CoreDNS and the KubeRay operator from the
Go module proxy, starts them on this machine and loads locally built images; then the same make
targets a kind user runs: `make operator`, `make deploy`, `make compare-k8s`, `make dashboard`,
`make undeploy`, `make clean-cluster`. The stages run in file order and share one cluster; the
module fixture tears it down even when a stage fails, and the teardown stage checks that the host
is as before (mounts, links, nftables, iptables chains, sysctls, processes, cgroups, directories).

What the provider enforces is proven with real traffic on the way: NetworkPolicies (the engine
of k8s/policy/, tests/k8s/test_network_policy.py run against this cluster), pods reaching on the
host only the API server, nothing off the machine reaching the API server or the kubelet, no local
user reading a Secret, expiring certificates refused, the chart's secrets kept
(tests/k8s/test_chart_secrets.py). The KubeRay-native stages of tests/k8s/kuberay_native.py run
here too: k8s-auto growing for a job and shrinking when idle, a RayJob beside the Jobs API. After
the teardown, `up.sh` is interrupted
halfway (Ctrl-C after etcd started) beside stale pid files that point at unrelated processes; then
`make clean-cluster` must leave those processes alone and the host as before again.

Wall time of each stage goes to results/k8s/timings.json (cold: the build cache was empty).
Only `make test-k8s` runs this module (it sets RAY101_TEST_K8S=1); `make test` skips it.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import k8s_common
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
# The sysctls a cluster could change (every kernel.*, vm.*, the forwarding and bridge ones, ...),
# minus counters that move on their own.
SYSCTL_PREFIXES = ("kernel.", "vm.", "user.", "net.core.", "net.bridge.", "net.netfilter.",
                   "net.ipv4.ip_forward", "net.ipv4.conf.all.", "net.ipv4.conf.default.",
                   "net.ipv6.conf.all.", "net.ipv6.conf.default.")
VOLATILE_SYSCTLS = re.compile(r"(kernel\.(ns_last_pid|random\.\S+|pty\.nr|perf_event_max_sample_rate|tainted)"
                              r"|net\.netfilter\.nf_conntrack_count) =")
# Set before the cluster starts to values the kubelet changes (it sets 1000000 and 25000000):
# teardown must put these back too. The host's own values return after the module.
KUBELET_PROBE_SYSCTLS = {"kernel.keys.root_maxkeys": "999999", "kernel.keys.root_maxbytes": "24999999"}
API = "10.244.0.1"  # the bridge address: the API server (6443) and the kubelet (10250) listen there
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


def timed_call(stage: str, fn, *args):
    """A stage that is a function, not a command, timed like :func:`timed`."""
    start = time.monotonic()
    try:
        return fn(*args)
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
    sysctls = {line for line in lines(["sysctl", "-a"])
               if line.startswith(SYSCTL_PREFIXES) and not VOLATILE_SYSCTLS.match(line)}
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
    host_values = {k: sysctl(k) for k in KUBELET_PROBE_SYSCTLS}
    for k, v in KUBELET_PROBE_SYSCTLS.items():
        sysctl(k, v)
    try:
        before = host_snapshot()
        yield before
        if (STATE / "pids").exists():
            timed("teardown", ["make", "--no-print-directory", "clean-cluster"], env, 600)
    finally:
        for k, v in host_values.items():
            sysctl(k, v)


def sysctl(key: str, value: str | None = None) -> str:
    path = Path("/proc/sys", key.replace(".", "/"))
    if value is not None:
        path.write_text(value + "\n")
    return path.read_text().strip()


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
    engine = json.loads(sh(["kubectl", "-n", "kube-system", "get", "daemonset", "kube-network-policies",
                            "-o", "json"], env, 60).stdout)
    assert engine["status"].get("numberReady") == 1, engine["status"]
    assert sysctl("net.bridge.bridge-nf-call-iptables") == "1"  # bridged pod traffic meets the engine
    assert sysctl("kernel.keys.root_maxkeys") == "1000000"  # the kubelet's value (put back later)


def test_make_cluster_refuses_expiring_certificates(env):
    """`make cluster` on a running cluster whose certificates expire within HOST_CERT_MIN_DAYS
    refuses in one line (they are made for 30 days: 400 days always finds one); without that it
    says the cluster is running."""
    got = sh(["make", "--no-print-directory", "cluster"], {**env, "HOST_CERT_MIN_DAYS": "400"}, 120,
             check=False)
    ours = [line for line in got.stderr.splitlines() if line.startswith("host provider:")]
    assert got.returncode != 0 and len(ours) == 1, got.stderr
    assert "expires" in ours[0] and "within 400 days" in ours[0] and "make clean-cluster" in ours[0], ours
    again = sh(["make", "--no-print-directory", "cluster"], env, 120)
    assert "host cluster is running" in again.stdout


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


def test_network_policies_enforced(env):
    """tests/k8s/test_network_policy.py against this cluster: with real connections, a pod without
    the chart's labels reaches neither MongoDB nor the Ray head's GCS, dashboard and client ports
    (in the release's namespace or another), a labelled one reaches them, the engine logs its
    drops, the kubelet's probes keep passing. The Ray pods, helm test and the compare below run
    with the policies enforced too."""
    timed("network policies", [sys.executable, "-m", "pytest", "tests/k8s/test_network_policy.py",
                               "-p", "no:cacheprovider", "-o", "addopts=", "-q", "-rA"],
          {**env, "RAY101_TEST_K8S": "1"}, 900, stream=True)


TCP_PROBE = (
    "import json, socket, sys, concurrent.futures as cf\n"
    "def probe(port):\n"
    "    try:\n"
    "        socket.create_connection((sys.argv[1], port), timeout=3).close(); return 'open'\n"
    "    except socket.timeout:\n"
    "        return 'timeout'\n"
    "    except OSError as e:\n"
    "        return type(e).__name__\n"
    "ports = [int(p) for p in sys.argv[2:]]\n"
    "with cf.ThreadPoolExecutor(32) as ex:\n"
    "    print(json.dumps(dict(zip(ports, ex.map(probe, ports)))))\n"
)


def host_tcp_listeners() -> set[int]:
    """Ports with a TCP listener a pod could address on the host: on any address or the bridge's."""
    wanted = {"00000000", "0100F40A", "0" * 32, "0000000000000000FFFF00000100F40A"}
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            addr, port = fields[1].split(":")
            if fields[3] == "0A" and addr in wanted:  # 0A: LISTEN
                ports.add(int(port, 16))
    return ports


def test_pods_reach_only_the_api_server_on_the_host(env):
    """From a pod (the Ray head), of every TCP port the host listens on where a pod could address
    it, plus the kubelet's, etcd's, the control plane's and the policy engine's, only the API
    server's answers."""
    pods = json.loads(sh(["kubectl", "-n", "ray101", "get", "pods", "-l", "ray.io/node-type=head",
                          "-o", "json"], env, 60).stdout)["items"]
    head = pods[0]["metadata"]["name"]
    ports = sorted(host_tcp_listeners() | {6443, 10250, 2379, 2380, 10256, 10249, 10257, 10259, 9080})
    out = sh(["kubectl", "-n", "ray101", "exec", head, "--", "python3", "-c", TCP_PROBE, API,
              *map(str, ports)], env, 120).stdout
    seen = {int(p): r for p, r in json.loads(out.strip().splitlines()[-1]).items()}
    print("from a pod to the host:", seen)
    assert seen.pop(6443) == "open", seen
    assert not [p for p, r in seen.items() if r == "open"], seen


def test_nothing_off_the_machine_reaches_the_api_server_or_the_kubelet(env):
    """A second "machine" (a network namespace on a veth link to the host, routing the pod subnet
    through it) gets nothing from the bridge address: not the API server, not the kubelet, not a
    listener on any address that it does reach through the host's own address on the link."""
    listener = socket.create_server(("0.0.0.0", 0))
    port = listener.getsockname()[1]
    machine = subprocess.Popen(["unshare", "--net", "sleep", "600"])
    try:
        time.sleep(0.5)
        net = ["nsenter", "-t", str(machine.pid), "-n"]
        for cmd in (["ip", "link", "add", "rhx0", "type", "veth", "peer", "name", "rhx1", "netns", str(machine.pid)],
                    ["ip", "addr", "add", "198.18.101.1/30", "dev", "rhx0"], ["ip", "link", "set", "rhx0", "up"],
                    [*net, "ip", "link", "set", "lo", "up"], [*net, "ip", "link", "set", "rhx1", "up"],
                    [*net, "ip", "addr", "add", "198.18.101.2/30", "dev", "rhx1"],
                    [*net, "ip", "route", "add", "default", "via", "198.18.101.1"]):
            sh(cmd, env, 30)
        seen = {}
        for target, ports in (("198.18.101.1", [port]), (API, [port, 6443, 10250])):
            out = sh([*net, sys.executable, "-c", TCP_PROBE, target, *map(str, ports)], env, 60).stdout
            seen[target] = {int(p): r for p, r in json.loads(out.strip().splitlines()[-1]).items()}
        print("from another machine:", seen)
        assert seen["198.18.101.1"][port] == "open", seen  # the link works
        assert seen[API] == {port: "timeout", 6443: "timeout", 10250: "timeout"}, seen
    finally:
        machine.kill()
        machine.wait()
        listener.close()
        subprocess.run(["ip", "link", "del", "rhx0"], capture_output=True)


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


def test_chart_keeps_its_secrets(env):
    """tests/k8s/test_chart_secrets.py against this cluster (k8s_common.chart_secrets_stage, as on
    the kind tier), with the value file this provider's `make deploy` passes."""
    k8s_common.chart_secrets_stage(timed, "chart secrets", env, "k8s/host/values.yaml")


def test_autoscaling_cluster_grows_and_shrinks(env):
    """k8s-auto (on by k8s/host/values.yaml): no worker while idle; a job that keeps its head's
    CPUs busy makes KubeRay's autoscaler add workers, each timed (pod created -> Ray node alive ->
    first task); the job's tasks run on them, and they go away after the idle timeout."""
    import kuberay_native  # here, not at the top: it imports this module's helpers

    timed_call("autoscaling", kuberay_native.autoscaling_stage, env, RESULTS)


def test_rayjob_beside_the_jobs_api(env):
    """One workload as a KubeRay RayJob (clusterSelector, HTTPMode) and through the Jobs API: the
    same output, the job in the dashboard under its name, the RayJob deleted afterwards."""
    import kuberay_native

    timed_call("rayjob", kuberay_native.rayjob_stage, env, RESULTS)


def test_rayjob_with_its_own_cluster(env):
    """`--via rayjob-cluster`: a RayJob that brings up a copy of k8s-single, runs one workload on
    it with the Jobs API's output, and leaves neither the RayJob nor its RayCluster behind."""
    import kuberay_native

    timed_call("rayjob-cluster", kuberay_native.rayjob_cluster_stage, env, RESULTS)


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
    """What teardown left different from the host as it was, per kind of thing. Sysctls compare
    by value: a key that appeared (a kernel module loaded on the way, which stays) is no change."""
    after = dict(after)
    if "sysctls" in before and "sysctls" in after:
        keys = {s.split(" = ")[0] for s in before["sysctls"]} & {s.split(" = ")[0] for s in after["sysctls"]}
        before = {**before, "sysctls": {s for s in before["sysctls"] if s.split(" = ")[0] in keys}}
        after["sysctls"] = {s for s in after["sysctls"] if s.split(" = ")[0] in keys}
    return {k: {"added": sorted(after[k] - before[k]), "removed": sorted(before[k] - after[k])}
            for k in before if after[k] != before[k]}


def test_teardown_leaves_nothing(env, cluster):
    timed("teardown", ["make", "--no-print-directory", "clean-cluster"], env, 600)
    diff = snapshot_diff(cluster, host_snapshot())
    (RESULTS / "teardown-diff.json").write_text(json.dumps(diff, indent=2) + "\n")
    assert diff == {}


def our_daemon(name: str) -> int | None:
    """The pid in the provider's pid file NAME if that process runs the executable it names."""
    try:
        pid, _start, exe = (STATE / "pids" / f"{name}.pid").read_text().split()
        return int(pid) if os.readlink(f"/proc/{pid}/exe") == exe else None
    except (OSError, ValueError):
        return None


def up_until_etcd_then_ctrl_c(env: dict, log: Path) -> int:
    """Start k8s/host/up.sh, send Ctrl-C's SIGINT to its process group as soon as our etcd runs;
    return etcd's pid (etcd runs on: it is in a session of its own)."""
    with open(log, "a") as out:
        up = subprocess.Popen(["k8s/host/up.sh"], cwd=REPO, env={**env, "HOST_SKIP_BUILD": "1"},
                              stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 120
        while our_daemon("etcd") is None:
            assert up.poll() is None, log.read_text()[-2000:]
            assert time.monotonic() < deadline, "etcd never started: " + log.read_text()[-2000:]
            time.sleep(0.1)
        os.killpg(up.pid, signal.SIGINT)
        assert up.wait(timeout=60) != 0
    etcd = our_daemon("etcd")
    assert etcd is not None, "nothing was left running: the interruption came too late to test"
    return etcd


def alive(pid: int) -> bool:
    """Whether pid is a process that has not exited (a zombie has)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def cert(name: str, *what: str) -> str:
    return subprocess.run(["openssl", "x509", "-noout", *what, "-in", str(STATE / "pki" / name)],
                          capture_output=True, text=True, check=True).stdout.strip()


def test_interrupted_up_then_clean_cluster_restores_the_host(env, cluster):
    """Ctrl-C in `make cluster` right after etcd started leaves a half-made cluster (etcd runs on,
    in its own session); `make cluster` then refuses to renew expiring certificates under it. With
    etcd gone (as after a reboot), the next `make cluster` renews every certificate (the service
    account key kept) and is interrupted the same way. Stale pid files point at unrelated processes
    (a pid from before a reboot, a pid reused by another program, the old one-field format).
    `make clean-cluster` leaves those processes alone and the host as before."""
    unrelated = [subprocess.Popen(["sleep", "600"]) for _ in range(2)]
    log = RESULTS / "interrupted-up.log"
    log.write_text("")
    expiring = {**env, "HOST_SKIP_BUILD": "1", "HOST_CERT_MIN_DAYS": "400"}
    try:
        etcd = up_until_etcd_then_ctrl_c(env, log)
        print("interrupted up.sh; left running: etcd", etcd, "state:", sorted(os.listdir(STATE / "pids")))
        refused = sh(["make", "--no-print-directory", "cluster"], expiring, 300, check=False)
        ours = [line for line in refused.stderr.splitlines() if line.startswith("host provider:")]
        assert refused.returncode != 0 and len(ours) == 1 and "etcd is running" in ours[0], refused.stderr

        old = {"ca": cert("ca.crt", "-fingerprint"), "sa": (STATE / "pki" / "sa.pub").read_text()}
        os.kill(etcd, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while alive(etcd):
            assert time.monotonic() < deadline, "etcd did not stop on SIGTERM"
            time.sleep(0.2)
        up_until_etcd_then_ctrl_c(expiring, log)
        assert "renewing every certificate" in log.read_text(), log.read_text()[-2000:]
        assert cert("ca.crt", "-fingerprint") != old["ca"], "the CA was not renewed"
        assert (STATE / "pki" / "sa.pub").read_text() == old["sa"], "the service account key changed"

        a, b = unrelated
        b_start = Path(f"/proc/{b.pid}/stat").read_text().rsplit(") ", 1)[1].split()[19]
        stale = {"kubelet": f"{a.pid} 1 {K8S_BIN / 'kubelet'}",            # from before a reboot
                 "kube-proxy": f"{b.pid} {b_start} {K8S_BIN / 'kube-proxy'}",  # pid reused
                 "kube-scheduler": f"{a.pid}"}                                # old format
        for name, line in stale.items():
            assert our_daemon(name) is None and not (STATE / "pids" / f"{name}.pid").exists(), name
            (STATE / "pids" / f"{name}.pid").write_text(line + "\n")
        timed("clean after interrupted up", ["make", "--no-print-directory", "clean-cluster"], env, 600)
        assert [p.poll() for p in unrelated] == [None, None], "clean-cluster killed an unrelated process"
        diff = snapshot_diff(cluster, host_snapshot())
        (RESULTS / "interrupted-up-diff.json").write_text(json.dumps(diff, indent=2) + "\n")
        assert diff == {}
    finally:
        for p in unrelated:
            p.kill()
            p.wait()
