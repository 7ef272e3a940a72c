"""cli/ray101/kube/ (KubeRay clusters as targets) against a FAKE Kubernetes API server.

Every test here talks to tests/fake_kube_api.py, a small HTTP server on 127.0.0.1 serving canned
RayClusters, pods and Secrets, through the real `kubernetes` client and a real kubeconfig. No
Kubernetes is involved. The fake also speaks the websocket port-forward protocol
(v4.channel.k8s.io) and bridges a head pod's ports to a FAKE Ray head here (an HTTP server
answering /api/version, /api/jobs/ and /echo), so `connect()` and the CLI commands run through the
real `kubernetes.stream.portforward` code.
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import fake_kube_api as fk
from fake_ray_head import FakeRayHead
from ray101 import targets
from ray101.errors import Ray101Error
from ray101.kube import chaos as kube_chaos
from ray101.kube import discovery, readiness, token
from ray101.kube.client import client
from ray101.local import registered
from ray101.main import cli
from ray101.models import Target

TOKEN = "tok-4f1d2c9a8b7e6d5c4b3a29181716151413121110"


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """The fake API server with what `make deploy` leaves, a kubeconfig for it, a fresh home,
    and the readiness timeout at its default."""
    monkeypatch.delenv(readiness.READY_TIMEOUT_ENV, raising=False)
    with fk.deployed(tmp_path, monkeypatch, TOKEN) as api:
        yield api


@pytest.fixture
def ray_head(fake):
    """A fake Ray head that the fake API server's port-forward streams of every head pod reach."""
    head = FakeRayHead()
    fk.forward_heads_to(fake, head.port)
    yield head
    head.stop()


def forwarded(fake) -> list[str]:
    """Paths of the port-forward streams the CLI opened on the fake API server."""
    return [path for method, path in fake.requests if "/portforward" in path]


def invoke(*args: str):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result, result.output  # stdout and stderr, as a terminal shows them


# -- discovery ---------------------------------------------------------------------------------
def test_discovery_against_fake_api_server_lists_chart_rayclusters(fake):
    stray = fk.raycluster("other", 1)
    stray["metadata"]["labels"].pop("app.kubernetes.io/part-of")
    fake.add(stray)  # not the chart's: ignored
    found = {t.name: t for t in discovery.discover()}
    assert list(found) == ["k8s-multi", "k8s-single"]
    multi, single = found["k8s-multi"], found["k8s-single"]
    assert (multi.kind, multi.topology, multi.nodes, multi.cpus) == ("k8s", "multi", 3, 6.0)
    assert (single.topology, single.nodes, single.cpus) == ("single", 1, 2.0)
    assert multi.jobs_url is None and multi.auth == "token"
    assert multi.token_secret == "ray101/ray101-ray-auth" and multi.token_file is None
    assert multi.kube.state == "ready" and multi.kube.ready is True
    assert (multi.kube.desired_workers, multi.kube.available_workers,
            multi.kube.ready_workers) == (2, 2, 2)
    assert multi.kube.raycluster == "ray101-multi"
    assert ("GET", "/apis/ray.io/v1/namespaces/ray101/rayclusters"
            "?labelSelector=app.kubernetes.io/part-of%3Dray101") in fake.requests


def test_discovery_against_fake_api_server_reports_state_of_unready_clusters(fake):
    fake.add(fk.raycluster("big", 4, status=fk.starting_status(4)))
    fake.add(fk.raycluster("new", 1, ready=False))
    found = {t.name: t for t in discovery.discover()}
    assert found["k8s-big"].kube.ready is False
    assert (found["k8s-big"].kube.desired_workers, found["k8s-big"].kube.available_workers) == (4, 0)
    assert found["k8s-new"].kube.state == "(no status)"


def test_discovery_against_fake_api_server_counts_cpus_from_limits_without_num_cpus(fake):
    fake.add(fk.raycluster("auto", 2, cpus=None))  # 500m limits: Ray rounds up to 1 per pod
    assert discovery.find("k8s-auto").cpus == 3.0


