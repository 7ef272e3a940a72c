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
    quantity,
    ray_version,
    render,
    render_fails,
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


# --- helm upgrade replaces the Ray pods (issue 17) ------------------------------------------------


def test_should_recreate_ray_pods_on_spec_change_when_defaults():
    """KubeRay 1.6 replaces running pods after a spec change (a new image on `helm upgrade`, as in
    the baked-image flow) only with upgradeStrategy Recreate; without it the old image keeps
    running while the CLI stops uploading the jobs."""
    for rc in render().rayclusters().values():
        assert rc["spec"]["upgradeStrategy"] == {"type": "Recreate"}
        assert crd_errors(rc) == []
    assert chart_values()["clusterDefaults"]["upgradeStrategy"] == "Recreate"


def test_should_change_the_spec_kuberay_hashes_when_the_image_changes():
    """KubeRay recreates on a change of the spec minus replicas (its GenerateHashWithoutReplicas…):
    the baked image must change the spec, not only the jobs-in-image annotation."""
    def hashed(rc: dict) -> dict:
        spec = dict(rc["spec"])
        spec.pop("upgradeStrategy")
        spec["workerGroupSpecs"] = [
            {k: v for k, v in g.items() if k not in ("replicas", "minReplicas", "maxReplicas")}
            for g in spec.get("workerGroupSpecs", [])
        ]
        return spec
    before = render().rayclusters()
    after = render(None, "image.repository=ray101-ray", "image.jobsBaked=true").rayclusters()
    for key in before:
        assert hashed(before[key]) != hashed(after[key]), key
    scaled = render(None, "clusters.multi.workerReplicas=3").rayclusters()
    assert hashed(scaled["multi"]) == hashed(before["multi"])  # scaling is not an upgrade


def test_should_keep_running_pods_for_one_cluster_when_its_upgradeStrategy_is_None():
    clusters = render(None, "clusters.single.upgradeStrategy=None").rayclusters()
    assert clusters["single"]["spec"]["upgradeStrategy"] == {"type": "None"}
    assert clusters["multi"]["spec"]["upgradeStrategy"] == {"type": "Recreate"}
    assert crd_errors(clusters["single"]) == []


@pytest.mark.parametrize("bad", ["clusterDefaults.upgradeStrategy=RollingUpdate",
                                 "clusters.multi.upgradeStrategy=recreate",
                                 "clusterDefaults.upgradeStrategy=null"])
def test_should_reject_an_unknown_upgradeStrategy_when_set(bad):
    error = render_fails(None, bad)
    assert "upgradeStrategy" in error, error


# --- rayStartParams: each key once (issue 17) -----------------------------------------------------


@pytest.mark.parametrize("where", ["clusterDefaults.head", "clusters.multi.head",
                                   "clusterDefaults.worker", "clusters.multi.worker"])
def test_should_refuse_num_cpus_in_rayStartParams_naming_numCpus_when_set(where):
    """A num-cpus entry used to render a second `num-cpus:` key beside the chart's own (YAML keeps
    one of them silently, the API server's strict validation refuses the object)."""
    error = render_fails(None, f"{where}.rayStartParams.num-cpus=4")
    lines = [line for line in error.splitlines() if line.strip() and "--debug" not in line]
    assert len(lines) == 1, error
    assert "rayStartParams.num-cpus" in lines[0]
    assert f"{where.split('.')[-1]}.numCpus" in lines[0], lines[0]


@pytest.mark.parametrize("param, value", [("port", "6380"), ("dashboard-port", "8266"),
                                          ("ray-client-server-port", "10002"),
                                          ("metrics-export-port", "8081")])
def test_should_refuse_head_port_params_naming_headPorts_when_set(param, value):
    error = render_fails(None, f"clusterDefaults.head.rayStartParams.{param}={value}")
    assert f"rayStartParams.{param} of the head" in error and "clusterDefaults.headPorts." in error, error


