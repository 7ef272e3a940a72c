"""helm/ray101 secure defaults: Pod Security "restricted", limits, ClusterIP only, NetworkPolicies,
Secrets that survive upgrades (an upgrade that cannot read them fails), no unauthenticated head
exposed outside the cluster, label/selector hygiene, and Kubernetes schema validity."""

import base64

import pytest

from chartlib import (
    CHART,
    NAMESPACE,
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


def admits(policy: dict, labels: dict, port: int, namespace: str = NAMESPACE,
           namespace_labels: dict | None = None) -> bool:
    """Does this ingress NetworkPolicy let a pod with ``labels`` in ``namespace`` (whose own
    labels are ``namespace_labels``, kubernetes.io/metadata.name added) open TCP ``port``?"""
    ns_labels = {"kubernetes.io/metadata.name": namespace, **(namespace_labels or {})}
    for rule in policy["spec"].get("ingress", []):
        ports = rule.get("ports")
        if ports and not any(p.get("protocol", "TCP") == "TCP" and p["port"] == port for p in ports):
            continue
        for peer in rule.get("from", []):
            assert "ipBlock" not in peer, peer
            if "namespaceSelector" in peer:
                in_namespace = selector_matches(peer["namespaceSelector"], ns_labels)
            else:
                in_namespace = namespace == policy["metadata"]["namespace"]
            if in_namespace and selector_matches(peer.get("podSelector", {}), labels):
                return True
    return False


def operator_pod_labels() -> dict:
    """The pod labels of the KubeRay operator as `make operator` installs it (KubeRay's own
    config/manager/manager.yaml at the pinned version)."""
    import yaml

    from chartlib import crds_dir

    manager = crds_dir().parents[1] / "manager" / "manager.yaml"
    deployment = next(d for d in yaml.safe_load_all(manager.read_text()) if d and d["kind"] == "Deployment")
    return deployment["spec"]["template"]["metadata"]["labels"]


RAY_HEAD_PORTS = (6379, 8265, 10001, 8000, 8080)


def test_should_let_only_the_releases_ray_pods_reach_ray_pods_on_every_port_when_defaults():
    m = render()
    policy = m.one("NetworkPolicy", f"{RELEASE}-ray")
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    ray_pods = [(where, t["metadata"]["labels"]) for rc in m.of_kind("RayCluster") for where, t in pod_templates(rc)]
    assert len(ray_pods) == 3
    for where, labels in ray_pods:
        assert selector_matches(policy["spec"]["podSelector"], labels), where
        for port in RAY_HEAD_PORTS + (45678,):  # Ray's node-to-node ports are dynamic
            assert admits(policy, labels, port), f"{where} port {port}"
    mongo_pod = m.one("StatefulSet", f"{RELEASE}-mongodb")["spec"]["template"]["metadata"]["labels"]
    assert not selector_matches(policy["spec"]["podSelector"], mongo_pod)
    strangers = {
        "a plain pod": {"app": "anything"},
        "MongoDB's pod": mongo_pod,
        "another release's Ray pod": {"app.kubernetes.io/part-of": "ray101", "app.kubernetes.io/instance": "other",
                                      "ray101.io/cluster": "multi"},
        "a pod of the release that is not a Ray pod": {"app.kubernetes.io/part-of": "ray101",
                                                        "app.kubernetes.io/instance": RELEASE},
    }
    for what, labels in strangers.items():
        for port in RAY_HEAD_PORTS:
            assert not admits(policy, labels, port), f"{what} admitted on {port}"
    # a Ray pod's labels in another namespace are not this release's pods
    assert not admits(policy, ray_pods[0][1], 6379, namespace="elsewhere")


def test_should_let_helm_test_pods_reach_only_the_dashboard_port_when_defaults():
    m = render()
    policy = m.one("NetworkPolicy", f"{RELEASE}-ray")
    tests = [p for p in m.of_kind("Pod") if p["metadata"]["annotations"].get("helm.sh/hook") == "test"]
    assert tests
    for pod in tests:
        labels = pod["metadata"]["labels"]
        assert admits(policy, labels, 8265), pod["metadata"]["name"]
        for port in (6379, 10001, 8000, 8080):
            assert not admits(policy, labels, port), (pod["metadata"]["name"], port)
    # the label alone, from another release or namespace, does not do
    assert not admits(policy, {"ray101.io/jobs-client": "true", "app.kubernetes.io/instance": "other"}, 8265)
    assert not admits(policy, tests[0]["metadata"]["labels"], 8265, namespace="elsewhere")


def test_should_follow_the_dashboard_port_when_headPorts_dashboard_is_set():
    policy = render(None, "clusterDefaults.headPorts.dashboard=18265").one("NetworkPolicy", f"{RELEASE}-ray")
    client = {"ray101.io/jobs-client": "true", "app.kubernetes.io/instance": RELEASE}
    assert admits(policy, client, 18265) and not admits(policy, client, 8265)


def test_should_let_the_kuberay_operator_reach_the_dashboard_port_when_defaults():
    policy = render().one("NetworkPolicy", f"{RELEASE}-ray")
    operator = operator_pod_labels()
    assert admits(policy, operator, 8265)
    assert not admits(policy, operator, 6379)
    assert not admits(policy, operator, 8265, namespace="kuberay-system")  # not installed there


def test_should_find_the_operator_in_its_namespace_when_kuberayOperator_namespace_is_set():
    m = render(None, "networkPolicy.kuberayOperator.namespace=kuberay-system")
    policy = m.one("NetworkPolicy", f"{RELEASE}-ray")
    operator = operator_pod_labels()
    assert admits(policy, operator, 8265, namespace="kuberay-system")
    assert not admits(policy, operator, 8265)  # not the release's namespace any more
    assert not admits(policy, {"app": "x"}, 8265, namespace="kuberay-system")


def test_should_render_no_networkpolicies_when_networkPolicy_is_disabled():
    assert not render(None, "networkPolicy.enabled=false").of_kind("NetworkPolicy")


def upgrade_render(*sets: str):
    """`helm template --is-upgrade`: an upgrade rendered without a cluster, where every lookup
    finds nothing (what a client-side `helm upgrade --dry-run` does too)."""
    from chartlib import run_helm, template_args

    args = template_args(None, sets)
    return run_helm(*args, "--is-upgrade")


@pytest.mark.parametrize(
    "sets, secret, key",
    [
        ((), f"{RELEASE}-ray-auth", "auth_token"),
        (("auth.existingSecret=lab-ray-token",), f"{RELEASE}-mongodb", "mongodb-root-password"),
    ],
)
def test_should_refuse_an_upgrade_that_cannot_read_its_secret_when_sets_are(sets, secret, key):
    proc = upgrade_render(*sets)
    assert proc.returncode != 0
    [line] = [x for x in proc.stderr.splitlines() if x.strip() and not x.startswith("Use --debug")]
    assert f"helm upgrade: Secret {NAMESPACE}/{secret} was not found" in line, line
    assert f"a new random {key} would not match the one in use" in line
    assert "--dry-run=server" in line


def test_should_tell_how_to_recover_the_mongodb_password_when_an_upgrade_cannot_read_it():
    proc = upgrade_render("auth.existingSecret=lab-ray-token")
    assert "restore the Secret (the data volume expects its passwords)" in proc.stderr
    assert "make undeploy" in proc.stderr


def test_should_upgrade_without_lookups_when_every_secret_is_existing():
    proc = upgrade_render("auth.existingSecret=lab-ray-token", "mongodb.auth.existingSecret=lab-mongodb")
    assert proc.returncode == 0, proc.stderr


def test_should_install_without_lookups_when_rendered_without_a_cluster():
    # the same render as an install (no --is-upgrade) makes new passwords: nothing to keep yet
    assert render().one("Secret", f"{RELEASE}-mongodb")


def test_should_refuse_auth_disabled_with_a_nodeport_head_when_serviceType_is_nodeport():
    from chartlib import render_fails

    err = render_fails(None, "auth.enabled=false", "clusterDefaults.head.serviceType=NodePort")
    [line] = [x for x in err.splitlines() if x.strip() and not x.startswith("Use --debug")]
    assert "auth.enabled=false with the Ray head of multi (NodePort), single (NodePort) exposed" in line


def test_should_refuse_auth_disabled_with_one_loadbalancer_head_when_a_cluster_overrides_it():
    from chartlib import render_fails

    err = render_fails(None, "auth.enabled=false", "clusters.single.head.serviceType=LoadBalancer")
    assert "the Ray head of single (LoadBalancer) exposed outside the cluster" in err
    assert "multi" not in err.split("exposed")[0]


@pytest.mark.parametrize(
    "sets",
    [
        ("auth.enabled=false",),  # ClusterIP heads: reached through port-forwards only
        ("auth.enabled=false", "clusterDefaults.head.serviceType=NodePort", "clusters.single.enabled=false",
         "clusters.multi.head.serviceType=ClusterIP"),
        ("clusterDefaults.head.serviceType=LoadBalancer",),  # token auth on
    ],
)
def test_should_accept_exposure_only_with_auth_when_sets_are(sets):
    assert render(None, *sets).of_kind("RayCluster")


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
    passwords = ("mongodb-root-password", "mongodb-reader-password", "mongodb-writer-password")
    for key in passwords:
        assert first[f"{RELEASE}-mongodb"][key] != second[f"{RELEASE}-mongodb"][key], key
    assert len({first[f"{RELEASE}-mongodb"][key] for key in passwords}) == 3  # three passwords
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
