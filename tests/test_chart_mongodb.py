"""helm/ray101 MongoDB: statefulset.yaml, service.yaml, service-headless.yaml, secret-mongodb.yaml."""

import base64
import re

import pytest

from chartlib import CHART, NAMESPACE, RELEASE, pod_templates, render

NAME = f"{RELEASE}-mongodb"


def mongo_container(m) -> dict:
    return m.one("StatefulSet", NAME)["spec"]["template"]["spec"]["containers"][0]


def arg_after(container: dict, flag: str) -> str:
    args = container["args"]
    return args[args.index(flag) + 1]


def secret_data(secret: dict) -> dict:
    return {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}


def test_should_run_one_pinned_official_mongo_when_defaults():
    sts = render().one("StatefulSet", NAME)
    assert sts["spec"]["replicas"] == 1
    image = sts["spec"]["template"]["spec"]["containers"][0]["image"]
    assert re.fullmatch(r"mongo:8\.0\.\d+", image), image


def test_should_claim_a_volume_through_volumeClaimTemplates_when_defaults():
    sts = render().one("StatefulSet", NAME)
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    assert "storageClassName" not in claim["spec"]
    assert not [v for v in sts["spec"]["template"]["spec"]["volumes"] if v["name"] == "data"]
    mounts = {v["name"]: v["mountPath"] for v in mongo_container(render())["volumeMounts"]}
    assert mounts["data"] == "/data/db"


def test_should_set_size_and_storageClass_when_persistence_is_set():
    claim = render("custom-image.yaml").one("StatefulSet", NAME)["spec"]["volumeClaimTemplates"][0]
    assert claim["spec"]["storageClassName"] == "standard"
    assert claim["spec"]["resources"]["requests"]["storage"] == "5Gi"


def test_should_disable_dynamic_provisioning_when_storageClass_is_dash():
    statefulset = render(None, "mongodb.persistence.storageClass=-").one("StatefulSet", NAME)
    claim = statefulset["spec"]["volumeClaimTemplates"][0]
    assert claim["spec"]["storageClassName"] == ""


def test_should_use_an_emptyDir_when_persistence_is_off():
    sts = render("persistence-off.yaml").one("StatefulSet", NAME)
    assert "volumeClaimTemplates" not in sts["spec"]
    volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
    assert "emptyDir" in volumes["data"]


def test_should_govern_the_statefulset_with_a_headless_service_when_defaults():
    m = render()
    headless = m.one("Service", f"{NAME}-headless")
    assert headless["spec"]["clusterIP"] == "None"
    assert m.one("StatefulSet", NAME)["spec"]["serviceName"] == f"{NAME}-headless"
    client = m.one("Service", NAME)
    assert client["spec"]["type"] == "ClusterIP"
    assert "clusterIP" not in client["spec"]
    assert client["spec"]["ports"][0]["port"] == 27017


def test_should_probe_readiness_and_liveness_without_starting_a_shell_when_defaults():
    """No `mongosh` every 10 s under a 250m CPU limit: both probes are TCP checks."""
    c = mongo_container(render())
    assert "exec" not in c["readinessProbe"]
    assert c["readinessProbe"]["tcpSocket"]["port"] == "mongodb"
    assert c["livenessProbe"]["tcpSocket"]["port"] == "mongodb"


def test_should_run_ferretdb_with_scram_root_user_when_server_is_ferretdb():
    m = render(None, "mongodb.server=ferretdb", "mongodb.image.repository=localhost/ray101/ferretdb",
               "mongodb.image.tag=v1.24.2")
    c = mongo_container(m)
    assert c["image"] == "localhost/ray101/ferretdb:v1.24.2"
    assert "--handler=sqlite" in c["args"] and "--sqlite-url=file:/data/db/" in c["args"]
    assert "--test-enable-new-auth" in c["args"] and "--setup-database=admin" in c["args"]
    assert "--listen-addr=:27017" in c["args"]
    assert not any("wiredTiger" in a for a in c["args"])
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in c["env"] if "valueFrom" in e}
    assert env["FERRETDB_SETUP_USERNAME"]["key"] == "mongodb-root-username"
    assert env["FERRETDB_SETUP_PASSWORD"]["key"] == "mongodb-root-password"
    assert c["readinessProbe"]["httpGet"] == {"path": "/debug/readyz", "port": 8088}
    # Go's collector as ray101 runs FerretDB on a host, the heap limit under the memory limit
    go = {e["name"]: e["value"] for e in c["env"] if "value" in e}
    assert go == {"GOGC": "off", "GOMEMLIMIT": "384MiB"}
    assert c["resources"]["limits"]["memory"] == "512Mi"
    # the URI the Ray pods get authenticates against the admin database, where the user is made
    secret = m.one("Secret", NAME)
    uri = base64.b64decode(secret["data"]["mongodb-uri"]).decode()
    assert uri.endswith("/sample_mflix?authSource=admin")


