"""helm/ray101: the autoscaling RayCluster (`clusters.auto`, `k8s-auto`) with KubeRay's in-tree
autoscaler, rendered by the real helm and checked against the KubeRay v1.6.0 CRD."""

import pytest

from chartlib import (
    chart_values,
    crd_errors,
    pod_templates,
    quantity,
    render,
    render_fails,
    restricted_violations,
)

AUTO = "clusters.auto.enabled=true"


def auto() -> dict:
    return render(None, AUTO).rayclusters()["auto"]


def test_should_leave_the_autoscaling_cluster_out_when_defaults():
    # values.yaml: it does not fit the 4-CPU / 8-GiB budget of the defaults.
    assert "auto" not in render().rayclusters()
    assert chart_values()["clusters"]["auto"]["enabled"] is False


def test_should_run_kuberays_autoscaler_from_zero_to_the_multi_size_when_enabled():
    rc = auto()
    spec = rc["spec"]
    assert spec["enableInTreeAutoscaling"] is True
    options = spec["autoscalerOptions"]
    assert options["version"] == "v1"
    assert options["upscalingMode"] == "Default"
    assert 30 <= options["idleTimeoutSeconds"] <= 60
    [group] = spec["workerGroupSpecs"]
    multi = render(None, AUTO).rayclusters()["multi"]["spec"]["workerGroupSpecs"][0]
    assert group["minReplicas"] == 0
    assert group["maxReplicas"] == multi["replicas"] == 2
    # the autoscaler owns `replicas`: a `helm upgrade` must not set it back
    assert "replicas" not in group
    # at full size the same CPUs as k8s-multi
    assert group["rayStartParams"]["num-cpus"] == multi["rayStartParams"]["num-cpus"]
    assert (spec["headGroupSpec"]["rayStartParams"]["num-cpus"]
            == render(None, AUTO).rayclusters()["multi"]["spec"]["headGroupSpec"]["rayStartParams"]["num-cpus"])
    assert rc["metadata"]["labels"]["ray101.io/cluster"] == "auto"


def test_should_keep_fixed_clusters_without_autoscaler_when_auto_is_enabled():
    for key in ("single", "multi"):
        spec = render(None, AUTO).rayclusters()[key]["spec"]
        assert spec["enableInTreeAutoscaling"] is False
        assert "autoscalerOptions" not in spec


def test_should_match_the_kuberay_crd_strictly_when_auto_is_enabled():
    assert crd_errors(auto()) == []


def test_should_make_the_autoscaler_container_restricted_when_enabled():
    """KubeRay builds the sidecar from autoscalerOptions (securityContext, resources); the namespace
    enforces Pod Security "restricted", so the container must pass on its own."""
    options = auto()["spec"]["autoscalerOptions"]
    sidecar = {"name": "autoscaler", "securityContext": options["securityContext"],
               "resources": options["resources"], "volumeMounts": options["volumeMounts"]}
    assert restricted_violations({"containers": [sidecar]}, container_only=True) == []
    r = options["resources"]
    for res in ("cpu", "memory"):
        assert quantity(r["requests"][res]) == quantity(r["limits"][res]), res


def test_should_give_the_api_token_to_the_autoscaler_only_when_enabled():
    rc = auto()
    for where, template in pod_templates(rc):
        spec = template["spec"]
        assert spec["automountServiceAccountToken"] is False, where
        for c in spec["containers"]:
            mounts = {m["name"] for m in c.get("volumeMounts", [])}
            assert "kube-api-access" not in mounts, f"{where} {c['name']}"
        assert restricted_violations(spec) == [], where
    head = rc["spec"]["headGroupSpec"]["template"]["spec"]
    [volume] = [v for v in head["volumes"] if v["name"] == "kube-api-access"]
    sources = [next(iter(s)) for s in volume["projected"]["sources"]]
    assert sources == ["serviceAccountToken", "configMap", "downwardAPI"]
    [mount] = rc["spec"]["autoscalerOptions"]["volumeMounts"]
    assert mount == {"name": "kube-api-access", "readOnly": True,
                     "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}
    workers = rc["spec"]["workerGroupSpecs"][0]["template"]["spec"]
    assert "kube-api-access" not in {v["name"] for v in workers["volumes"]}


def test_should_add_what_the_budget_comment_says_when_enabled():
    # values.yaml: head and autoscaler 700m / 2048Mi idle; workers 1000m / 2048Mi busy.
    spec = auto()["spec"]
    head = spec["headGroupSpec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    sidecar = spec["autoscalerOptions"]["resources"]["limits"]
    assert quantity(head["cpu"]) + quantity(sidecar["cpu"]) == pytest.approx(0.7)
    assert quantity(head["memory"]) + quantity(sidecar["memory"]) == 2048 * 2**20
    group = spec["workerGroupSpecs"][0]
    worker = group["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert group["maxReplicas"] * quantity(worker["cpu"]) == pytest.approx(1.0)
    assert group["maxReplicas"] * quantity(worker["memory"]) == 2048 * 2**20


def test_should_autoscale_any_cluster_when_its_autoscaling_is_enabled():
    rc = render(None, "clusters.multi.autoscaling.enabled=true",
                "clusters.multi.autoscaling.maxReplicas=4",
                "clusters.multi.autoscaling.idleTimeoutSeconds=45").rayclusters()["multi"]
    group = rc["spec"]["workerGroupSpecs"][0]
    assert (group["minReplicas"], group["maxReplicas"]) == (2, 4)
    assert rc["spec"]["autoscalerOptions"]["idleTimeoutSeconds"] == 45


@pytest.mark.parametrize("settings, says", [
    ((AUTO, "clusters.auto.workerReplicas=3"),
     "clusters.auto.autoscaling.maxReplicas 2 is below clusters.auto.workerReplicas 3"),
    ((AUTO, "clusters.auto.autoscaling.maxReplicas=0"), "maxReplicas"),
    ((AUTO, "clusters.auto.autoscaling.idleTimeoutSeconds=soon"), "idleTimeoutSeconds"),
    ((AUTO, "clusterDefaults.autoscaler.upscalingMode=Eager"), "upscalingMode"),
    (("clusters.multi.autoscaling.enabled=true",), "maxReplicas"),
])
def test_should_refuse_an_autoscaler_that_cannot_work_when_set(settings, says):
    assert says in render_fails(None, *settings)
