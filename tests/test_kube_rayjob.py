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
from ray101.kube import owncluster
from ray101.kube.owncluster import TTL_AFTER_FINISHED_S, own_cluster_spec, own_manifest
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
        fk.forward_heads_to(api, head.port)
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
    assert ("Invalid value for '--via': 'kubectl' is not one of 'jobs-api', 'rayjob', "
            "'rayjob-cluster'") in out
    result, out = invoke("compare", "--clusters", "k8s-multi", "--via", "jobs-api,kubectl")
    assert result.exit_code == 2
    assert "'kubectl' is not one of jobs-api, rayjob, rayjob-cluster" in out


@pytest.mark.parametrize("via, command", [
    ("rayjob", ("run", "parallel-retrieve", "--cluster", "http://127.0.0.1:9", "--via", "rayjob")),
    ("rayjob", ("compare", "--clusters", "http://127.0.0.1:9", "--via", "jobs-api,rayjob")),
    ("rayjob-cluster", ("run", "parallel-retrieve", "--cluster", "http://127.0.0.1:9",
                        "--via", "rayjob-cluster")),
    ("rayjob-cluster", ("compare", "--clusters", "http://127.0.0.1:9",
                        "--via", "jobs-api,rayjob-cluster")),
])
def test_rayjob_on_a_cluster_that_is_not_kuberay_is_a_usage_error(via, command, tmp_path,
                                                                  monkeypatch):
    monkeypatch.setenv("RAY101_HOME", str(tmp_path))
    result, out = invoke(*command)
    assert result.exit_code == 2
    [error] = [line for line in out.splitlines() if line.startswith("Error:")]
    assert error == (f"Error: --via {via} needs a KubeRay cluster (k8s-*); http://127.0.0.1:9 is "
                     "a url cluster: use --via jobs-api")
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


# -- --via rayjob-cluster: a RayJob with a RayCluster of its own ----------------------------------
def autoscaling_raycluster() -> dict:
    """The chart's multi RayCluster made autoscaling, as clusters.auto renders it."""
    rc = fk.raycluster("auto", 2)
    rc["spec"]["enableInTreeAutoscaling"] = True
    rc["spec"]["autoscalerOptions"] = {"idleTimeoutSeconds": 30, "upscalingMode": "Default"}
    for group in rc["spec"]["workerGroupSpecs"]:
        group["replicas"], group["minReplicas"], group["maxReplicas"] = 0, 0, 2
    return rc


def test_own_cluster_spec_is_the_running_clusters_without_autoscaling():
    rc = autoscaling_raycluster()
    before = json.dumps(rc, sort_keys=True)
    spec = own_cluster_spec(rc)
    assert json.dumps(rc, sort_keys=True) == before  # a copy: the fixture is untouched
    assert spec["enableInTreeAutoscaling"] is False and "autoscalerOptions" not in spec
    assert [(g["replicas"], g["minReplicas"]) for g in spec["workerGroupSpecs"]] == [(0, 0)]
    # everything else is the running cluster's: image, resources, security, auth, pod labels
    assert spec["headGroupSpec"] == rc["spec"]["headGroupSpec"]
    assert spec["authOptions"] == {"mode": "token", "secretName": "ray101-ray-auth"}
    assert rc["spec"]["upgradeStrategy"] and "upgradeStrategy" not in spec  # KubeRay refuses it
    multi = fk.raycluster("multi", 2)
    del multi["spec"]["upgradeStrategy"]
    assert own_cluster_spec(multi) == multi["spec"]  # nothing else to strip from a fixed-size one


def test_own_cluster_rayjob_shuts_its_cluster_down_and_carries_no_secret():
    spec = own_cluster_spec(fk.raycluster("single", 0))
    body = own_manifest("ray101-actor-counter-0123456789", "ray101", "single",
                        "python -m ray101_jobs.actor_counter", "ray101-job-1", {"repeat": 1},
                        None, spec, False, 360)
    job = body["spec"]
    assert "clusterSelector" not in job and job["rayClusterSpec"] == spec
    assert job["submissionMode"] == "HTTPMode" and job["jobId"] == "ray101-job-1"
    assert job["shutdownAfterJobFinishes"] is True
    assert 0 < job["ttlSecondsAfterFinished"] == TTL_AFTER_FINISHED_S <= 120
    assert job["preRunningDeadlineSeconds"] == 360
    # packages to upload to the new head: ray101 submits itself and sets spec.jobId after
    interactive = own_manifest("n", "ray101", "single", "e", "ray101-job-1", {}, None, spec,
                               True, 360)["spec"]
    assert interactive["submissionMode"] == "InteractiveMode" and "jobId" not in interactive


def kuberay_made_cluster(api: fk.FakeKubeAPI, rayjob: dict, name: str, head_pod: dict) -> None:
    """What KubeRay does for a RayJob with rayClusterSpec: a RayCluster labelled with the
    RayJob's name, and its head pod."""
    rc = fk.raycluster("single", 0)
    rc["metadata"]["name"] = name
    rc["metadata"]["labels"] = {"ray.io/originated-from-cr-name": rayjob["metadata"]["name"]}
    rc["spec"] = rayjob["spec"]["rayClusterSpec"]
    api.add(rc)
    api.add(head_pod)


