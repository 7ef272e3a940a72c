"""helm/ray101 templates/raycluster.yaml: the RayClusters the CLI finds as k8s-<key>."""

import base64
import re

import pytest

from chartlib import (
    RELEASE,
    VALUES_FILES,
    chart_values,
    crd_errors,
    pod_templates,
    ray_version,
    render,
)

CLI_LABELS = ("app.kubernetes.io/part-of", "ray101.io/cluster")


def nodes(raycluster: dict) -> int:
    """Ray nodes the cluster runs: the head plus every worker replica."""
    workers = sum(g["replicas"] * g.get("numOfHosts", 1) for g in raycluster["spec"].get("workerGroupSpecs", []))
    return 1 + workers


def ray_containers(raycluster: dict) -> list[dict]:
    return [c for _, t in pod_templates(raycluster) for c in t["spec"]["containers"]]


def test_should_render_single_and_multi_rayclusters_when_defaults():
    clusters = render().rayclusters()
    assert sorted(clusters) == ["multi", "single"]
    assert nodes(clusters["single"]) == 1
    assert "workerGroupSpecs" not in clusters["single"]["spec"]
    assert nodes(clusters["multi"]) >= 3


def test_should_name_rayclusters_fullname_dash_key_when_defaults():
    for key, rc in render().rayclusters().items():
        assert rc["metadata"]["name"] == f"{RELEASE}-{key}"


def test_should_prefix_names_with_fullname_when_fullnameOverride_is_set():
    names = {rc["metadata"]["name"] for rc in render(None, "fullnameOverride=lab").of_kind("RayCluster")}
    assert names == {"lab-single", "lab-multi"}


@pytest.mark.parametrize("values", VALUES_FILES)
def test_should_carry_cli_labels_on_rayclusters_and_pods_when_values_file_is_used(values):
    for key, rc in render(values).rayclusters().items():
        assert rc["metadata"]["labels"]["app.kubernetes.io/part-of"] == "ray101"
        assert rc["metadata"]["labels"]["ray101.io/cluster"] == key
        for where, template in pod_templates(rc):
            labels = template["metadata"]["labels"]
            assert {k: labels.get(k) for k in CLI_LABELS} == {
                "app.kubernetes.io/part-of": "ray101",
                "ray101.io/cluster": key,
            }, where


def test_should_render_only_single_when_multi_is_disabled():
    clusters = render("single-only.yaml").rayclusters()
    assert list(clusters) == ["single"]


def test_should_add_a_cluster_when_a_new_key_is_set():
    clusters = render(None, "clusters.big.enabled=true", "clusters.big.workerReplicas=4").rayclusters()
    assert nodes(clusters["big"]) == 5
    assert clusters["big"]["metadata"]["name"] == f"{RELEASE}-big"


def test_should_give_every_node_two_logical_cpus_when_defaults():
    for rc in render().rayclusters().values():
        assert rc["spec"]["headGroupSpec"]["rayStartParams"]["num-cpus"] == "2"
        for group in rc["spec"].get("workerGroupSpecs", []):
            assert group["rayStartParams"]["num-cpus"] == "2"


def test_should_override_numCpus_per_cluster_when_cluster_head_is_set():
    clusters = render(None, "clusters.single.head.numCpus=8").rayclusters()
    assert clusters["single"]["spec"]["headGroupSpec"]["rayStartParams"]["num-cpus"] == "8"
    assert clusters["multi"]["spec"]["headGroupSpec"]["rayStartParams"]["num-cpus"] == "2"


def test_should_keep_worker_replicas_fixed_when_defaults():
    group = render().rayclusters()["multi"]["spec"]["workerGroupSpecs"][0]
    assert group["replicas"] == group["minReplicas"] == group["maxReplicas"] == 2
    assert render().rayclusters()["multi"]["spec"]["enableInTreeAutoscaling"] is False


def test_should_enable_token_auth_with_chart_secret_when_defaults():
    m = render()
    secret = m.one("Secret", f"{RELEASE}-ray-auth")
    token = base64.b64decode(secret["data"]["auth_token"]).decode()
    assert len(token) >= 32
    for rc in m.rayclusters().values():
        assert rc["spec"]["authOptions"] == {"mode": "token", "secretName": f"{RELEASE}-ray-auth"}


def test_should_point_auth_at_existing_secret_when_auth_existingSecret_is_set():
    m = render("existing-secrets.yaml")
    assert [s["metadata"]["name"] for s in m.of_kind("Secret")] == []
    for rc in m.rayclusters().values():
        assert rc["spec"]["authOptions"] == {"mode": "token", "secretName": "lab-ray-token"}