def test_should_render_each_ray_start_param_once_with_extra_params_when_set():
    m = render(None, "clusterDefaults.head.rayStartParams.min-worker-port=11000",
               "clusters.multi.worker.rayStartParams.max-worker-port=12000",
               "clusterDefaults.head.rayStartParams.dashboard-host=127.0.0.1")
    multi = m.rayclusters()["multi"]
    head = multi["spec"]["headGroupSpec"]["rayStartParams"]
    assert head["num-cpus"] == "2" and head["min-worker-port"] == "11000"
    assert head["dashboard-host"] == "127.0.0.1"  # the one chart default a user may override
    [workers] = multi["spec"]["workerGroupSpecs"]
    assert workers["rayStartParams"] == {"num-cpus": "2", "object-store-memory": str(256 * 2**20),
                                         "max-worker-port": "12000"}
    assert crd_errors(multi) == []


# --- head ports: container, Service (by KubeRay) and Ray agree (issue 17) -------------------------


def head_ports(rc: dict) -> dict[str, int]:
    [container] = rc["spec"]["headGroupSpec"]["template"]["spec"]["containers"]
    return {p["name"]: p["containerPort"] for p in container["ports"]}


def test_should_start_ray_on_the_head_ports_when_defaults():
    for rc in render().rayclusters().values():
        params = rc["spec"]["headGroupSpec"]["rayStartParams"]
        ports = head_ports(rc)
        assert params["port"] == str(ports["gcs-server"]) == "6379"
        assert params["dashboard-port"] == str(ports["dashboard"]) == "8265"
        assert params["ray-client-server-port"] == str(ports["client"])
        assert params["metrics-export-port"] == str(ports["metrics"])


def test_should_move_dashboard_and_serve_everywhere_when_headPorts_are_set():
    """The CLI finds the ports by name (`dashboard`, `serve`) on the head container / Service."""
    m = render(None, "clusterDefaults.headPorts.dashboard=18265", "clusterDefaults.headPorts.serve=18000",
               "clusterDefaults.headPorts.gcs-server=16379")
    for rc in m.rayclusters().values():
        ports = head_ports(rc)
        assert (ports["dashboard"], ports["serve"], ports["gcs-server"]) == (18265, 18000, 16379)
        params = rc["spec"]["headGroupSpec"]["rayStartParams"]
        assert (params["dashboard-port"], params["port"]) == ("18265", "16379")
        for c in ray_containers(rc):
            env = {e["name"]: e.get("value") for e in c["env"]}
            assert env["RAY101_SERVE_PORT"] == "18000", c["name"]
        assert crd_errors(rc) == []


def test_should_leave_optional_port_params_to_kuberay_when_their_headPorts_are_removed():
    rc = render(None, "clusterDefaults.headPorts.client=null",
                "clusterDefaults.headPorts.metrics=null").rayclusters()["single"]
    assert set(head_ports(rc)) == {"gcs-server", "dashboard", "serve"}
    params = rc["spec"]["headGroupSpec"]["rayStartParams"]
    assert "ray-client-server-port" not in params and "metrics-export-port" not in params


# --- the object store in memory: /dev/shm and object-store-memory (issue 19, item 4) ---------------


def groups(rc: dict) -> list[tuple[str, dict, dict]]:
    """(where, rayStartParams, pod spec) of the head and every worker group."""
    spec = rc["spec"]
    out = [("head", spec["headGroupSpec"]["rayStartParams"], spec["headGroupSpec"]["template"]["spec"])]
    for g in spec.get("workerGroupSpecs", []):
        out.append((g["groupName"], g["rayStartParams"], g["template"]["spec"]))
    return out


def shm_volume(pod_spec: dict) -> dict:
    """The volume the Ray container mounts at /dev/shm."""
    [container] = pod_spec["containers"]
    [mount] = [v for v in container.get("volumeMounts", []) if v["mountPath"] == "/dev/shm"]
    [volume] = [v for v in pod_spec["volumes"] if v["name"] == mount["name"]]
    return volume


@pytest.mark.parametrize("values", VALUES_FILES)
def test_should_mount_a_memory_backed_dev_shm_sized_for_the_object_store_when_values_file_is_used(values):
    """KubeRay would mount a /dev/shm as large as the memory limit; ours holds the object store
    plus 64Mi, and Ray is told the store's size, so it never falls back to /tmp (Ray does when
    /dev/shm is smaller than the store) and never grows past what was planned."""
    for rc in render(values).of_kind("RayCluster"):
        for where, params, pod in groups(rc):
            volume = shm_volume(pod)
            store = int(params["object-store-memory"])
            assert volume["emptyDir"]["medium"] == "Memory", where
            assert quantity(volume["emptyDir"]["sizeLimit"]) == store + 64 * 2**20, where
            assert "plasma-directory" not in params, where  # Ray picks /dev/shm by itself
            assert crd_errors(rc) == []