def test_discovery_against_fake_api_server_uses_namespace_from_env_then_context(fake, tmp_path, monkeypatch):
    fake.add(fk.raycluster("labns", 0, namespace="lab"))
    assert "k8s-labns" not in {t.name for t in discovery.discover()}  # default namespace ray101
    monkeypatch.setenv("KUBECONFIG", str(fake.write_kubeconfig(tmp_path / "kc-ns", namespace="lab")))
    assert [t.name for t in discovery.discover()] == ["k8s-labns"]
    monkeypatch.setenv("RAY101_NAMESPACE", "ray101")
    assert [t.name for t in discovery.discover()] == ["k8s-multi", "k8s-single"]


def test_clusters_json_lists_local_and_k8s_clusters_from_fake_api_server(fake, tmp_path):
    token_file = tmp_path / "local-token"
    token_file.write_text("local-token-value\n")
    registered.add(Target(name="local-single", kind="local",
                        jobs_url="http://127.0.0.1:9", nodes=1, cpus=2,
                                    auth="token", token_file=str(token_file)))
    fake.add(fk.raycluster("big", 4, status=fk.starting_status(4)))
    result, output = invoke("clusters", "--json")
    assert result.exit_code == 0, output
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert list(rows) == ["local-single", "k8s-big", "k8s-multi", "k8s-single"]
    assert rows["k8s-multi"]["kind"] == "k8s" and rows["k8s-multi"]["state"] == "ready"
    assert rows["k8s-multi"]["answers"] is True and rows["k8s-big"]["answers"] is False
    assert rows["k8s-multi"]["token_secret"] == "ray101/ray101-ray-auth"
    assert rows["k8s-multi"]["token_file"] is None
    assert rows["k8s-multi"]["nodes"] == 3 and rows["k8s-multi"]["cpus"] == 6.0
    result, table = invoke("clusters")
    assert result.exit_code == 0 and "k8s-multi" in table
    assert TOKEN not in output + table


def test_clusters_json_without_kube_context_lists_no_k8s_clusters(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "nowhere"))
    result, output = invoke("clusters", "--json")
    assert result.exit_code == 0, output
    assert json.loads(result.stdout) == []


def test_clusters_json_without_kuberay_crd_on_fake_api_server_lists_no_k8s_clusters(fake):
    fake.crd_installed = False
    result, output = invoke("clusters", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout) == []


def test_clusters_json_with_unreachable_api_server_warns_on_stderr_only(fake):
    fake.stop()
    result = CliRunner().invoke(cli, ["clusters", "--json"], catch_exceptions=False)
    assert result.exit_code == 0
    assert json.loads(result.stdout) == []
    assert result.stderr.startswith("ray101: KubeRay clusters skipped: cannot reach the Kubernetes "
                                    f"API server at {fake.url} (context fake-kind)")


# -- errors ------------------------------------------------------------------------------------
def test_unknown_k8s_name_against_fake_api_server_lists_known_ones(fake):
    with pytest.raises(Ray101Error) as err:
        targets.resolve("k8s-nope")
    assert err.value.message == (
        "unknown cluster 'k8s-nope' (KubeRay clusters in namespace ray101 of context fake-kind: "
        "k8s-multi, k8s-single)"
    )


def test_no_kube_context_error_without_kubeconfig(fake, tmp_path, monkeypatch):
    missing = tmp_path / "no-such-kubeconfig"
    monkeypatch.setenv("KUBECONFIG", str(missing))
    result, output = invoke("jobs", "list", "--cluster", "k8s-multi")
    assert result.exit_code == 1
    assert output.strip() == (
        f"Error: no Kubernetes context: no kubeconfig at {missing}; run `make deploy` or set KUBECONFIG"
    )


def test_no_kube_context_error_when_kubeconfig_has_no_current_context(fake, tmp_path, monkeypatch):
    path = fake.write_kubeconfig(tmp_path / "kc")
    path.write_text(path.read_text().replace("current-context: fake-kind", ""))
    monkeypatch.setenv("KUBECONFIG", str(path))
    with pytest.raises(Ray101Error) as err:
        discovery.find("k8s-multi")
    assert err.value.message == (
        f"no Kubernetes context: the kubeconfig {path} has no current context; "
        "run `make deploy` or set KUBECONFIG"
    )


