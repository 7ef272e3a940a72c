"""kind, for real: `make test-k8s PROVIDER=kind` (root, Linux; minutes, not seconds).

Three kind nodes (one control plane, two workers) on this machine with no registry: the project's
own scripts start a private Docker Engine, build kind, make the node image from the Kubernetes
build the host provider caches and load the ray101 images with `kind load image-archive`
(k8s/kind/, `KIND_NODE_IMAGE=local`). Then the make targets a kind user runs: `make cluster`,
`make operator`, `make deploy` (the stock Ray image: the CLI uploads the jobs), `make compare-k8s`,
`make dashboard`, `make image` and `make deploy` again with the baked image (a `helm upgrade` that
replaces the Ray pods), `make undeploy`, `make clean-cluster`. Between them: the pods of k8s-multi
on two nodes, seen in the pods' placement and in Ray's node IPs in the results, and the chart's
NetworkPolicies enforced by a real engine (kube-network-policies, k8s/policy/): pods without the
chart's labels, in its namespace or another, are refused by MongoDB and the Ray pods, while the Ray
pods reach each other across nodes and MongoDB; and the chart's secrets kept (test_chart_secrets.py).
The chart goes in with the autoscaling cluster (`--set clusters.auto.enabled=true`): k8s-auto
grows from no worker to two for a job and shrinks again when idle, and a workload goes in as a
KubeRay RayJob beside the Jobs API (kuberay_native.py, shared with the host tier). The stages
share one cluster; the module fixture tears it down even when a stage fails, and the last test
checks that the host is as before.

Wall time of each stage goes to results/k8s/kind-timings.json, pod placement to
results/k8s/kind-placement.json, Ray's node IPs of k8s-multi to results/k8s/kind-node-ips.json,
the policy checks to results/k8s/kind-policy.json, the scale-up and the RayJob to
results/k8s/kind-autoscaling.json and kind-rayjob.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

if os.environ.get("RAY101_TEST_K8S") != "1" or os.environ.get("PROVIDER") != "kind":
    pytest.skip("the kind tier: `make test-k8s PROVIDER=kind` (root, minutes)", allow_module_level=True)

import k8s_common  # noqa: E402  (the chart-secrets stage, shared with the host tier)
import kuberay_native  # noqa: E402  (issue 19's stages, shared with the host tier)
import test_real_cluster as host_tier  # noqa: E402  (its helpers and two of its stages, as they are)

REPO = host_tier.REPO
RESULTS = host_tier.RESULTS
CACHE = host_tier.CACHE
KIND_STATE = Path(os.environ.get("RAY101_KIND_STATE") or "/var/lib/ray101-kind")
CLUSTER = os.environ.get("KIND_CLUSTER_NAME", "ray101")
NAMESPACE = "ray101"
TIMINGS: dict[str, float] = {}
COLD = not (CACHE / "kubernetes-v1.34.4" / "bin" / "kubeadm").exists()
STATE: dict[str, object] = {}  # what one stage leaves for a later one
sh = host_tier.sh


def timed(stage: str, cmd: list[str], env: dict, timeout: float,
          stream: bool = False) -> subprocess.CompletedProcess | None:
    """A stage, timed; `stream` shows a long build's progress lines as they come."""
    start = time.monotonic()
    try:
        if stream:
            host_tier.streamed(cmd, env, timeout)
            return None
        return sh(cmd, env, timeout)
    finally:
        TIMINGS[stage] = round(time.monotonic() - start, 1)
        write("kind-timings.json", {"cache": "cold" if COLD else "warm", "seconds": TIMINGS})


def write(name: str, data: object) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / name).write_text(json.dumps(data, indent=2) + "\n")


def kubectl_json(env: dict, *args: str) -> dict:
    return json.loads(sh(["kubectl", *args, "-o", "json"], env, 120, echo=False).stdout)


