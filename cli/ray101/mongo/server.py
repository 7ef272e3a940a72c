"""The lab's MongoDB server: an external one, a local ``mongod``, or a local FerretDB.

Which server, in order of preference:

1. ``RAY101_MONGO_URI`` set: an external server. ray101 never starts or stops it.
2. ``mongod`` on PATH: started by us, data under ``<state>/mongo/db``.
3. FerretDB v1.24.2 with its SQLite backend, built by ``ferretdb.build`` into
   ``<tools>/bin/ferretdb``, data under ``<state>/mongo/data``.

``RAY101_MONGO_SERVER=mongod|ferretdb`` forces the local kind (the tests use ``ferretdb``).
A server we start runs detached (its own session) and is recorded in ``<state>/mongo/server.json``
(pid and start time, kind, host, port); ``stop`` signals exactly that process. With namespaced
Ray nodes it listens on the bridge IP (e.g. 10.101.0.1), else on loopback; one address, never a
wildcard. Authentication is on: user ``ray101``, its generated password in
``<state>/mongo/password`` (0600; the folder, data included, is 0700), given to FerretDB in its
environment (never argv; it creates the user on its first start). ``uri()`` has the password (for
the nodes' environment and seeding); what ray101 shows is ``public_uri``, without it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeGuard
from urllib.parse import quote_plus

from ray101 import procs, state
from ray101.errors import Ray101Error
from ray101.mongo import ferretdb
from ray101_jobs import mongouri
from ray101_jobs.mongouri import URI_ENV, hosts_of, public_uri, redact, short_reason

if TYPE_CHECKING:
    from pymongo import MongoClient

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 27017
USER = "ray101"
WILDCARDS = ("0.0.0.0", "::", "")
SERVER_ENV = "RAY101_MONGO_SERVER"
START_TIMEOUT = 30.0
PING_TIMEOUT_MS = 10_000

EXTERNAL, MONGOD, FERRETDB = "external", "mongod", "ferretdb"


# -- URIs and clients (shared with the jobs: ray101_jobs.mongouri) ---------------------------


def external_uri() -> str | None:
    return mongouri.from_env()


def local_uri(host: str, port: int, password: str | None = None) -> str:
    """Our server's URI: user ``ray101``, with ``password`` when given (never shown)."""
    if ":" in host:
        host = f"[{host}]"
    user = USER + (f":{quote_plus(password)}" if password else "")
    return f"mongodb://{user}@{host}:{port}/?authSource=admin"


def for_seeding(uri: str, password: str | None = None) -> str:
    """The URI ``mongo seed --uri`` connects with: ``uri`` with ``password`` (from a file), or,
    for a URI without one that names our running server, with ours."""
    if password:
        try:
            return mongouri.with_password(uri, password)
        except ValueError as exc:
            raise Ray101Error(str(exc)) from None
    rec = _read_record()
    if mongouri.password_of(uri) is None and _record_alive(rec) and rec.get("auth") \
            and hosts_of(uri) == hosts_of(local_uri(rec["host"], rec["port"])):
        return local_uri(rec["host"], rec["port"], _password())
    return uri


def client(uri: str, timeout_ms: int = PING_TIMEOUT_MS) -> MongoClient:
    """``mongouri.client``, with a malformed URI as a one-line error."""
    from pymongo.errors import ConfigurationError, InvalidURI

    try:
        return mongouri.client(uri, timeout_ms)
    except (InvalidURI, ConfigurationError, ValueError, TypeError) as exc:
        raise Ray101Error(f"invalid MongoDB URI {redact(uri)}: {short_reason(exc, uri)}") from None


def failure(exc: BaseException, uri: str) -> str:
    """One line for a pymongo error, naming the host (password redacted): credentials the
    server refused are an authentication failure, not an unreachable server."""
    if mongouri.is_auth_failure(exc):
        return (f"MongoDB at {hosts_of(uri)} ({redact(uri)}) refused the credentials "
                f"(authentication failed): {short_reason(exc, uri)}")
    return f"cannot reach MongoDB at {hosts_of(uri)} ({redact(uri)}): {short_reason(exc, uri)}"