def test_unreachable_api_server_error(fake, tmp_path, monkeypatch):
    fake.stop()
    with pytest.raises(Ray101Error) as err:
        discovery.find("k8s-multi")
    assert err.value.message.startswith(f"cannot reach the Kubernetes API server at {fake.url}")


def test_no_crd_error_against_fake_api_server(fake):
    fake.crd_installed = False
    result, output = invoke("submit", "task-dependencies", "--cluster", "k8s-multi")
    assert result.exit_code == 1
    assert output.strip() == (
        "Error: KubeRay is not installed in context fake-kind (no ray.io/v1 RayCluster CRD): run "
        "`make operator`"
    )


def test_no_operator_error_when_raycluster_has_no_status_on_fake_api_server(fake, monkeypatch):
    fake.add(fk.raycluster("orphan", 1, ready=False))
    monkeypatch.setattr(readiness, "NO_STATUS_S", 0.1)
    with pytest.raises(Ray101Error) as err:
        readiness.wait_ready(client(), discovery.find("k8s-orphan"))
    message = err.value.message
    assert message.startswith("RayCluster ray101/ray101-orphan in context fake-kind has no status after ")
    assert "the KubeRay operator is not running or does not watch namespace ray101" in message
    assert "`make operator`" in message


def test_not_ready_error_after_timeout_against_fake_api_server(fake, monkeypatch):
    fake.add(fk.raycluster("slow", 1, status=fk.starting_status(1)))
    fake.add(fk.pod("ray101-slow-head-aaaaa", "ray101-slow", "head", ready=False))
    fake.add(fk.pod("ray101-slow-workers-worker-bbbbb", "ray101-slow", "worker", ready=False,
                    waiting="ImagePullBackOff"))
    monkeypatch.setenv(readiness.READY_TIMEOUT_ENV, "0.3")
    result, output = invoke("jobs", "list", "--cluster", "k8s-slow")
    assert result.exit_code == 1
    line = [ln for ln in output.splitlines() if ln.startswith("Error:")][0]
    assert line.startswith("Error: cluster k8s-slow (RayCluster ray101/ray101-slow in context "
                           "fake-kind) is not ready after ")
    assert "state not set, HeadPodReady=False (HeadPodNotFound)" in line
    assert "RayClusterProvisioned=False (RayClusterPodsProvisioning)" in line
    assert "0/1 workers ready" in line
    assert "pod ray101-slow-workers-worker-bbbbb: ImagePullBackOff (ImagePullBackOff for the test)" in line
    assert "RAY101_K8S_READY_TIMEOUT" in line


def test_bad_ready_timeout_env_is_an_error(fake, monkeypatch):
    monkeypatch.setenv(readiness.READY_TIMEOUT_ENV, "soon")
    with pytest.raises(Ray101Error, match="RAY101_K8S_READY_TIMEOUT must be a number"):
        readiness.ready_timeout()


@pytest.mark.parametrize("resource", ["cpu", "memory"])
def test_pending_pod_error_names_the_resource_against_fake_api_server(fake, monkeypatch, resource):
    monkeypatch.setattr(readiness, "UNSCHEDULABLE_GRACE_S", 0.05)
    fake.rayclusters[("ray101", "ray101-multi")]["status"] = fk.starting_status(2)
    worker = f"ray101-multi-workers-worker-{resource}x"
    fake.add(fk.pod(worker, "ray101-multi", "worker",
                    unschedulable=f"0/3 nodes are available: 3 Insufficient {resource}."))
    result, output = invoke("jobs", "list", "--cluster", "k8s-multi")
    assert result.exit_code == 1
    assert output.strip().splitlines()[-1] == (
        f"Error: pod {worker} is Pending: not enough {resource} on any node "
        f"(0/3 nodes are available: 3 Insufficient {resource}); lower clusters.multi.workerReplicas "
        f"or clusterDefaults.worker.resources.requests.{resource} in the chart values, or give the "
        f"nodes more {resource} (context fake-kind)"
    )


