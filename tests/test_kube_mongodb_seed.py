"""`ray101 mongo seed --cluster k8s-...`: the chart's MongoDB seeded by the CLI as the writer,
through a port-forward, never by a Ray pod (cli/ray101/kube/mongodb.py).

The Kubernetes API is the FAKE one (tests/fake_kube_api.py) holding what helm/ray101 renders with
`server: ferretdb`: the RayClusters, the Secret with its generated passwords, and the MongoDB pod
(from the StatefulSet's pod template). Its port-forward reaches a REAL FerretDB started here as the
chart starts it (the rendered container's arguments, the root user from the Secret), so the users,
the passwords and the seeding are real. The mongod path (users from /docker-entrypoint-initdb.d)
needs the official image: tests/k8s/test_chart_secrets.py on a real cluster.
"""

from __future__ import annotations

import base64
import copy
import os
import subprocess
import time

import pytest
from click.testing import CliRunner

import fake_kube_api as fk
from chartlib import RELEASE, render
from mongo_support import free_port
from ray101.main import cli

NAMESPACE = "ray101"
POD = f"{RELEASE}-mongodb-0"


@pytest.fixture(scope="module")
def chart():
    return render(None, "mongodb.server=ferretdb", "mongodb.image.repository=localhost/ray101/ferretdb",
                  "mongodb.image.tag=v1.24.2")


def secret_data(chart) -> dict:
    return {k: base64.b64decode(v).decode() for k, v in chart.one("Secret", f"{RELEASE}-mongodb")["data"].items()}