def test_should_drop_authOptions_when_auth_is_disabled():
    m = render(None, "auth.enabled=false")
    assert all("authOptions" not in rc["spec"] for rc in m.of_kind("RayCluster"))
    assert not [s for s in m.of_kind("Secret") if s["metadata"]["name"].endswith("ray-auth")]


def test_should_pin_rayVersion_to_cli_and_image_when_defaults():
    cli = ray_version()
    values = chart_values()
    assert values["rayVersion"] == cli
    assert re.match(r"^(\d+\.\d+\.\d+)", values["image"]["tag"]).group(1) == cli
    for rc in render().rayclusters().values():
        assert rc["spec"]["rayVersion"] == cli
        for c in ray_containers(rc):
            tag = c["image"].rsplit(":", 1)[1]
            assert tag.split("-")[0] == cli, c["image"]


def test_should_use_custom_image_when_image_is_set():
    for rc in render("custom-image.yaml").rayclusters().values():
        for where, template in pod_templates(rc):
            spec = template["spec"]
            assert spec["imagePullSecrets"] == [{"name": "registry-credentials"}], where
            for c in spec["containers"]:
                assert c["image"] == "registry.example.com/lab/ray101-ray:2.60.0-py311-aarch64"
                assert c["imagePullPolicy"] == "Always"


def test_should_expose_serve_and_dashboard_ports_on_head_when_defaults():
    for rc in render().rayclusters().values():
        head = rc["spec"]["headGroupSpec"]
        assert head["serviceType"] == "ClusterIP"
        ports = {p["name"]: p["containerPort"] for p in head["template"]["spec"]["containers"][0]["ports"]}
        assert ports["serve"] == 8000
        assert ports["dashboard"] == 8265
        assert ports["gcs-server"] == 6379


def test_should_pass_mongo_uri_from_secret_key_ref_when_defaults():
    for rc in render().rayclusters().values():
        for c in ray_containers(rc):
            env = {e["name"]: e for e in c["env"]}
            assert "value" not in env["RAY101_MONGO_URI"]
            assert env["RAY101_MONGO_URI"]["valueFrom"]["secretKeyRef"] == {
                "name": f"{RELEASE}-mongodb",
                "key": "mongodb-uri",
            }


def test_should_read_mongo_uri_from_existing_secret_when_mongodb_auth_existingSecret_is_set():
    for rc in render("existing-secrets.yaml").rayclusters().values():
        for c in ray_containers(rc):
            env = {e["name"]: e for e in c["env"]}
            assert env["RAY101_MONGO_URI"]["valueFrom"]["secretKeyRef"] == {"name": "lab-mongodb", "key": "uri"}


@pytest.mark.parametrize("values", VALUES_FILES)
def test_should_keep_secret_values_out_of_rayclusters_when_values_file_is_used(values):
    m = render(values)
    literals = [
        base64.b64decode(v).decode() for s in m.of_kind("Secret") for v in s.get("data", {}).values()
    ]
    secrets = [s for s in literals if len(s) >= 16]  # passwords, token, URI; not the user name
    text = repr(m.of_kind("RayCluster"))
    for literal in secrets:
        assert literal not in text
    assert "mongodb://" not in text


def test_should_spread_pods_of_a_cluster_over_nodes_when_defaults():
    for key, rc in render().rayclusters().items():
        for where, template in pod_templates(rc):
            terms = template["spec"]["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
            term = terms[0]["podAffinityTerm"]
            assert term["topologyKey"] == "kubernetes.io/hostname"
            assert term["labelSelector"]["matchLabels"]["ray101.io/cluster"] == key, where
            anti = template["spec"]["affinity"]["podAntiAffinity"]
            assert "requiredDuringSchedulingIgnoredDuringExecution" not in anti


@pytest.mark.parametrize("values", VALUES_FILES)
def test_should_match_the_kuberay_crd_strictly_when_values_file_is_used(values):
    rayclusters = render(values).of_kind("RayCluster")
    assert rayclusters
    for rc in rayclusters:
        assert crd_errors(rc) == [], rc["metadata"]["name"]


def test_should_reject_undeclared_fields_when_validating_against_the_crd():
    rc = render().rayclusters()["multi"]
    rc["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["imagePullPolice"] = "Always"
    rc["spec"]["authOptions"]["tokenKey"] = "x"
    errors = crd_errors(rc)
    assert any("imagePullPolice" in e for e in errors)
    assert any("tokenKey" in e for e in errors)


def test_should_annotate_jobs_not_in_image_when_defaults():
    for rc in render().rayclusters().values():
        assert rc["metadata"]["annotations"]["ray101.io/jobs-in-image"] == "false"


def test_should_annotate_jobs_in_image_when_image_jobsBaked_is_set():
    for rc in render(None, "image.jobsBaked=true").rayclusters().values():
        assert rc["metadata"]["annotations"]["ray101.io/jobs-in-image"] == "true"