def test_pending_head_pod_error_names_head_resources():
    pod = fk.pod("ray101-single-head-zzz", "ray101-single", "head",
                 unschedulable="0/3 nodes are available: 1 Insufficient cpu, 3 Insufficient memory.")
    message = readiness.explain_unschedulable(pod, readiness.unschedulable(pod), "single")
    assert message == (
        "pod ray101-single-head-zzz is Pending: not enough cpu and memory on any node (0/3 nodes "
        "are available: 1 Insufficient cpu, 3 Insufficient memory); lower "
        "clusterDefaults.head.resources.requests.cpu or clusterDefaults.head.resources.requests.memory"
        " in the chart values, or give the nodes more cpu and memory"
    )


def test_suspended_cluster_is_an_error_against_fake_api_server(fake):
    rc = fk.raycluster("paused", 1, status={"state": "suspended"})
    rc["spec"]["suspend"] = True
    fake.add(rc)
    with pytest.raises(Ray101Error, match=r"cluster k8s-paused \(RayCluster ray101/ray101-paused "
                                          r"in context fake-kind\) is suspended"):
        readiness.wait_ready(client(), discovery.find("k8s-paused"))


# -- readiness ---------------------------------------------------------------------------------
def test_wait_ready_against_fake_api_server_returns_once_cluster_becomes_ready(fake):
    fake.rayclusters[("ray101", "ray101-multi")]["status"] = fk.starting_status(2)
    head = fake.pods[("ray101", "ray101-multi-head-x7k2p")]
    head["status"]["conditions"][1]["status"] = "False"
    polls = []

    def evolve(api, method, path):
        if path.endswith("/rayclusters/ray101-multi"):
            polls.append(time.monotonic())
            if len(polls) == 4:  # the operator catches up on the 4th poll
                api.rayclusters[("ray101", "ray101-multi")]["status"] = fk.ready_status(2)
                head["status"]["conditions"][1]["status"] = "True"

    fake.on_request = evolve
    target = discovery.find("k8s-multi")
    assert target.kube.ready is False
    reports = []
    pod = readiness.wait_ready(client(), target, timeout=10, on_progress=reports.append)
    assert pod["metadata"]["name"] == "ray101-multi-head-x7k2p"
    assert len(polls) == 4
    # Three looks at a cluster not ready yet, then one saying the wait is over.
    assert [r.finished for r in reports] == [False, False, False, True]
    assert {(r.cluster, r.pods, r.pods_ready) for r in reports} == {("k8s-multi", 3, 2)}
    assert "0/2 workers ready" in reports[0].status


# -- the token, the connection, the runtime_env ------------------------------------------------
def test_token_from_secret_on_fake_api_server_is_decoded(fake):
    assert token.read_token(client(), "ray101-ray-auth", "k8s-multi") == TOKEN


def test_token_errors_never_show_the_token(fake):
    fake.secrets[("ray101", "ray101-ray-auth")]["data"] = {"other": "eA=="}
    with pytest.raises(Ray101Error) as err:
        token.read_token(client(), "ray101-ray-auth", "k8s-multi")
    assert err.value.message == ("Secret ray101/ray101-ray-auth in context fake-kind has no key "
                                 "auth_token (KubeRay reads the token from it)")
    with pytest.raises(Ray101Error, match="no Secret ray101/gone"):
        token.read_token(client(), "gone", "k8s-multi")


def test_cli_commands_on_k8s_cluster_of_fake_api_server_send_the_token_and_never_print_it(fake, ray_head):
    outputs = []
    for args in (["jobs", "list", "--cluster", "k8s-multi", "--json"],
                 ["serve", "call", "--cluster", "k8s-multi", "--data", "Hello"],
                 ["clusters"], ["clusters", "--json"]):
        result, output = invoke(*args)
        assert result.exit_code == 0, output
        outputs.append(output)
    assert json.loads(outputs[0]) == []
    assert json.loads(outputs[1]) == {"echo": "Hello"}
    assert ray_head.auth_headers and set(ray_head.auth_headers[:2]) == {f"Bearer {TOKEN}"}
    streams = forwarded(fake)
    assert {p.split("?")[0] for p in streams} == {
        "/api/v1/namespaces/ray101/pods/ray101-multi-head-x7k2p/portforward"}
    assert {p.split("ports=")[1] for p in streams} == {"8265", "8000"}
    assert all(TOKEN not in o for o in outputs)


