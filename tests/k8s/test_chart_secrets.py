"""The chart's secrets on a real cluster (issue 18 items 6 and 8), after `make deploy`:

- an upgrade rendered by the API server (`helm upgrade --dry-run=server`) keeps every MongoDB
  password and the Ray token: the rendered Secrets equal the live ones;
- the same upgrade rendered without the cluster (`--dry-run=client`, no lookup) fails with the
  chart's one line instead of making new passwords;
- an install into a scratch namespace that holds a claim named like MongoDB's data volume but no
  Secret fails (`helm install --dry-run=server`): the data would refuse a new password;
- the Ray head's environment holds the reader's URI and neither the root nor the writer password;
- MongoDB refuses a client without credentials; the reader reads; with mongod the reader cannot
  write and the writer can; with FerretDB v1 (no roles) the reader can write, as documented.

Nothing here prints a secret: values are compared in-process. Callable from both providers' e2e
with RAY101_TEST_K8S=1. Environment: KUBECONFIG and RAY101_KUBE_CONTEXT, RAY101_NAMESPACE and
RAY101_RELEASE (default ray101), RAY101_KUBECTL, RAY101_HELM (default .tools/bin/helm), and
RAY101_HELM_VALUES: the value files `make deploy` passed, space-separated (for PROVIDER=host:
`k8s/host/values.yaml`), so that the dry-run upgrade renders what is deployed.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import subprocess
from collections.abc import Iterator

import pytest
from k8s_common import NAMESPACE, RELEASE, REPO, kubectl_cmd

if os.environ.get("RAY101_TEST_K8S") != "1":
    pytest.skip("a real cluster: RAY101_TEST_K8S=1 (the providers' e2e tiers)", allow_module_level=True)

SCRATCH = f"{NAMESPACE}-kept-volume"
CHART = REPO / "helm" / "ray101"


def helm_cmd() -> list[str]:
    cmd = [os.environ.get("RAY101_HELM") or str(REPO / ".tools" / "bin" / "helm")]
    if os.environ.get("RAY101_KUBE_CONTEXT"):
        cmd.append(f"--kube-context={os.environ['RAY101_KUBE_CONTEXT']}")
    return cmd


def values_args() -> list[str]:
    return [arg for f in os.environ.get("RAY101_HELM_VALUES", "").split() for arg in ("-f", str(REPO / f))]


def run(cmd: list[str], check: bool = True, stdin: str | None = None, timeout: float = 180):
    proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        # stderr only: stdout of these commands may hold secrets
        pytest.fail(f"{' '.join(cmd[:3])} ... failed: {proc.stderr.strip()[-800:]}", pytrace=False)
    return proc


def live_secret(name: str) -> dict[str, str]:
    obj = json.loads(run([*kubectl_cmd(), "get", "secret", "-n", NAMESPACE, name, "-o", "json"]).stdout)
    return {k: base64.b64decode(v).decode() for k, v in obj["data"].items()}


def mongodb_pod() -> dict:
    pods = json.loads(run([*kubectl_cmd(), "get", "pods", "-n", NAMESPACE, "-l",
                           f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/component=mongodb",
                           "-o", "json"]).stdout)["items"]
    assert pods, "no MongoDB pod: is the chart deployed (make deploy)?"
    return pods[0]


def secrets_of(manifest: str) -> dict[str, dict[str, str]]:
    import yaml

    docs = [d for d in yaml.safe_load_all(manifest) if d and d.get("kind") == "Secret"]
    return {d["metadata"]["name"]: {k: base64.b64decode(v).decode() for k, v in d["data"].items()} for d in docs}


def test_a_server_side_dry_run_upgrade_keeps_every_password_and_the_token():
    proc = run([*helm_cmd(), "upgrade", RELEASE, str(CHART), "-n", NAMESPACE, "--dry-run=server",
                *values_args()], timeout=300)
    manifest = proc.stdout.split("MANIFEST:", 1)[-1]
    rendered = secrets_of(manifest)
    for name in (f"{RELEASE}-mongodb", f"{RELEASE}-ray-auth"):
        assert name in rendered, f"no Secret {name} in the dry-run's manifest"
        live = live_secret(name)
        changed = sorted(k for k in live if rendered[name].get(k) != live[k])
        assert not changed, f"the upgrade would change {name} keys {changed}"


def test_a_client_side_dry_run_upgrade_fails_instead_of_minting_passwords():
    proc = run([*helm_cmd(), "upgrade", RELEASE, str(CHART), "-n", NAMESPACE, "--dry-run=client",
                *values_args()], check=False, timeout=300)
    assert proc.returncode != 0
    assert re.search(r"helm upgrade: Secret \S+ was not found .*--dry-run=server", proc.stderr), proc.stderr[-800:]


def test_an_install_that_finds_the_old_volume_but_no_secret_fails():
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
             "metadata": {"name": f"data-{RELEASE}-mongodb-0", "namespace": SCRATCH},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Mi"}},
                      "storageClassName": "ray101-none"}}  # no such class: stays Pending, nothing made
    run([*kubectl_cmd(), "create", "namespace", SCRATCH], check=False)
    try:
        run([*kubectl_cmd(), "apply", "-f", "-"], stdin=json.dumps(claim))
        proc = run([*helm_cmd(), "install", RELEASE, str(CHART), "-n", SCRATCH, "--dry-run=server",
                    *values_args()], check=False, timeout=300)
        assert proc.returncode != 0
        assert f"PersistentVolumeClaim {SCRATCH}/data-{RELEASE}-mongodb-0 holds data from an earlier install" \
            in proc.stderr, proc.stderr[-800:]
    finally:
        run([*kubectl_cmd(), "delete", "namespace", SCRATCH, "--wait=false"], check=False)


def test_the_ray_head_holds_the_readers_uri_and_no_other_mongodb_password():
    data = live_secret(f"{RELEASE}-mongodb")
    heads = json.loads(run([*kubectl_cmd(), "get", "pods", "-n", NAMESPACE, "-l",
                            f"app.kubernetes.io/instance={RELEASE},ray.io/node-type=head",
                            "-o", "json"]).stdout)["items"]
    assert heads
    for head in heads:
        env = run([*kubectl_cmd(), "exec", "-n", NAMESPACE, head["metadata"]["name"], "--", "env"]).stdout
        assert f"RAY101_MONGO_URI={data['mongodb-uri']}" in env.splitlines(), head["metadata"]["name"]
        for key in ("mongodb-root-password", "mongodb-writer-password"):
            assert data[key] not in env, f"{head['metadata']['name']} holds {key}"


@contextlib.contextmanager
def forwarded_mongodb() -> Iterator[int]:
    pod = mongodb_pod()["metadata"]["name"]
    proc = subprocess.Popen([*kubectl_cmd(), "port-forward", "-n", NAMESPACE, f"pod/{pod}", ":27017"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        match = re.search(r"127\.0\.0\.1:(\d+)", line)
        assert match, f"kubectl port-forward said {line!r}"
        yield int(match.group(1))
    finally:
        proc.terminate()
        proc.wait(10)


def at(uri: str, port: int) -> str:
    from ray101.kube.mongodb import local_uri, parse

    return local_uri(parse(uri, "the Secret's URI"), port)


def test_mongodb_refuses_strangers_and_gives_each_user_its_role():
    from pymongo import MongoClient
    from pymongo.errors import OperationFailure

    data = live_secret(f"{RELEASE}-mongodb")
    server = mongodb_pod()["metadata"]["annotations"]["ray101.io/mongodb-server"]
    with forwarded_mongodb() as port:
        with MongoClient(f"mongodb://127.0.0.1:{port}/?directConnection=true", serverSelectionTimeoutMS=10_000) as m:
            with pytest.raises(OperationFailure):
                m.sample_mflix.movies.find_one()
        with MongoClient(at(data["mongodb-uri"], port), serverSelectionTimeoutMS=10_000) as reader:
            assert reader.sample_mflix.movies.find_one() is not None, "not seeded (make deploy seeds)"
            if server == "mongod":
                with pytest.raises(OperationFailure, match="not authorized"):
                    reader.sample_mflix.scratch.insert_one({"by": "reader"})
            else:  # FerretDB v1 enforces no roles: the documented limitation
                reader.sample_mflix.scratch.insert_one({"by": "reader"})
                reader.sample_mflix.scratch.drop()
        with MongoClient(at(data["mongodb-writer-uri"], port), serverSelectionTimeoutMS=10_000) as writer:
            writer.sample_mflix.scratch.insert_one({"by": "writer"})
            writer.sample_mflix.scratch.drop()