def test_should_refuse_an_unknown_server_when_server_is_set():
    with pytest.raises(Exception, match="server"):
        render(None, "mongodb.server=postgres")


@pytest.mark.parametrize(
    "memory, cache",
    [("512Mi", "0.25"), ("1Gi", "0.25"), ("2Gi", "0.50"), ("3Gi", "1.00"), ("4096Mi", "1.50")],
)
def test_should_size_wiredTiger_cache_from_memory_limit_when_limit_is(memory, cache):
    m = render(None, f"mongodb.resources.limits.memory={memory}", f"mongodb.resources.requests.memory={memory}")
    assert arg_after(mongo_container(m), "--wiredTigerCacheSizeGB") == cache


def test_should_use_explicit_wiredTiger_cache_when_wiredTigerCacheSizeGB_is_set():
    m = render(None, "mongodb.wiredTigerCacheSizeGB=0.75")
    assert arg_after(mongo_container(m), "--wiredTigerCacheSizeGB") == "0.75"


def test_should_run_as_the_image_mongodb_user_when_defaults():
    spec = render().one("StatefulSet", NAME)["spec"]["template"]["spec"]
    assert spec["securityContext"]["runAsUser"] == 999
    assert spec["securityContext"]["runAsGroup"] == 999
    assert spec["securityContext"]["fsGroup"] == 999
    c = spec["containers"][0]
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {v["mountPath"] for v in c["volumeMounts"]}
    assert {"/tmp", "/data/configdb", "/data/db"} <= mounts


def test_should_generate_three_users_and_a_uri_for_reader_and_writer_when_defaults():
    data = secret_data(render().one("Secret", NAME))
    assert data["mongodb-root-username"] == "root"
    passwords = {who: data[f"mongodb-{who}-password"] for who in ("root", "reader", "writer")}
    for password in passwords.values():
        assert len(password) >= 24 and password.isalnum()
    assert len(set(passwords.values())) == 3
    host = f"{NAME}.{NAMESPACE}.svc:27017/sample_mflix?authSource=admin"
    assert data["mongodb-uri"] == f"mongodb://reader:{passwords['reader']}@{host}"
    assert data["mongodb-writer-uri"] == f"mongodb://writer:{passwords['writer']}@{host}"


def test_should_give_the_ray_pods_only_the_readers_uri_when_defaults():
    """The Ray pods hold the reader's URI (RAY101_MONGO_URI) and no other MongoDB secret: neither
    the root password nor the writer's."""
    m = render()
    data = secret_data(m.one("Secret", NAME))
    refs = []
    for rc in m.of_kind("RayCluster"):
        for _, template in pod_templates(rc):
            for c in template["spec"]["containers"] + template["spec"].get("initContainers", []):
                for e in c.get("env", []):
                    ref = (e.get("valueFrom") or {}).get("secretKeyRef")
                    if ref and ref["name"] == NAME:
                        refs.append((e["name"], ref["key"]))
            text = repr(template)
            for key in ("mongodb-root-password", "mongodb-writer-password", "mongodb-writer-uri"):
                assert data[key] not in text and key not in text, key
    assert refs and set(refs) == {("RAY101_MONGO_URI", "mongodb-uri")}
    assert data["mongodb-uri"].startswith("mongodb://reader:")