def test_dashboard_json_on_k8s_keeps_its_port_forward_until_ctrl_c(fake, ray_head):
    """The real CLI in a subprocess (it stays in the foreground): the URL it printed answers
    while it runs, on the fixed --port, and Ctrl-C closes it with exit 0."""
    import signal
    import subprocess
    import sys
    import urllib.request

    from test_faults_common import interruptible

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "ray101", "dashboard", "--cluster", "k8s-multi",
                             "--port", str(port), "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
                            preexec_fn=interruptible)  # Ctrl-C works even under `make test &`
    try:
        lines = []
        while not lines or lines[-1] != "}\n":  # print_json ends with a lone closing brace
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.poll() is not None else "stdout closed"
            lines.append(line)
        info = json.loads("".join(lines))
        assert info["port_forward"] is True and info["dashboard"] == f"http://127.0.0.1:{port}"
        assert info["token_secret"] == "ray101/ray101-ray-auth" and info["token_file"] is None
        assert info["token"] is None and "kubectl get secret -n ray101 ray101-ray-auth" in info["login"]
        with urllib.request.urlopen(f"{info['dashboard']}/api/version", timeout=10) as resp:
            assert json.loads(resp.read())["ray_version"] == "2.60.0"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
        err = proc.stderr.read()
        assert f"Port-forward open on http://127.0.0.1:{port}" in err and TOKEN not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)


def test_connect_to_fake_api_server_cluster_ships_jobs_package_unless_in_image(fake, ray_head, tmp_path):
    import pymongo

    target = targets.resolve("k8s-multi")
    with targets.connect(target) as conn:
        assert conn.via == "port-forward to pod ray101/ray101-multi-head-x7k2p in context fake-kind"
        assert conn.serve_url.endswith("/echo")
        env = conn.runtime_env
    modules = {Path(m).name: Path(m) for m in env["py_modules"]}
    assert set(modules) == {"ray101_jobs", "pymongo", "bson", "gridfs", "dns"}
    assert (modules["ray101_jobs"] / "registry.py").is_file()
    assert modules["pymongo"] == Path(pymongo.__file__).parent
    assert env["excludes"] == ["__pycache__", "*.pyc", "*.so"]
    assert "pip" not in env  # no install on the nodes, no package index needed from the pods
    assert TOKEN not in json.dumps(env)
    # What is shipped imports without compiled extensions and without site-packages.
    shipped = tmp_path / "shipped"
    for name, path in modules.items():
        shutil.copytree(path, shipped / name, ignore=shutil.ignore_patterns(*env["excludes"]))
    check = ("import bson, pymongo, ray101_jobs, sys; "
             "assert not any(m.endswith(('_cbson', '_cmessage')) for m in sys.modules); "
             "print(bson.decode(bson.encode({'n': 1}))['n'], pymongo.version)")
    out = subprocess.run([sys.executable, "-S", "-c", check], env={"PYTHONPATH": str(shipped)},
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", pymongo.version]

    fake.add(fk.raycluster("baked", 1, jobs_in_image=True))
    fake.add(fk.pod("ray101-baked-head-q", "ray101-baked", "head"))
    fake.add(fk.pod("ray101-baked-workers-worker-r", "ray101-baked", "worker"))
    baked = targets.resolve("k8s-baked")
    with targets.connect(baked) as conn:
        assert conn.runtime_env is None


def test_forward_closes_its_listeners_when_connect_exits(fake, ray_head):
    with targets.connect(targets.resolve("k8s-single")) as conn:
        port = int(conn.jobs_url.rsplit(":", 1)[1])
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    # Leaving the block closed the forward, which waits for its listener to close.
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2)


def test_refused_forward_on_fake_api_server_cluster_is_named_in_the_jobs_api_error(fake):
    # No fake Ray head behind the pod: its port answers "connection refused" on the error channel.
    result, output = invoke("jobs", "list", "--cluster", "k8s-multi")
    assert result.exit_code == 1
    line = output.strip().splitlines()[-1]
    assert line.startswith("Error: cannot reach the Jobs API at http://127.0.0.1:")
    assert ("the port-forward to pod ray101/ray101-multi-head-x7k2p in context fake-kind failed: "
            "error forwarding port "
            "8265 to pod ray101-multi-head-x7k2p: dial tcp4 127.0.0.1:8265: connect: connection "
            "refused") in line
    assert TOKEN not in output