def test_should_fit_the_object_store_in_the_memory_limits_when_defaults():
    """The default stores, /dev/shm headroom included, take at most a third of each pod's memory
    (Ray's own default would be 30 % of it): the rest is for Ray's processes."""
    values = chart_values()["clusterDefaults"]
    for role in ("head", "worker"):
        assert values[role]["objectStoreMemory"] == "256Mi"
    for rc in render().of_kind("RayCluster"):
        for where, params, pod in groups(rc):
            [container] = pod["containers"]
            limit = quantity(container["resources"]["limits"]["memory"])
            shm = quantity(shm_volume(pod)["emptyDir"]["sizeLimit"])
            assert params["object-store-memory"] == str(256 * 2**20), where
            assert shm <= limit / 3, where


def test_should_size_the_object_store_per_cluster_when_objectStoreMemory_is_set():
    m = render(None, "clusters.multi.worker.objectStoreMemory=300Mi",
               "clusterDefaults.head.objectStoreMemory=0.5Gi")
    multi = m.rayclusters()["multi"]
    (_, head, head_pod), (_, workers, worker_pod) = groups(multi)
    assert head["object-store-memory"] == str(512 * 2**20)
    assert shm_volume(head_pod)["emptyDir"]["sizeLimit"] == "576Mi"
    assert workers["object-store-memory"] == str(300 * 2**20)
    assert shm_volume(worker_pod)["emptyDir"]["sizeLimit"] == "364Mi"
    single_head = m.rayclusters()["single"]["spec"]["headGroupSpec"]["rayStartParams"]
    assert single_head["object-store-memory"] == str(512 * 2**20)


@pytest.mark.parametrize("where", ["clusterDefaults.head", "clusters.multi.worker"])
def test_should_refuse_object_store_memory_in_rayStartParams_naming_objectStoreMemory_when_set(where):
    error = render_fails(None, f"{where}.rayStartParams.object-store-memory=100000000")
    assert "rayStartParams.object-store-memory" in error and "objectStoreMemory" in error, error


@pytest.mark.parametrize("setting, says", [
    ("clusterDefaults.head.objectStoreMemory=50Mi", "under Ray's minimum object store of 75Mi"),
    ("clusters.multi.worker.objectStoreMemory=600Mi", "half or more of the worker's memory limit 1Gi"),
    ("clusterDefaults.worker.objectStoreMemory=lots", "does not match pattern"),
])
def test_should_refuse_an_object_store_that_cannot_work_when_objectStoreMemory_is_set(setting, says):
    assert says in render_fails(None, setting)


@pytest.mark.parametrize("values", VALUES_FILES)
def test_should_prestart_one_worker_per_cpu_on_every_ray_node_when_values_file_is_used(values):
    """Raylets start workers of no job at node start (RAY_enable_worker_prestart), as the local
    clusters do: the first job's first tasks find them (issue 19, the cold start)."""
    for rc in render(values=values).rayclusters().values():
        for c in ray_containers(rc):
            env = {e["name"]: e.get("value") for e in c["env"]}
            assert env.get("RAY_enable_worker_prestart") == "1", c["name"]


@pytest.mark.parametrize("values", VALUES_FILES)
def test_should_preload_what_a_jobs_first_task_imports_on_every_ray_node_when_values_file_is_used(values):
    """Every worker imports the serializer's modules as it starts, the same list as the local
    clusters (ray101_jobs.warm.PRELOAD_MODULES): not inside a job's first repetition."""
    from ray101_jobs.warm import PRELOAD_MODULES

    for rc in render(values=values).rayclusters().values():
        for c in ray_containers(rc):
            env = {e["name"]: e.get("value") for e in c["env"]}
            assert env.get("RAY_preload_python_modules") == ",".join(PRELOAD_MODULES), c["name"]
