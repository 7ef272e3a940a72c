"""`--via rayjob` (cli/ray101/kube/rayjob.py): its usage errors, and its error paths against the
FAKE Kubernetes API server (tests/fake_kube_api.py) and a FAKE Ray head (tests/fake_ray_head.py).

The fake API server keeps the RayJobs the CLI creates but has no operator: a test sets the
status KubeRay v1.6.0 would write (the shapes of `kubectl get rayjob -o yaml` on kind). The
RayJob that works end to end, on a real KubeRay, is tests/k8s/test_kind_cluster.py's
test_rayjob_beside_the_jobs_api.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import fake_kube_api as fk
from fake_ray_head import FakeRayHead
from ray101.kube.rayjob import MAX_NAME, manifest, rayjob_name
from ray101.main import cli

TOKEN = "tok-rayjob-7d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a"


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """What `make deploy` leaves (the image with the jobs baked in: nothing to upload), behind
    the fake API server (fk.deployed), whose head pods forward to a fake Ray head."""
    with fk.deployed(tmp_path, monkeypatch, TOKEN) as api:
        for rc in api.rayclusters.values():
            rc["metadata"]["annotations"]["ray101.io/jobs-in-image"] = "true"
        head = FakeRayHead()
        for (ns, name), pod in api.pods.items():
            if pod["metadata"]["labels"]["ray.io/node-type"] == "head":
                api.forward_to[(ns, name)] = {8265: head.port, 8000: head.port}
        yield api
        head.stop()


def invoke(*args: str):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result, result.output


def operator(status: dict):
    """An on_request hook that gives every RayJob ``status``, as the operator would."""
    def hook(api: fk.FakeKubeAPI, method: str, path: str) -> None:
        for obj in api.rayjobs.values():
            obj["status"] = json.loads(json.dumps(status))
    return hook


# -- usage errors: before anything runs ----------------------------------------------------------
def test_unknown_via_is_a_usage_error():
    result, out = invoke("run", "parallel-retrieve", "--cluster", "k8s-multi", "--via", "kubectl")
    assert result.exit_code == 2
    assert "Invalid value for '--via': 'kubectl' is not one of 'jobs-api', 'rayjob'" in out
    result, out = invoke("compare", "--clusters", "k8s-multi", "--via", "jobs-api,kubectl")
    assert result.exit_code == 2
    assert "'kubectl' is not one of jobs-api, rayjob" in out


@pytest.mark.parametrize("command", [
    ("run", "parallel-retrieve", "--cluster", "http://127.0.0.1:9", "--via", "rayjob"),
    ("compare", "--clusters", "http://127.0.0.1:9", "--via", "jobs-api,rayjob"),
])
def test_rayjob_on_a_cluster_that_is_not_kuberay_is_a_usage_error(command, tmp_path, monkeypatch):
    monkeypatch.setenv("RAY101_HOME", str(tmp_path))
    result, out = invoke(*command)
    assert result.exit_code == 2
    assert ("--via rayjob needs a KubeRay cluster (k8s-*); http://127.0.0.1:9 is a url cluster: "
            "use --via jobs-api") in out
    assert "Traceback" not in out


# -- the RayJob ray101 makes ---------------------------------------------------------------------
def test_rayjob_names_are_kuberay_names_and_one_per_job():
    names = {rayjob_name(w, f"ray101-{w}-k8s-multi-20261206-201500-ab12-{i}")
             for w in ("sequential-retrieve", "mongo-partitioned", "x" * 80) for i in range(3)}
    assert len(names) == 9
    for name in names:
        assert len(name) <= MAX_NAME and name[0].isalpha() and name[-1].isalnum(), name
        assert set(name) <= set("abcdefghijklmnopqrstuvwxyz0123456789-"), name


def test_rayjob_selects_the_running_cluster_and_carries_no_secret():
    body = manifest("ray101-parallel-retrieve-0123456789", "ray101", "ray101-multi", "multi",
                    "python -m ray101_jobs.parallel_retrieve --repeat 1", "ray101-job-1",
                    {"job_name": "parallel-retrieve on k8s-multi (multi-node)", "repeat": 1}, None)
    spec = body["spec"]
    assert spec["clusterSelector"] == {"ray.io/cluster": "ray101-multi"}
    assert spec["jobId"] == "ray101-job-1"
    assert spec["submissionMode"] == "HTTPMode"  # no submitter pod; the operator submits
    assert spec["metadata"] == {"job_name": "parallel-retrieve on k8s-multi (multi-node)",
                                "repeat": "1"}
    assert "runtimeEnvYAML" not in spec and "rayClusterSpec" not in spec


# -- error paths against the fake API server ---------------------------------------------------
def test_rayjob_without_the_crd_says_to_install_the_operator(fake):
    def drop_crd(api, method, path):
        if method == "POST":
            api.crd_installed = False

    fake.on_request = drop_crd
    result, out = invoke("run", "actor-counter", "--cluster", "k8s-multi", "--via", "rayjob")
    assert result.exit_code == 1
    assert ("KubeRay's RayJob CRD (ray.io/v1 rayjobs) is not installed in context fake-kind: "
            "run `make operator`") in out
    assert "Traceback" not in out


def test_rayjob_refused_by_rbac_is_one_line(fake):
    fake.forbid_rayjobs = True
    result, out = invoke("run", "actor-counter", "--cluster", "k8s-multi", "--via", "rayjob")
    assert result.exit_code == 1
    assert "refused to create RayJob ray101/ray101-actor-counter-" in out
    assert "(HTTP 403)" in out and "cannot create resource" in out
    assert TOKEN not in out


def test_rayjob_that_fails_validation_is_reported_and_deleted(fake):
    created = []

    def validation_failed(api, method, path):
        created.extend(k for k in api.rayjobs if k not in created)
        for obj in api.rayjobs.values():
            obj["status"] = {"jobDeploymentStatus": "ValidationFailed", "reason": "ValidationFailed",
                             # validateRayJobSpec's words (KubeRay v1.6.0)
                             "message": "cluster name in ClusterSelector should not be empty"}

    fake.on_request = validation_failed
    result, out = invoke("run", "actor-counter", "--cluster", "k8s-multi", "--via", "rayjob",
                         "--json")
    assert result.exit_code == 1
    [entry] = json.loads(out[: out.rindex("]") + 1])
    assert entry["status"] == "FAILED" and entry["via"] == "rayjob"
    assert "ValidationFailed: cluster name in ClusterSelector should not be empty" in entry["message"]
    assert created and fake.rayjobs == {}  # deleted after the end
    assert created[0][1].startswith("ray101-actor-counter-")


def test_rayjob_that_never_starts_is_stopped_at_its_deadline_and_deleted(fake):
    seen = {}

    def initializing(api, method, path):
        for key, obj in api.rayjobs.items():
            seen[key] = obj
            obj["status"] = {"jobDeploymentStatus": "Initializing", "jobStatus": "",
                             "rayClusterName": "ray101-multi"}

    fake.on_request = initializing
    result, out = invoke("run", "actor-counter", "--cluster", "k8s-multi", "--via", "rayjob",
                         "--timeout", "2")
    assert result.exit_code == 1
    assert "deadline of 2 s reached; the job was stopped" in out
    assert seen and fake.rayjobs == {}
    [obj] = seen.values()
    text = json.dumps(obj)
    assert TOKEN not in text and "RAY_AUTH_TOKEN" not in text
    assert obj["spec"]["clusterSelector"] == {"ray.io/cluster": "ray101-multi"}
    assert obj["metadata"]["annotations"]["ray101.io/job-id"] == obj["spec"]["jobId"]
    assert obj["spec"]["metadata"]["job_name"] == "actor-counter on k8s-multi (multi-node, repeat 1)"