def test_dropped_forward_on_fake_api_server_cluster_is_named_in_the_jobs_api_error(fake, ray_head):
    def head_pod_goes_away(api, method, path):
        if path.endswith("/portforward"):
            api.pods.pop(("ray101", "ray101-multi-head-x7k2p"), None)

    fake.on_request = head_pod_goes_away
    result, output = invoke("jobs", "list", "--cluster", "k8s-multi")
    assert result.exit_code == 1
    line = output.strip().splitlines()[-1]
    assert line.startswith("Error: cannot reach the Jobs API at http://127.0.0.1:")
    assert ("the port-forward to pod ray101/ray101-multi-head-x7k2p in context fake-kind failed: "
            "cannot open a stream to "
            "port 8265: Handshake status 404 Not Found") in line
    assert TOKEN not in output


# -- chaos ---------------------------------------------------------------------------------------
def test_kill_worker_on_fake_api_server_deletes_the_named_worker(fake):
    target = discovery.find("k8s-multi")
    assert kube_chaos.kill_worker(target, "ray101-multi-workers-worker-4q9tz") == "ray101-multi-workers-worker-4q9tz"
    assert ("DELETE", "/api/v1/namespaces/ray101/pods/ray101-multi-workers-worker-4q9tz") in fake.requests
    assert ("ray101", "ray101-multi-workers-worker-4q9tz") not in fake.pods


def test_kill_worker_on_fake_api_server_picks_a_worker_when_none_is_named(fake):
    killed = kube_chaos.kill_worker(discovery.find("k8s-multi"))
    assert killed in {"ray101-multi-workers-worker-4q9tz", "ray101-multi-workers-worker-v8wzc"}
    assert ("ray101", killed) not in fake.pods
    assert ("ray101", "ray101-multi-head-x7k2p") in fake.pods


def test_kill_worker_on_fake_api_server_refuses_the_head(fake):
    with pytest.raises(Ray101Error) as err:
        kube_chaos.kill_worker(discovery.find("k8s-multi"), "ray101-multi-head-x7k2p")
    assert err.value.message == (
        "pod ray101-multi-head-x7k2p is the head of RayCluster ray101/ray101-multi in context "
        "fake-kind: "
        "only worker pods can be killed"
    )
    assert not [r for r in fake.requests if r[0] == "DELETE"]


def test_kill_worker_on_fake_api_server_refuses_pods_of_other_clusters(fake):
    with pytest.raises(Ray101Error, match="pod ray101-single-head-9dlnm is not part of RayCluster "
                                         "ray101/ray101-multi in context fake-kind"):
        kube_chaos.kill_worker(discovery.find("k8s-multi"), "ray101-single-head-9dlnm")
    with pytest.raises(Ray101Error, match="RayCluster ray101/ray101-single in context fake-kind has "
                                         "no worker pod to kill"):
        kube_chaos.kill_worker(discovery.find("k8s-single"))
    assert not [r for r in fake.requests if r[0] == "DELETE"]


def test_fake_api_server_rayclusters_and_secret_are_the_charts_rendering():
    from chartlib import crd_errors, render

    rendered = render()
    assert fk.raycluster("multi", 2)["spec"] == rendered.rayclusters()["multi"]["spec"]
    assert fk.raycluster("single", 0)["spec"] == rendered.rayclusters()["single"]["spec"]
    for rc in (fk.raycluster("multi", 2), fk.raycluster("auto", 3, cpus=None),
               fk.raycluster("open", 0, auth_secret=None), fk.raycluster("x", 1, release="r2")):
        rc.pop("status", None)
        assert crd_errors(rc) == [], rc["metadata"]["name"]
    chart_secret = rendered.one("Secret", "ray101-ray-auth")
    fake_secret = fk.secret("ray101-ray-auth", "t" * 64)
    assert fake_secret["metadata"]["labels"] == chart_secret["metadata"]["labels"]
    assert base64.b64decode(fake_secret["data"]["auth_token"]) == b"t" * 64