def host_snapshot() -> dict[str, set[str]]:
    """The host provider's snapshot (mounts, links, nftables, iptables chains, sysctls), plus what
    a Docker Engine and kind could leave: their processes, cgroups and state dir."""
    snap = host_tier.host_snapshot()
    ours = (str(KIND_STATE), "dockerd", "docker-proxy", "containerd", "kube-", "etcd", "kind",
            "local-path-provisioner", "ray101-cni", "kube-network-policies", "raylet", "gcs_server")
    procs = set()
    for p in Path("/proc").glob("[0-9]*"):
        try:
            cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if any(o in cmd for o in ours) and "pytest" not in cmd:
            procs.add(cmd[:200])
    snap["processes"] = {p for p in procs if not host_tier.OTHER_CHECKOUTS.search(p)}
    snap["cgroups"] = {str(d) for d in Path("/sys/fs/cgroup").glob("*/docker")}
    snap["dirs"] = {str(KIND_STATE)} if KIND_STATE.exists() else set()
    return snap


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """Environment of every command: our own kubeconfig and ray101 home, tools on PATH."""
    home = tmp_path_factory.mktemp("kind")
    e = dict(os.environ)
    tools = Path(e.get("RAY101_TOOLS") or REPO / ".tools")
    e.update(PROVIDER="kind", KIND_NODE_IMAGE="local", KUBECONFIG=str(home / "kubeconfig"),
             RAY101_HOME=str(home / "ray101"), KIND_CLUSTER_NAME=CLUSTER,
             PATH=f"{tools / 'bin'}:{REPO / '.venv' / 'bin'}:{e['PATH']}",
             # `make deploy` adds the autoscaling cluster (k8s-auto); make reads HELM_ARGS here
             HELM_ARGS="--set clusters.auto.enabled=true")
    e.pop("DOCKER_HOST", None)
    return e


@pytest.fixture(scope="module", autouse=True)
def cluster(env):
    """The host as it was before; tear the cluster down after the last stage, whatever happened."""
    sh(["k8s/host/packages.sh"], env, 900)  # iptables-save and nft for the snapshot
    before = host_snapshot()
    yield before
    if KIND_STATE.exists():
        timed("teardown", ["make", "--no-print-directory", "clean-cluster"], env, 600)


def test_build(env):
    timed("build", ["k8s/host/build.sh", "--images"], env, 3600, stream=True)
    timed("build kind", ["k8s/kind/build.sh"], env, 1800, stream=True)


def test_node_image(env):
    sh(["k8s/kind/docker.sh", "start"], env, 300)
    timed("node image", ["k8s/kind/node-image.sh"], env, 1800)


def test_cluster_up(env):
    timed("cluster up", ["make", "--no-print-directory", "cluster"], env, 1800)
    nodes = kubectl_json(env, "get", "nodes")["items"]
    roles = sorted("control-plane" if "node-role.kubernetes.io/control-plane" in n["metadata"]["labels"]
                   else "worker" for n in nodes)
    assert roles == ["control-plane", "worker", "worker"], roles
    for n in nodes:
        ready = {c["type"]: c["status"] for c in n["status"]["conditions"]}
        assert ready["Ready"] == "True", n["metadata"]["name"]
        assert n["spec"]["podCIDR"].startswith("10.245."), n["spec"]  # not the host provider's
    # storage and DNS as kind gives them: a default StorageClass, CoreDNS running
    classes = kubectl_json(env, "get", "storageclass")["items"]
    assert any(c["metadata"].get("annotations", {}).get("storageclass.kubernetes.io/is-default-class")
               == "true" for c in classes), classes


def test_operator(env):
    timed("operator", ["make", "--no-print-directory", "operator"], env, 900)


def ray_pods(env) -> list[dict]:
    pods = kubectl_json(env, "-n", NAMESPACE, "get", "pods", "-l", "ray101.io/cluster")["items"]
    return [p for p in pods if p["metadata"].get("deletionTimestamp") is None]


def test_deploy_stock_image(env):
    timed("deploy", ["make", "--no-print-directory", "deploy"], env, 1800)
    out = sh(["ray101", "clusters", "--json"], env, 120).stdout
    clusters = {c["name"]: c for c in json.loads(out)}
    for name, workers in (("k8s-single", 0), ("k8s-multi", 2)):
        row = clusters[name]
        assert row["state"] == "ready", row
        assert (row["available_workers"] or 0) == (row["desired_workers"] or 0) == workers, row
    pods = ray_pods(env)
    images = {c["image"] for p in pods for c in p["spec"]["containers"]}
    assert images == {"localhost/ray101/ray:2.60.0-stock"}, images  # no ray101_jobs inside
    placement = {p["metadata"]["name"]: {"node": p["spec"]["nodeName"], "ip": p["status"]["podIP"],
                                         "cluster": p["metadata"]["labels"]["ray101.io/cluster"]}
                 for p in pods}
    write("kind-placement.json", placement)
    print(json.dumps(placement, indent=2))
    multi_nodes = {v["node"] for v in placement.values() if v["cluster"] == "multi"}
    assert len(multi_nodes) >= 2, placement
    STATE["placement"] = placement
    STATE["stock_pods"] = {p["metadata"]["uid"] for p in pods}