def ping(uri: str, timeout_ms: int = PING_TIMEOUT_MS) -> None:
    """Raise ``Ray101Error`` naming the host (password redacted) unless ``uri`` answers ``ping``."""
    from pymongo.errors import PyMongoError

    c = client(uri, timeout_ms)
    try:
        c.admin.command("ping")
    except PyMongoError as exc:
        raise Ray101Error(failure(exc, uri)) from None
    finally:
        c.close()


def answers(uri: str, timeout_ms: int = 1000) -> bool:
    try:
        ping(uri, timeout_ms)
        return True
    except Ray101Error:
        return False


# -- files ------------------------------------------------------------------------------------


def mongo_dir() -> Path:
    """``<state>/mongo``: the record, the password, the logs and the data; 0700."""
    return state.private_dir(state.home() / "mongo")


def password_path() -> Path:
    return mongo_dir() / "password"


def _password(create: bool = False) -> str:
    """The local server's password (0600), made when ``create`` and there is none."""
    path = password_path()
    try:
        password = path.read_text().strip()
    except FileNotFoundError:
        password = ""
    if not password:
        if not create:
            raise Ray101Error(f"the local MongoDB's password file {path} is missing or empty; "
                              "`ray101 mongo stop` then `ray101 mongo start` makes a new one")
        password = secrets.token_urlsafe(24)
        # FerretDB creates its user when the admin database is missing: the lost one's goes.
        for old in (mongo_dir() / "data").glob("admin.sqlite*"):
            old.unlink()
        state.atomic_write(path, password + "\n", mode=0o600)
    os.chmod(path, 0o600)
    return password


def _record_path() -> Path:
    return mongo_dir() / "server.json"