# -- the kube context and the head's ports (issue 17) ------------------------------------------
def _two_contexts(fake, tmp_path) -> Path:
    """A kubeconfig whose current context (kind-ray101) points at a dead API server, and whose
    second context (host-ray101) at the fake one."""
    path = fake.write_kubeconfig(tmp_path / "kc-two", context="host-ray101")
    data = __import__("yaml").safe_load(path.read_text())
    data["clusters"].append({"name": "dead", "cluster": {"server": "http://127.0.0.1:9"}})
    data["contexts"].append({"name": "kind-ray101", "context": {"cluster": "dead", "user": "fake-user"}})
    data["current-context"] = "kind-ray101"
    path.write_text(__import__("yaml").safe_dump(data))
    return path


def test_context_option_and_env_pick_the_kube_context(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(_two_contexts(fake, tmp_path)))
    monkeypatch.delenv("RAY101_KUBE_CONTEXT", raising=False)
    result, output = invoke("jobs", "list", "--cluster", "k8s-multi")
    assert result.exit_code == 1
    assert "(context kind-ray101)" in output.strip().splitlines()[-1]  # the current one, dead
    result, output = invoke("clusters", "--json", "--context", "host-ray101")
    assert result.exit_code == 0, output
    assert {r["name"] for r in json.loads(result.stdout)} >= {"k8s-multi", "k8s-single"}
    monkeypatch.setenv("RAY101_KUBE_CONTEXT", "host-ray101")
    assert [t.name for t in discovery.discover()] == ["k8s-multi", "k8s-single"]
    assert client().context == "host-ray101"


def test_an_unknown_context_is_one_line_naming_the_known_ones(fake, tmp_path, monkeypatch):
    path = _two_contexts(fake, tmp_path)
    monkeypatch.setenv("KUBECONFIG", str(path))
    result, output = invoke("run", "task-dependencies", "--cluster", "k8s-multi", "--context", "nope")
    assert result.exit_code == 1
    assert output.strip() == (
        f"Error: no kube context nope in {path} (its contexts: host-ray101, kind-ray101); pick one "
        "with --context or RAY101_KUBE_CONTEXT")


def test_every_kubernetes_error_names_its_context(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(_two_contexts(fake, tmp_path)))
    fake.crd_installed = False
    result, output = invoke("submit", "task-dependencies", "--cluster", "k8s-multi",
                            "--context", "host-ray101")
    assert output.strip() == ("Error: KubeRay is not installed in context host-ray101 (no ray.io/v1 "
                              "RayCluster CRD): run `make operator`")
    result, output = invoke("chaos", "kill-node", "--cluster", "k8s-multi")  # the current: dead
    assert output.strip().startswith("Error: cannot reach the Kubernetes API server at "
                                     "http://127.0.0.1:9 (context kind-ray101)")


def test_the_cli_forwards_the_head_ports_the_chart_set(fake, ray_head):
    custom = fk.raycluster("ports", 0)
    for port in custom["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["ports"]:
        port["containerPort"] = {"dashboard": 18265, "serve": 18000}.get(port["name"],
                                                                          port["containerPort"])
    fake.add(custom)
    fake.add(fk.pod("ray101-ports-head-p0rt5", "ray101-ports", "head"))
    fake.forward_to[("ray101", "ray101-ports-head-p0rt5")] = {18265: ray_head.port,
                                                             18000: ray_head.port}
    target = discovery.find("k8s-ports")
    assert (target.kube.dashboard_port, target.kube.serve_port) == (18265, 18000)
    result, output = invoke("serve", "call", "--cluster", "k8s-ports", "--data", "hi", "--json")
    assert result.exit_code == 0, output
    streams = [p for p in forwarded(fake) if "ray101-ports-head" in p]
    assert streams and all("ports=18265" in p or "ports=18000" in p for p in streams), streams
    defaults = discovery.find("k8s-multi")
    assert (defaults.kube.dashboard_port, defaults.kube.serve_port) == (8265, 8000)
