"""helm/ray101 secure defaults: Pod Security "restricted", limits, ClusterIP only, NetworkPolicies,
Secrets that survive upgrades, label/selector hygiene, and Kubernetes schema validity."""

import base64

import pytest

from chartlib import (
    CHART,
    RELEASE,
    VALUES_FILES,
    pod_templates,
    quantity,
    render,
    restricted_violations,
    selector_matches,
    validate_builtin,
)

WORKLOADS = ("StatefulSet", "RayCluster")


def all_pod_templates(m):
    return [pt for o in m if o["kind"] in WORKLOADS for pt in pod_templates(o)]


@pytest.mark.parametrize("values", VALUES_FILES)
def test_should_validate_builtin_kinds_strictly_when_values_file_is_used(values):
    objects = [o for o in render(values) if o["kind"] != "RayCluster"]
    assert objects
    for obj in objects:
        validate_builtin(obj)  # raises with the path of the first bad field


def test_should_reject_an_undeclared_field_when_validating_builtin_kinds():
    import kubernetes_validate

    sts = render().one("StatefulSet", f"{RELEASE}-mongodb")
    sts["spec"]["template"]["spec"]["containers"][0]["imagePullPolice"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_builtin(sts)


@pytest.mark.parametrize("values", VALUES_FILES)
def test_should_meet_restricted_pod_security_with_limits_when_values_file_is_used(values):
    templates = all_pod_templates(render(values))
    assert templates
    for where, template in templates:
        assert restricted_violations(template["spec"]) == [], where


def test_should_make_ray_container_security_context_restricted_on_its_own_when_defaults():
    # KubeRay copies the Ray container's securityContext (not the pod's) into the wait-gcs-ready
    # init container it injects, so the container-level one must pass by itself.
    for rc in render().of_kind("RayCluster"):
        for where, template in pod_templates(rc):
            assert restricted_violations(template["spec"], container_only=True) == [], where


def test_should_run_ray_as_the_image_ray_user_when_defaults():
    for rc in render().of_kind("RayCluster"):
        for where, template in pod_templates(rc):
            assert template["spec"]["securityContext"]["runAsUser"] == 1000, where
            assert template["spec"]["automountServiceAccountToken"] is False, where


@pytest.mark.parametrize("values", VALUES_FILES)
def test_should_request_exactly_the_limits_when_values_file_is_used(values):
    for where, template in all_pod_templates(render(values)):
        for c in template["spec"]["containers"]:
            r = c["resources"]
            for res in ("cpu", "memory"):
                assert quantity(r["requests"][res]) == quantity(r["limits"][res]), f"{where} {res}"


def test_should_fit_the_documented_laptop_budget_when_defaults():
    # values.yaml and docs/kubernetes.md: 2250m CPU and 5632Mi for the chart's pods.
    cpu = memory = 0.0
    for where, template in all_pod_templates(render()):
        replicas = 1
        for rc in render().of_kind("RayCluster"):
            for group in rc["spec"].get("workerGroupSpecs", []):
                if where == f"RayCluster/{rc['metadata']['name']}/{group['groupName']}":
                    replicas = group["replicas"]
        for c in template["spec"]["containers"]:
            cpu += replicas * quantity(c["resources"]["limits"]["cpu"])
            memory += replicas * quantity(c["resources"]["limits"]["memory"])
    assert cpu == pytest.approx(2.25)
    assert memory == 5632 * 2**20


@pytest.mark.parametrize("values", VALUES_FILES)
def test_should_expose_nothing_outside_the_cluster_when_values_file_is_used(values):
    m = render(values)
    for svc in m.of_kind("Service"):
        assert svc["spec"].get("type", "ClusterIP") == "ClusterIP", svc["metadata"]["name"]
    for rc in m.of_kind("RayCluster"):
        assert rc["spec"]["headGroupSpec"]["serviceType"] == "ClusterIP"
    assert "NodePort" not in repr(list(m)) and "LoadBalancer" not in repr(list(m))


def test_should_allow_a_nodeport_head_only_when_serviceType_is_set():
    m = render(None, "clusterDefaults.head.serviceType=NodePort")
    assert {rc["spec"]["headGroupSpec"]["serviceType"] for rc in m.of_kind("RayCluster")} == {"NodePort"}


def test_should_let_only_our_ray_pods_reach_mongodb_when_defaults():
    m = render()
    policy = m.one("NetworkPolicy", f"{RELEASE}-mongodb")
    mongo_pod = m.one("StatefulSet", f"{RELEASE}-mongodb")["spec"]["template"]["metadata"]["labels"]
    assert selector_matches(policy["spec"]["podSelector"], mongo_pod)
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    (rule,) = policy["spec"]["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 27017}]
    (peer,) = rule["from"]
    assert set(peer) == {"podSelector"}  # no namespaceSelector, no ipBlock
    ray_pods = [t["metadata"]["labels"] for o in m.of_kind("RayCluster") for _, t in pod_templates(o)]
    assert ray_pods and all(selector_matches(peer["podSelector"], labels) for labels in ray_pods)
    assert not selector_matches(peer["podSelector"], mongo_pod)
    assert not selector_matches(peer["podSelector"], {"app.kubernetes.io/part-of": "ray101"})


def test_should_let_only_pods_of_the_namespace_reach_ray_pods_when_defaults():
    m = render()
    policy = m.one("NetworkPolicy", f"{RELEASE}-ray")
    for rc in m.of_kind("RayCluster"):
        for where, template in pod_templates(rc):
            assert selector_matches(policy["spec"]["podSelector"], template["metadata"]["labels"]), where
    mongo_pod = m.one("StatefulSet", f"{RELEASE}-mongodb")["spec"]["template"]["metadata"]["labels"]
    assert not selector_matches(policy["spec"]["podSelector"], mongo_pod)
    assert policy["spec"]["ingress"] == [{"from": [{"podSelector": {}}]}]


def test_should_render_no_networkpolicies_when_networkPolicy_is_disabled():
    assert not render(None, "networkPolicy.enabled=false").of_kind("NetworkPolicy")


def test_should_generate_secrets_through_lookup_when_templates_are_read():
    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    assert 'lookup "v1" "Secret"' in helpers
    for name in ("secret-ray-auth.yaml", "secret-mongodb.yaml"):
        assert 'include "ray101.stableRandom"' in (CHART / "templates" / name).read_text(), name


def test_should_generate_fresh_random_secrets_when_rendered_without_a_cluster():
    # helm template has no cluster to look up: each render draws new values, so nothing is a
    # fixed literal baked into the chart.
    import yaml

    from chartlib import run_helm, template_args

    def tokens():
        docs = yaml.safe_load_all(run_helm(*template_args()).stdout)
        return {d["metadata"]["name"]: d["data"] for d in docs if d and d["kind"] == "Secret"}

    first, second = tokens(), tokens()
    assert first[f"{RELEASE}-ray-auth"]["auth_token"] != second[f"{RELEASE}-ray-auth"]["auth_token"]
    assert first[f"{RELEASE}-mongodb"]["mongodb-root-password"] != second[f"{RELEASE}-mongodb"]["mongodb-root-password"]
    values = (CHART / "values.yaml").read_text()
    for data in first.values():
        for v in data.values():
            decoded = base64.b64decode(v).decode()
            if len(decoded) >= 16:
                assert decoded not in values


@pytest.mark.parametrize("values", VALUES_FILES)
def test_should_select_only_by_selector_labels_when_values_file_is_used(values):
    m = render(values)
    stable = {"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component"}
    pods = {}
    for sts in m.of_kind("StatefulSet"):
        match = sts["spec"]["selector"]["matchLabels"]
        assert set(match) <= stable, match
        pod_labels = sts["spec"]["template"]["metadata"]["labels"]
        assert selector_matches(sts["spec"]["selector"], pod_labels)
        for claim in sts["spec"].get("volumeClaimTemplates", []):
            assert set(claim["metadata"]["labels"]) <= stable
        pods[sts["metadata"]["name"]] = pod_labels
    for svc in m.of_kind("Service"):
        selector = svc["spec"]["selector"]
        assert set(selector) <= stable, selector
        assert any(selector_matches({"matchLabels": selector}, labels) for labels in pods.values())
    for obj in m:
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["helm.sh/chart"].startswith("ray101-")