def _read_record() -> dict | None:
    try:
        return json.loads(_record_path().read_text())
    except (FileNotFoundError, ValueError):
        return None


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """Serialize start/stop between concurrent ray101 processes."""
    with open(mongo_dir() / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _log_path(kind: str) -> Path:
    return mongo_dir() / f"{kind}.log"


# -- binaries ---------------------------------------------------------------------------------


def local_kind() -> str:
    """``mongod`` when on PATH, else ``ferretdb`` (``RAY101_MONGO_SERVER`` overrides)."""
    forced = (os.environ.get(SERVER_ENV) or "").strip().lower()
    if forced in (MONGOD, FERRETDB):
        return forced
    if forced and forced != "auto":
        raise Ray101Error(f"{SERVER_ENV} must be mongod, ferretdb or auto, not {forced!r}")
    return MONGOD if shutil.which("mongod") else FERRETDB


def kind() -> str:
    return EXTERNAL if external_uri() else local_kind()


def install(force: bool = False, on_output: Callable[[str], object] | None = None) -> dict:
    """Locate (or, for FerretDB, build) the local server binary: ``{"kind", "path", "version"}``.

    A build takes minutes on a cold Go cache: ``on_output`` hears each line it prints.
    """
    if local_kind() == MONGOD:
        mongod = shutil.which("mongod")
        if not mongod:
            raise Ray101Error(f"{SERVER_ENV}=mongod but mongod is not on PATH")
        return {"kind": MONGOD, "path": mongod, "version": None}
    binary = ferretdb.build(force, on_output)
    return {"kind": FERRETDB, "path": str(binary), "version": ferretdb.VERSION}


# -- processes --------------------------------------------------------------------------------


def _port_open(host: str, port: int) -> bool:
    connect_host = "127.0.0.1" if host in ("0.0.0.0", "") else ("::1" if host == "::" else host)
    try:
        with socket.create_connection((connect_host, port), timeout=1):
            return True
    except OSError:
        return False


def _command(k: str, binary: str, host: str, port: int) -> list[str]:
    """The server's command line: no secret in it (FerretDB reads the password from
    ``FERRETDB_SETUP_PASSWORD``)."""
    base = mongo_dir()
    if k == MONGOD:
        (base / "db").mkdir(exist_ok=True)
        # Loopback too: mongod lets the first user be created from there (the localhost exception).
        binds = host if host in ("127.0.0.1", "::1") else f"{host},127.0.0.1"
        return [binary, "--auth", "--dbpath", str(base / "db"), "--bind_ip", binds, "--port",
                str(port), "--logpath", str(_log_path(MONGOD)), "--logappend"]  # fmt: skip
    (base / "data").mkdir(exist_ok=True)
    (base / "state").mkdir(exist_ok=True)
    addr = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return [
        binary,
        "--handler=sqlite",
        f"--sqlite-url=file:{base / 'data'}/",
        f"--state-dir={base / 'state'}",
        f"--listen-addr={addr}",
        "--telemetry=disable",
        "--debug-addr=-",  # no HTTP debug listener: nothing to clash with a second instance
        "--log-level=warn",
        "--test-enable-new-auth",  # SCRAM users, as MongoDB: nothing without the password
        "--setup-database=admin",
        f"--setup-username={USER}",
    ]


def _server_env(k: str, password: str) -> dict | None:
    if k != FERRETDB:
        return None
    return {**ferretdb.env(), "FERRETDB_SETUP_PASSWORD": password}


def _mongod_first_user(port: int, password: str) -> None:
    """Create ``ray101`` on a new mongod through the localhost exception (refused, harmlessly, later)."""
    from pymongo.errors import PyMongoError

    with contextlib.suppress(PyMongoError), client(f"mongodb://127.0.0.1:{port}/", 2000) as c:
        c.admin.command("createUser", USER, pwd=password, roles=["root"])


def _record_alive(rec: dict | None) -> TypeGuard[dict]:
    """The recorded server still runs, as the very process we started."""
    if not rec:
        return False
    return procs.alive(rec.get("pid"), rec.get("binary"), _started(rec))


def _started(rec: dict) -> str | None:  # older records held a float there: binary only
    return rec["started"] if isinstance(rec.get("started"), str) else None


def ensure_running(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, timeout: float = START_TIMEOUT,
                   on_output: Callable[[str], object] | None = None) -> str:
    """Start the local server on ``host:port`` unless ours already answers there; return its URI
    (with the password: for the nodes' environment and seeding, never to print).

    With ``RAY101_MONGO_URI`` set, only checks that the external server answers. A recorded server
    on another address (or from before authentication) is stopped and started again.
    """
    ext = external_uri()
    if ext:
        ping(ext)
        return ext
    if not 0 < int(port) < 65536:
        raise Ray101Error(f"port must be between 1 and 65535, not {port}")
    if host in WILDCARDS:
        raise Ray101Error(f"MongoDB listens on one address of this machine, not {host or 'all'}: "
                          "give the address the nodes reach it at (e.g. 127.0.0.1)")
    with _locked():
        rec = _read_record()
        if _record_alive(rec):
            if rec.get("host") == host and rec.get("port") == port and rec.get("auth") \
                    and password_path().exists():
                uri = local_uri(host, port, _password())
                if answers(uri, 3000):
                    return uri
            procs.stop(rec["pid"], binary=rec.get("binary"), started=_started(rec))
        _record_path().unlink(missing_ok=True)
        password = _password(create=True)  # no server of ours runs now
        uri = local_uri(host, port, password)
        if _port_open(host, port):
            raise Ray101Error(
                f"{host}:{port} is already in use by a process ray101 did not start; "
                f"use another --port, stop that server, or set {URI_ENV} to use it"
            )
        info = install(on_output=on_output)
        k, binary = info["kind"], info["path"]
        log = _log_path(k)
        with open(log, "ab") as out:
            out.write(f"\n--- ray101: starting {k} on {host}:{port} at {time.strftime('%Y-%m-%dT%H:%M:%S')}\n".encode())
            out.flush()
            try:
                proc = subprocess.Popen(
                    _command(k, binary, host, port),
                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    start_new_session=True, cwd=mongo_dir(), env=_server_env(k, password),
                )  # fmt: skip
            except OSError as exc:
                raise Ray101Error(f"cannot start {binary}: {exc.strerror}") from None
        record = {"pid": proc.pid, "started": procs.start_time(proc.pid), "kind": k,
                  "binary": binary, "host": host, "port": port, "auth": True,
                  "uri": public_uri(uri), "log": str(log), "started_at": time.time()}  # fmt: skip
        state.atomic_write(_record_path(), json.dumps(record, indent=2) + "\n")
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                _record_path().unlink(missing_ok=True)
                raise Ray101Error(
                    f"{k} exited with code {proc.returncode} while starting on {host}:{port}; "
                    f"see {log}: {procs.log_tail(log)}"
                )
            if k == MONGOD:
                _mongod_first_user(port, password)
            try:
                ping(uri, 500)
                return uri
            except Ray101Error as exc:
                if "authentication failed" in str(exc):  # it answers, but not to our password
                    procs.stop(proc.pid, binary=binary)
                    _record_path().unlink(missing_ok=True)
                    raise Ray101Error(
                        f"{exc}; its data in {mongo_dir()} was set up with another password: "
                        f"remove {password_path()} (FerretDB then makes a new user) "
                        "or the data") from None
            if time.monotonic() > deadline:
                procs.stop(proc.pid, binary=binary)
                _record_path().unlink(missing_ok=True)
                raise Ray101Error(f"{k} did not answer ping on {host}:{port} within {timeout:.0f}s; see {log}")
            time.sleep(0.1)


def stop() -> dict:
    """Stop the server ray101 started (exactly the recorded process); fine when none runs."""
    if external_uri() and not _read_record():
        return {"kind": EXTERNAL, "stopped": False, "message": f"external server ({URI_ENV}): not ours to stop"}
    with _locked():
        rec = _read_record()
        if not rec:
            return {"kind": local_kind(), "stopped": False, "message": "no server recorded"}
        stopped = procs.stop(rec["pid"], binary=rec.get("binary"), started=_started(rec))
        _record_path().unlink(missing_ok=True)
        return {"kind": rec.get("kind"), "stopped": stopped, "pid": rec["pid"],
                "message": f"stopped pid {rec['pid']}" if stopped else "was not running"}  # fmt: skip


def uri() -> str | None:
    """The URI to use (with the password): ``RAY101_MONGO_URI``, else our running server's,
    else None."""
    ext = external_uri()
    if ext:
        return ext
    rec = _read_record()
    if not _record_alive(rec):
        return None
    return local_uri(rec["host"], rec["port"], _password()) if rec.get("auth") else rec["uri"]


def status() -> dict:
    """Where the server is and whether it answers; the URI without its password."""
    ext = external_uri()
    if ext:
        return {"kind": EXTERNAL, "running": answers(ext, 3000), "managed": False, "uri": redact(ext),
                "hosts": hosts_of(ext)}  # fmt: skip
    rec = _read_record()
    k = (rec.get("kind") if rec else None) or local_kind()
    out = {"kind": k, "running": False, "managed": True, "pid": None, "host": None, "port": None, "uri": None,
           "log": str(_log_path(k)), "data": str(mongo_dir() / ("db" if k == MONGOD else "data"))}  # fmt: skip
    if rec and _record_alive(rec):
        full = uri() or rec["uri"]
        out.update(pid=rec["pid"], host=rec["host"], port=rec["port"], uri=public_uri(full),
                   running=answers(full, 2000))  # fmt: skip
    return out