def own_cluster_operator(status: dict, head_ready: bool = True, collect: bool = True):
    """An on_request hook playing KubeRay for a RayJob with its own cluster: makes the cluster
    at the RayJob's first read, gives the RayJob ``status``, and, like Kubernetes' garbage
    collector, deletes the cluster and its pods once the RayJob is gone (unless not ``collect``)."""
    seen: dict = {}

    def hook(api, method, path):
        for key, obj in api.rayjobs.items():
            if key not in seen:
                seen[key] = json.loads(json.dumps(obj))
                pod = fk.pod("ray101-own-abcde-head-x1", "ray101-own-abcde", "head",
                             ready=head_ready, unschedulable=None if head_ready else
                             "0/1 nodes are available: 1 Insufficient cpu.")
                kuberay_made_cluster(api, obj, "ray101-own-abcde", pod)
            obj["status"] = json.loads(json.dumps(status))
        if collect and not api.rayjobs:
            api.rayclusters.pop(("ray101", "ray101-own-abcde"), None)
            api.pods.pop(("ray101", "ray101-own-abcde-head-x1"), None)
    return hook, seen


def test_own_cluster_rayjob_copies_the_named_cluster_and_is_deleted_with_it(fake):
    starting = {"jobDeploymentStatus": "Initializing", "jobStatus": "",
                "rayClusterName": "ray101-own-abcde", "startTime": "2026-01-01T00:00:00Z",
                "rayClusterStatus": fk.starting_status(0)}
    fake.on_request, seen = own_cluster_operator(starting, head_ready=False)
    result, out = invoke("run", "actor-counter", "--cluster", "k8s-single", "--via",
                         "rayjob-cluster", "--timeout", "2", "--json")
    assert result.exit_code == 1
    [entry] = json.loads(out[: out.rindex("]") + 1])
    assert entry["via"] == "rayjob-cluster" and entry["status"] == "STOPPED"
    assert "deadline of 2 s reached; the job was stopped" in entry["message"]
    [obj] = seen.values()
    text = json.dumps(obj)
    assert TOKEN not in text and "RAY_AUTH_TOKEN" not in text and "auth_token" not in text
    running = fake.rayclusters[("ray101", "ray101-single")]
    assert obj["spec"]["rayClusterSpec"] == own_cluster_spec(running)
    head = obj["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]
    assert head["metadata"]["labels"]["app.kubernetes.io/part-of"] == "ray101"  # NetworkPolicy
    assert "ray101.io/cluster" in head["metadata"]["labels"]
    assert obj["spec"]["shutdownAfterJobFinishes"] is True
    assert obj["spec"]["submissionMode"] == "HTTPMode"  # the jobs are in the image here
    own = entry["own_cluster"]
    assert own["raycluster"] == "ray101-own-abcde" and own["cluster_ready_s"] is None
    assert "Pending: 0/1 nodes are available: 1 Insufficient cpu." in own["head_pending"]
    assert own["cluster_gone_s"] is not None  # waited until the cluster was gone
    assert fake.rayjobs == {} and ("ray101", "ray101-own-abcde") not in fake.rayclusters


def test_own_cluster_is_reached_for_the_result_and_its_start_is_timed(fake):
    running = {"jobDeploymentStatus": "Complete", "jobStatus": "SUCCEEDED",
               "rayClusterName": "ray101-own-abcde", "startTime": "2026-01-01T00:00:00Z",
               "rayClusterStatus": {"state": "ready",
                                    "stateTransitionTimes": {"ready": "2026-01-01T00:00:41Z"}}}
    fake.on_request, _seen = own_cluster_operator(running)
    head = FakeRayHead()
    fake.forward_to[("ray101", "ray101-own-abcde-head-x1")] = {8265: head.port}
    try:
        result, out = invoke("run", "actor-counter", "--cluster", "k8s-single", "--via",
                             "rayjob-cluster", "--json")
    finally:
        head.stop()
    [entry] = json.loads(out[: out.rindex("]") + 1])
    own = entry["own_cluster"]
    assert own["cluster_ready_kuberay_s"] == 41.0
    assert own["cluster_ready_s"] is not None and own["job_running_s"] is not None
    # the job's status and log came from the NEW cluster's head, through a port-forward to it
    assert any("/pods/ray101-own-abcde-head-x1/portforward" in p for _, p in fake.requests)
    assert head.auth_headers and all(h == f"Bearer {TOKEN}" for h in head.auth_headers)
    assert fake.rayjobs == {}


def test_own_cluster_left_behind_is_said_in_one_line(fake, monkeypatch):
    monkeypatch.setattr(owncluster, "GONE_WAIT_S", 0.5)
    failed = {"jobDeploymentStatus": "ValidationFailed", "reason": "ValidationFailed",
              "message": "The RayJob spec is invalid: something", "rayClusterName": "ray101-own-abcde"}
    fake.on_request, _seen = own_cluster_operator(failed, collect=False)
    result, out = invoke("run", "actor-counter", "--cluster", "k8s-single", "--via",
                         "rayjob-cluster")
    assert result.exit_code == 1
    assert "ValidationFailed: The RayJob spec is invalid: something" in out
    assert fake.rayjobs == {}  # the RayJob is deleted even so
    assert ("the RayCluster of RayJob ray101/ray101-actor-counter-") in out
    assert ("is still there 0.5 s after its RayJob was deleted: `kubectl -n ray101 get "
            "rayclusters -l ray.io/originated-from-cr-name=ray101-actor-counter-") in out
    assert "Traceback" not in out


def test_own_cluster_rayjob_is_deleted_on_ctrl_c(fake, monkeypatch):
    starting = {"jobDeploymentStatus": "Initializing", "rayClusterName": "ray101-own-abcde"}
    fake.on_request, seen = own_cluster_operator(starting)

    def interrupt(self, job_id, rayjob):
        raise KeyboardInterrupt

    monkeypatch.setattr(owncluster.OwnClusterSubmitter, "seen", interrupt)
    result, out = invoke("run", "actor-counter", "--cluster", "k8s-single", "--via",
                         "rayjob-cluster")
    assert result.exit_code == 130
    assert seen and fake.rayjobs == {}
    assert ("ray101", "ray101-own-abcde") not in fake.rayclusters