def test_helm_test(env):
    """`helm test`: per RayCluster a pod sends one job through the head's Jobs API with the token
    from the Secret, here across the nodes and through the NetworkPolicies."""
    try:
        timed("helm test", ["helm", "test", "ray101", "-n", NAMESPACE, "--timeout", "10m"], env, 900)
    except AssertionError:
        sh(["kubectl", "-n", NAMESPACE, "logs", "-l", "app.kubernetes.io/component=helm-test",
            "--prefix", "--tail", "40"], env, 60, check=False)
        raise


def exec_tcp(env, namespace: str, pod: str, host: str, port: int) -> bool:
    """Whether `pod` opens a TCP connection to host:port within 5 s (bash's /dev/tcp)."""
    cmd = ["kubectl", "-n", namespace, "exec", pod, "--", "timeout", "5", "bash", "-c",
           f"exec 3<>/dev/tcp/{host}/{port}"]
    return sh(cmd, env, 60, check=False).returncode == 0


def test_network_policies_enforced(env):
    """The chart's NetworkPolicies, enforced by the engine up.sh installs, with real traffic: the
    same module as the host tier (tests/k8s/test_network_policy.py: a labelled pod reaches MongoDB
    and the Ray head, an unlabelled one in the namespace or another reaches neither, CoreDNS
    answers both, the engine logs its drops, the kubelet's probes keep passing). Then what only
    several nodes show: a Ray head reaches MongoDB and a worker on another node through the
    policies."""
    timed("network policies", [sys.executable, "-m", "pytest", "tests/k8s/test_network_policy.py",
                               "-p", "no:cacheprovider", "-o", "addopts=", "-q", "-rA"],
          {**env, "RAY101_TEST_K8S": "1"}, 900, stream=True)
    pods = kubectl_json(env, "-n", NAMESPACE, "get", "pods")["items"]
    mongo = next(p for p in pods if p["metadata"]["labels"].get("app.kubernetes.io/component") == "mongodb")
    head = next(p for p in pods if p["metadata"]["labels"].get("ray.io/node-type") == "head"
                and p["metadata"]["labels"].get("ray101.io/cluster") == "multi")
    worker = next(p for p in pods if p["metadata"]["labels"].get("ray.io/node-type") == "worker"
                  and p["metadata"]["labels"].get("ray101.io/cluster") == "multi"
                  and p["spec"]["nodeName"] != head["spec"]["nodeName"])
    head_name = head["metadata"]["name"]
    checks = {
        "Ray head -> MongoDB 27017": exec_tcp(env, NAMESPACE, head_name, mongo["status"]["podIP"], 27017),
        # Ray's metrics port (KubeRay starts every Ray node with --metrics-export-port=8080)
        "Ray head -> worker on another node 8080": exec_tcp(
            env, NAMESPACE, head_name, worker["status"]["podIP"], 8080),
    }
    write("kind-policy.json", {"connections": checks})
    assert checks == dict.fromkeys(checks, True), checks


def test_chart_keeps_its_secrets(env):
    """tests/k8s/test_chart_secrets.py against this cluster (k8s_common.chart_secrets_stage, as on
    the host tier), with the value files kind's `make deploy` passes: the host provider's and
    kind's own."""
    k8s_common.chart_secrets_stage(timed, "chart secrets", env, "k8s/host/values.yaml k8s/kind/values.yaml")


def test_compare_stock_image(env):
    """Every workload on both clusters with the jobs uploaded by the CLI, and Ray's own node IPs
    in the results: k8s-multi's work ran on pods of two nodes."""
    timed("compare", ["make", "--no-print-directory", "compare-k8s"], env, 3600)
    report = json.loads((RESULTS / "compare.json").read_text())
    text = json.dumps(report)
    assert '"consistent": false' not in text and '"consistent": true' in text
    placement = STATE.get("placement") or {}
    node_of_ip = {v["ip"]: v["node"] for v in placement.values()}
    used = set()

    def walk(obj, cluster=None):
        if isinstance(obj, dict):
            cluster = obj.get("cluster", cluster)
            if cluster == "k8s-multi" and isinstance(obj.get("node_ips"), list):
                used.update(obj["node_ips"])
            for v in obj.values():
                walk(v, cluster)
        elif isinstance(obj, list):
            for v in obj:
                walk(v, cluster)

    walk(report)
    nodes = {node_of_ip.get(ip) for ip in used}
    write("kind-node-ips.json", {"k8s-multi node_ips": sorted(used), "nodes": sorted(map(str, nodes))})
    assert len(used) >= 2 and len(nodes - {None}) >= 2, (used, node_of_ip)


