"""The chart's MongoDB from the CLI: the writer's URI through a port-forward to its pod.

The Ray pods hold only the reader's URI (RAY101_MONGO_URI); seeding needs the writer, whose URI
no pod holds: it stays in the chart's Secret. :func:`writer_uri` finds the release's MongoDB pod,
reads from its annotations which Secret keys hold the URIs, port-forwards to it (in-process, as
for the Ray heads) and yields the writer's URI pointing at the forward. With FerretDB, which makes
only its setup user (root) itself, the reader and the writer are made (or their passwords reset
to the Secret's) first, as root. Passwords are never printed.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

from ray101.errors import Ray101Error
from ray101.kube.client import API_TIMEOUT, Kube, client
from ray101.kube.portforward import Forwarder, PodStream
from ray101.models import Target

# Annotations of the MongoDB pod (helm/ray101/templates/statefulset.yaml): not secrets, the names
# of the Secret and of its keys.
SERVER = "ray101.io/mongodb-server"  # mongod | ferretdb
SECRET = "ray101.io/mongodb-secret"
READER_URI_KEY = "ray101.io/reader-uri-key"
WRITER_URI_KEY = "ray101.io/writer-uri-key"
ROOT_USERNAME_KEY = "ray101.io/root-username-key"
ROOT_PASSWORD_KEY = "ray101.io/root-password-key"
FERRETDB_NOT_IMPLEMENTED = 238  # FerretDB v1: createUser with roles


@dataclass
class Login:
    user: str
    password: str
    database: str  # the database the URI names (the jobs' one)


def parse(uri: str, what: str) -> Login:
    """User, password and database of a URI from the Secret; errors never show the URI."""
    from pymongo.errors import InvalidURI
    from pymongo.uri_parser import parse_uri

    try:
        parts = parse_uri(uri)
    except (InvalidURI, ValueError) as exc:
        raise Ray101Error(f"{what} is not a MongoDB URI ({type(exc).__name__})") from None
    if not parts.get("username") or not parts.get("password"):
        raise Ray101Error(f"{what} names no user and password")
    return Login(parts["username"], parts["password"], parts.get("database") or "admin")


def local_uri(login: Login, port: int) -> str:
    """The URI of ``login`` at the port-forward: 127.0.0.1, one server, users in admin."""
    return (f"mongodb://{quote(login.user, safe='')}:{quote(login.password, safe='')}@127.0.0.1:{port}/"
            f"{login.database}?authSource=admin&directConnection=true")


def ensure_users(root_uri: str, users: list[tuple[Login, str]]) -> list[str]:
    """Make each ``(login, role)`` user in the admin database, or set its password to the given
    one when it exists. A server that does not implement roles (FerretDB v1) gets users without
    any, and each of those can then do anything: the notes returned say so."""
    from pymongo import MongoClient
    from pymongo.errors import OperationFailure

    notes = []
    mongo: MongoClient[dict] = MongoClient(root_uri, serverSelectionTimeoutMS=10_000)
    with mongo:
        admin = mongo.admin
        for login, role in users:
            known = admin.command("usersInfo", {"user": login.user, "db": "admin"})["users"]
            if known:
                admin.command("updateUser", login.user, pwd=login.password)
                continue
            try:
                admin.command("createUser", login.user, pwd=login.password,
                              roles=[{"role": role, "db": login.database}])
            except OperationFailure as exc:
                if exc.code != FERRETDB_NOT_IMPLEMENTED:
                    raise
                admin.command("createUser", login.user, pwd=login.password, roles=[])
                notes.append(f"user {login.user}: the server does not enforce roles (FerretDB v1), "
                             f"so it may write too, not only {role}")
    return notes


def _mongodb_pod(kube: Kube, target: Target) -> dict:
    """The running MongoDB pod of the target's release (labels of the chart's StatefulSet)."""
    info = target.kube
    assert info is not None
    rc = kube.get_raycluster(info.raycluster)
    instance = (rc["metadata"].get("labels") or {}).get("app.kubernetes.io/instance")
    if not instance:
        raise Ray101Error(f"RayCluster {kube.namespace}/{info.raycluster} has no label "
                          "app.kubernetes.io/instance: not made by the ray101 chart")
    selector = f"app.kubernetes.io/instance={instance},app.kubernetes.io/component=mongodb"
    pods = kube.plain(kube.call(
        lambda: kube.core.list_namespaced_pod(kube.namespace, label_selector=selector,
                                              _request_timeout=API_TIMEOUT),
        f"list the MongoDB pods of release {instance} in namespace {kube.namespace}",
    )).get("items") or []
    running = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"]
    if not running:
        raise Ray101Error(f"no running MongoDB pod of release {instance} in namespace {kube.namespace} "
                          f"(context {kube.context}): the chart's MongoDB is off (mongodb.enabled) or "
                          "not up; seed an external server with `ray101 mongo seed` and RAY101_MONGO_URI "
                          "set to a writer's URI")
    return running[0]


def _secret_data(kube: Kube, name: str) -> dict[str, str]:
    where = f"Secret {kube.namespace}/{name} in context {kube.context}"
    obj = kube.call(lambda: kube.core.read_namespaced_secret(name, kube.namespace,
                                                             _request_timeout=API_TIMEOUT),
                    f"read the MongoDB credentials ({where})",
                    missing=f"the MongoDB credentials are missing: no {where} (`make deploy` makes it)")
    try:
        return {k: base64.b64decode(v, validate=True).decode() for k, v in (obj.data or {}).items()}
    except (ValueError, UnicodeDecodeError):
        raise Ray101Error(f"{where} holds a value that is not base64 text") from None


@contextlib.contextmanager
def writer_uri(target: Target) -> Iterator[tuple[str, list[str]]]:
    """The writer's URI of the target's release MongoDB, at a port-forward open for the ``with``
    block, and notes for the user; with FerretDB, the reader and the writer made first."""
    kube = client()
    pod = _mongodb_pod(kube, target)
    name = pod["metadata"]["name"]
    notes = pod["metadata"].get("annotations") or {}
    if SECRET not in notes or WRITER_URI_KEY not in notes:
        raise Ray101Error(f"MongoDB pod {kube.namespace}/{name} lacks the annotations {SECRET} and "
                          f"{WRITER_URI_KEY}: deployed by an older chart (run `make deploy`)")
    secret = notes[SECRET]
    data = _secret_data(kube, secret)

    def login(key_note: str, what: str) -> Login:
        key = notes.get(key_note, "")
        if key not in data:
            raise Ray101Error(f"Secret {kube.namespace}/{secret} has no key {key or '?'} ({what})")
        return parse(data[key], f"the {what} in Secret {kube.namespace}/{secret} key {key}")

    writer = login(WRITER_URI_KEY, "writer's URI")
    container = pod["spec"]["containers"][0]
    ports = [p["containerPort"] for p in container.get("ports", []) if p.get("name") == "mongodb"]
    if not ports:
        raise Ray101Error(f"MongoDB pod {kube.namespace}/{name} has no container port named mongodb")
    via = f"port-forward to MongoDB pod {kube.namespace}/{name} in context {kube.context}"
    forward = Forwarder(lambda port: PodStream(kube, name, port), ports, via)
    made: list[str] = []
    try:
        local = forward.local[ports[0]]
        if notes.get(SERVER) == "ferretdb":
            reader = login(READER_URI_KEY, "reader's URI")
            user_key, password_key = notes.get(ROOT_USERNAME_KEY, ""), notes.get(ROOT_PASSWORD_KEY, "")
            if user_key not in data or password_key not in data:
                raise Ray101Error(f"Secret {kube.namespace}/{secret} lacks the root user's keys "
                                  f"{user_key or '?'} and {password_key or '?'}")
            root = local_uri(Login(data[user_key], data[password_key], "admin"), local)
            from pymongo.errors import PyMongoError

            from ray101.mongo.server import failure

            try:
                made = ensure_users(root, [(reader, "read"), (writer, "readWrite")])
            except PyMongoError as exc:
                why = forward.error or failure(exc, root)
                raise Ray101Error(f"cannot make the reader and the writer as root through the {via}: "
                                  f"{why}") from None
        yield local_uri(writer, local), made
    finally:
        forward.close()