def test_should_make_reader_and_writer_at_first_start_when_server_is_mongod():
    m = render()
    script = (CHART / "files" / "mongodb-users.js").read_text()
    config = m.one("ConfigMap", f"{NAME}-init")
    assert config["data"] == {"ray101-users.js": script}
    sts = m.one("StatefulSet", NAME)
    c = sts["spec"]["template"]["spec"]["containers"][0]
    mounts = {v["name"]: v for v in c["volumeMounts"]}
    assert mounts["init"]["mountPath"] == "/docker-entrypoint-initdb.d"
    assert mounts["init"]["readOnly"] is True
    volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
    assert volumes["init"]["configMap"]["name"] == f"{NAME}-init"
    env = {e["name"]: e for e in c["env"]}
    assert env["MONGO_INITDB_RAY101_DATABASE"]["value"] == "sample_mflix"
    for who, role in (("READER", "read"), ("WRITER", "readWrite")):
        assert env[f"MONGO_INITDB_RAY101_{who}_USERNAME"]["value"] == who.lower()
        password = env[f"MONGO_INITDB_RAY101_{who}_PASSWORD"]
        assert password["valueFrom"]["secretKeyRef"] == {"name": NAME, "key": f"mongodb-{who.lower()}-password"}
        assert "value" not in password
        assert f'["{who}", "{role}"]' in script
    # the script reads exactly the variables the StatefulSet sets; the entrypoint unsets every
    # MONGO_INITDB_* variable before mongod starts
    assert "env.MONGO_INITDB_RAY101_DATABASE" in script
    assert "env[`MONGO_INITDB_RAY101_${who}_USERNAME`]" in script
    assert "env[`MONGO_INITDB_RAY101_${who}_PASSWORD`]" in script
    assert all(name.startswith("MONGO_INITDB_") for name in env)
    assert "createUser({ user, pwd, roles: [{ role, db: database }] })" in script


def test_should_mount_no_init_scripts_when_server_is_ferretdb():
    m = render(None, "mongodb.server=ferretdb")
    assert not m.of_kind("ConfigMap")
    c = mongo_container(m)
    assert "/docker-entrypoint-initdb.d" not in {v["mountPath"] for v in c["volumeMounts"]}
    assert not [e for e in c["env"] if e["name"].startswith("MONGO_INITDB_")]


def test_should_keep_the_generated_secret_on_uninstall_when_defaults():
    secret = render().one("Secret", NAME)
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


def test_should_take_root_credentials_from_the_secret_when_defaults():
    env = {e["name"]: e for e in mongo_container(render())["env"]}
    for name, key in (("MONGO_INITDB_ROOT_USERNAME", "mongodb-root-username"),
                      ("MONGO_INITDB_ROOT_PASSWORD", "mongodb-root-password")):
        assert env[name]["valueFrom"]["secretKeyRef"] == {"name": NAME, "key": key}
        assert "value" not in env[name]


def test_should_use_existing_secret_keys_when_mongodb_auth_existingSecret_is_set():
    m = render("existing-secrets.yaml")
    assert not m.of_kind("Secret")
    env = {e["name"]: e for e in mongo_container(m)["env"]}
    assert env["MONGO_INITDB_ROOT_USERNAME"]["valueFrom"]["secretKeyRef"] == {"name": "lab-mongodb", "key": "username"}
    assert env["MONGO_INITDB_ROOT_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "lab-mongodb", "key": "password"}
    for who in ("reader", "writer"):  # keys not renamed in the values file keep their defaults
        assert env[f"MONGO_INITDB_RAY101_{who.upper()}_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": "lab-mongodb", "key": f"mongodb-{who}-password"}


def test_should_render_no_mongodb_but_keep_the_uri_when_mongodb_is_disabled_with_existing_secret():
    m = render("existing-secrets.yaml", "mongodb.enabled=false")
    assert not m.of_kind("StatefulSet")
    assert not [s for s in m.of_kind("Service")]
    assert [n["metadata"]["name"] for n in m.of_kind("NetworkPolicy")] == [f"{RELEASE}-ray"]
    for rc in m.of_kind("RayCluster"):
        env = {e["name"] for e in rc["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["env"]}
        assert "RAY101_MONGO_URI" in env


def test_should_size_requests_equal_limits_when_defaults():
    resources = mongo_container(render())["resources"]
    assert resources["requests"] == resources["limits"]