def test_chaos_kill_node_during_parallel_retrieve(env):
    host_tier.test_chaos_kill_node_during_parallel_retrieve(env)


def test_dashboard_through_make_dashboard(env):
    host_tier.test_dashboard_through_make_dashboard(env)


def test_autoscaling_cluster_grows_and_shrinks(env):
    """k8s-auto: no worker while idle; KubeRay's autoscaler adds workers for a job that keeps the
    head's CPUs busy, the job's tasks run on them, and they go away after the idle timeout."""
    start = time.monotonic()
    kuberay_native.autoscaling_stage(env, RESULTS, prefix="kind-")
    TIMINGS["autoscaling"] = round(time.monotonic() - start, 1)
    write("kind-timings.json", {"cache": "cold" if COLD else "warm", "seconds": TIMINGS})


def test_rayjob_beside_the_jobs_api(env):
    """One workload as a KubeRay RayJob (clusterSelector, HTTPMode) and through the Jobs API: the
    same output, the job in the dashboard under its name, the RayJob deleted afterwards."""
    start = time.monotonic()
    kuberay_native.rayjob_stage(env, RESULTS, prefix="kind-")
    TIMINGS["rayjob"] = round(time.monotonic() - start, 1)
    write("kind-timings.json", {"cache": "cold" if COLD else "warm", "seconds": TIMINGS})


def test_rayjob_with_its_own_cluster(env):
    """`--via rayjob-cluster`: a RayJob that brings up a copy of k8s-single (on kind's stock image
    ray101 submits to the new head itself: InteractiveMode), the Jobs API's output, and neither
    the RayJob nor its RayCluster left behind."""
    start = time.monotonic()
    kuberay_native.rayjob_cluster_stage(env, RESULTS, prefix="kind-")
    TIMINGS["rayjob-cluster"] = round(time.monotonic() - start, 1)
    write("kind-timings.json", {"cache": "cold" if COLD else "warm", "seconds": TIMINGS})


def test_upgrade_to_baked_image(env):
    """`make image` loads the baked image; `make deploy` with it is a helm upgrade that replaces
    every Ray pod (upgradeStrategy Recreate), and the jobs keep working without uploads. (Its
    HELM_ARGS no longer add k8s-auto, but k8s/host/values.yaml, which kind with
    KIND_NODE_IMAGE=local passes too, keeps it: its head is replaced as well.)"""
    start = time.monotonic()
    out = sh(["make", "--no-print-directory", "image"], env, 1800).stdout
    assert "image.jobsBaked=true" in out
    sh(["make", "--no-print-directory", "deploy",
        "HELM_ARGS=--set image.tag=2.60.0 --set image.jobsBaked=true"], env, 1800)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:  # KubeRay recreates the pods; wait for the new ones
        pods = ray_pods(env)
        images = {c["image"] for p in pods for c in p["spec"]["containers"]}
        ready = all(c.get("ready") for p in pods for c in p["status"].get("containerStatuses", [{}]))
        # one head per RayCluster plus its workers (k8s-auto's are gone by now: idle)
        expected = sum(1 + sum(g.get("replicas") or 0 for g in rc["spec"].get("workerGroupSpecs", []))
                       for rc in kubectl_json(env, "-n", NAMESPACE, "get", "rayclusters")["items"])
        if images == {"localhost/ray101/ray:2.60.0"} and len(pods) == expected and ready:
            break
        time.sleep(5)
    else:
        pytest.fail(f"Ray pods not replaced by the baked image: {images}, {len(pods)} of {expected} pods")
    assert not {p["metadata"]["uid"] for p in pods} & STATE.get("stock_pods", set())
    run = sh(["ray101", "run", "parallel-retrieve", "--cluster", "k8s-multi", "--json", "--quiet"],
             env, 900)
    assert "SUCCEEDED" in run.stdout
    TIMINGS["upgrade"] = round(time.monotonic() - start, 1)
    write("kind-timings.json", {"cache": "cold" if COLD else "warm", "seconds": TIMINGS})


def test_undeploy(env):
    timed("undeploy", ["make", "--no-print-directory", "undeploy"], env, 600)
    left = sh(["kubectl", "-n", NAMESPACE, "get", "rayclusters,statefulsets,pvc", "-o", "name"],
              env, 60).stdout.split()
    assert left == []


def test_teardown_leaves_nothing(env, cluster):
    timed("teardown", ["make", "--no-print-directory", "clean-cluster"], env, 600)
    diff = host_tier.snapshot_diff(cluster, host_snapshot())
    write("kind-teardown-diff.json", diff)
    assert diff == {}