@pytest.fixture(scope="module")
def ferretdb(chart, tmp_path_factory):
    """A real FerretDB with the rendered container's arguments (addresses and paths moved here)
    and the root user from the rendered Secret; its port."""
    from ray101.mongo import ferretdb as fdb

    binary = fdb.path()
    if not os.access(binary, os.X_OK):
        pytest.skip(f"FerretDB is not built ({binary}): `ray101 mongo install`")
    home = tmp_path_factory.mktemp("chart-ferretdb")
    (home / "data").mkdir()
    (home / "state").mkdir()
    port = free_port(27400)
    container = chart.one("StatefulSet", f"{RELEASE}-mongodb")["spec"]["template"]["spec"]["containers"][0]
    moved = {"--listen-addr": f"127.0.0.1:{port}", "--sqlite-url": f"file:{home / 'data'}/",
             "--state-dir": str(home / "state"), "--debug-addr": "127.0.0.1:0"}
    args = [a if a.split("=")[0] not in moved else f"{a.split('=')[0]}={moved[a.split('=')[0]]}"
            for a in container["args"]]
    assert "--test-enable-new-auth" in args and "--setup-database=admin" in args
    data = secret_data(chart)
    env = {"PATH": os.environ["PATH"], "FERRETDB_SETUP_USERNAME": data["mongodb-root-username"],
           "FERRETDB_SETUP_PASSWORD": data["mongodb-root-password"]}
    log = open(home / "ferretdb.log", "wb")
    proc = subprocess.Popen([binary, *args], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                import socket

                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail(f"FerretDB did not listen on {port}: {(home / 'ferretdb.log').read_text()[-500:]}")
        yield port
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


@pytest.fixture
def fake(chart, ferretdb, tmp_path, monkeypatch):
    """The fake API with the chart's objects; the MongoDB pod's port 27017 reaches the FerretDB."""
    api = fk.FakeKubeAPI().start()
    fk.lab(api, "tok-" + "x" * 40)
    api.add(copy.deepcopy(chart.one("Secret", f"{RELEASE}-mongodb")))
    template = chart.one("StatefulSet", f"{RELEASE}-mongodb")["spec"]["template"]
    api.add({"apiVersion": "v1", "kind": "Pod",
             "metadata": {**copy.deepcopy(template["metadata"]), "name": POD, "namespace": NAMESPACE},
             "spec": copy.deepcopy(template["spec"]), "status": {"phase": "Running"}})
    api.forward_to[(NAMESPACE, POD)] = {27017: ferretdb}
    monkeypatch.setenv("KUBECONFIG", str(api.write_kubeconfig(tmp_path / "kubeconfig")))
    monkeypatch.setenv("RAY101_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("RAY101_NAMESPACE", raising=False)
    monkeypatch.delenv("RAY101_MONGO_URI", raising=False)
    yield api
    api.stop()


def at(uri: str, port: int) -> str:
    """A URI from the Secret, pointed at the local FerretDB instead of the Service."""
    from ray101.kube.mongodb import local_uri, parse

    return local_uri(parse(uri, "test"), port)


def seed(*extra: str):
    return CliRunner().invoke(cli, ["mongo", "seed", "--cluster", "k8s-multi", "--movies", "40",
                                    "--comments", "30", "--json", *extra])


def test_should_seed_as_the_writer_after_making_the_users_when_server_is_ferretdb(chart, fake, ferretdb):
    from pymongo import MongoClient

    result = seed()
    assert result.exit_code == 0, result.output
    assert '"count": 40' in result.stdout and '"count": 30' in result.stdout
    data = secret_data(chart)
    for secret in data.values():  # no password, no URI in the output
        if len(secret) >= 16:
            assert secret not in result.output
    # FerretDB v1 refuses roles: the users exist without them, and the CLI says what that means
    assert "does not enforce roles (FerretDB v1)" in result.stderr
    for key in ("mongodb-uri", "mongodb-writer-uri"):  # the reader (Ray pods) and the writer log in
        with MongoClient(at(data[key], ferretdb), serverSelectionTimeoutMS=5000) as mongo:
            assert mongo.sample_mflix.movies.count_documents({}) == 40
    # every request went to the MongoDB pod's port-forward, none to a Ray head's Jobs API
    paths = [path for _, path in fake.requests]
    assert any(p.startswith(f"/api/v1/namespaces/{NAMESPACE}/pods/{POD}/portforward") for p in paths)
    assert not any("head" in p and "portforward" in p for p in paths)


def test_should_reset_the_users_passwords_to_the_secrets_when_seeded_again(chart, fake, ferretdb):
    from pymongo import MongoClient
    from pymongo.errors import OperationFailure

    data = secret_data(chart)
    root = at(f"mongodb://{data['mongodb-root-username']}:{data['mongodb-root-password']}@x/admin", ferretdb)
    assert seed().exit_code == 0
    with MongoClient(root) as mongo:  # someone changed the reader's password
        mongo.admin.command("updateUser", "reader", pwd="changed-by-hand")
    with pytest.raises(OperationFailure), MongoClient(at(data["mongodb-uri"], ferretdb)) as mongo:
        mongo.admin.command("ping")
    result = seed()
    assert result.exit_code == 0, result.output
    with MongoClient(at(data["mongodb-uri"], ferretdb), serverSelectionTimeoutMS=5000) as mongo:
        assert mongo.sample_mflix.comments.count_documents({}) == 30


def test_should_refuse_an_unauthenticated_client_when_server_is_ferretdb(fake, ferretdb):
    from pymongo import MongoClient
    from pymongo.errors import OperationFailure

    assert seed().exit_code == 0
    with MongoClient(f"mongodb://127.0.0.1:{ferretdb}/?directConnection=true",
                     serverSelectionTimeoutMS=5000) as mongo:
        with pytest.raises(OperationFailure, match="requires authentication"):
            mongo.sample_mflix.movies.find_one()


def test_should_let_the_reader_write_on_ferretdb_v1_as_documented(chart, fake, ferretdb):
    """The limitation values.yaml and docs/kubernetes.md state: FerretDB v1 does not enforce
    roles, so its reader may write. When this fails, FerretDB enforces them: update the docs."""
    from pymongo import MongoClient

    assert seed().exit_code == 0
    with MongoClient(at(secret_data(chart)["mongodb-uri"], ferretdb), serverSelectionTimeoutMS=5000) as mongo:
        mongo.sample_mflix.scratch.insert_one({"written": "by the reader"})
        mongo.sample_mflix.scratch.drop()


def test_should_fail_in_one_line_when_the_mongodb_pod_is_missing(fake):
    del fake.pods[(NAMESPACE, POD)]
    result = seed()
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()[-1:]
    assert line.startswith("Error: no running MongoDB pod of release ray101 in namespace ray101")


def test_should_fail_in_one_line_when_the_secret_lacks_the_writer(chart, fake):
    del fake.secrets[(NAMESPACE, f"{RELEASE}-mongodb")]["data"]["mongodb-writer-uri"]
    result = seed()
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: Secret {NAMESPACE}/{RELEASE}-mongodb has no key mongodb-writer-uri (writer's URI)")
