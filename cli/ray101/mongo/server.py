"""The lab's MongoDB server: an external one, a local ``mongod``, or a local FerretDB.

Which server, in order of preference:

1. ``RAY101_MONGO_URI`` set: an external server. ray101 never starts or stops it.
2. ``mongod`` on PATH: started by us, data under ``<state>/mongo/db``.
3. FerretDB v1.24.2 with its SQLite backend, built by ``ferretdb.build`` into
   ``<tools>/bin/ferretdb``, data under ``<state>/mongo/data``.

``RAY101_MONGO_SERVER=mongod|ferretdb`` forces the local kind (the tests use ``ferretdb``).
A server we start runs detached (its own session) and is recorded in ``<state>/mongo/server.json``
(pid, kind, host, port, uri); ``stop`` signals exactly that pid. The lead runs Ray nodes in network
namespaces and starts the server on the bridge IP (e.g. 10.101.0.1), which the host reaches too;
FerretDB v1 listens on one address only, so the host is a single parameter.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeGuard

from ray101 import procs, state
from ray101.errors import Ray101Error
from ray101.mongo import ferretdb
from ray101_jobs import mongouri
from ray101_jobs.mongouri import URI_ENV, hosts_of, redact, short_reason

if TYPE_CHECKING:
    from pymongo import MongoClient

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 27017
SERVER_ENV = "RAY101_MONGO_SERVER"
START_TIMEOUT = 30.0
PING_TIMEOUT_MS = 10_000

EXTERNAL, MONGOD, FERRETDB = "external", "mongod", "ferretdb"


# -- URIs and clients (shared with the jobs: ray101_jobs.mongouri) ---------------------------


def external_uri() -> str | None:
    return mongouri.from_env()


def local_uri(host: str, port: int) -> str:
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"mongodb://{host}:{port}/"


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
    path = state.home() / "mongo"
    path.mkdir(parents=True, exist_ok=True)
    return path


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
    base = mongo_dir()
    if k == MONGOD:
        (base / "db").mkdir(exist_ok=True)
        return [binary, "--dbpath", str(base / "db"), "--bind_ip", host, "--port", str(port),
                "--logpath", str(_log_path(MONGOD)), "--logappend"]  # fmt: skip
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
    ]


def _record_alive(rec: dict | None) -> TypeGuard[dict]:
    if not rec:
        return False
    return procs.alive(rec.get("pid"), rec.get("binary"))


def ensure_running(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, timeout: float = START_TIMEOUT,
                   on_output: Callable[[str], object] | None = None) -> str:
    """Start the local server on ``host:port`` unless ours already answers there; return its URI.

    With ``RAY101_MONGO_URI`` set, only checks that the external server answers. A recorded server
    on another address is stopped and started again on the new one.
    """
    ext = external_uri()
    if ext:
        ping(ext)
        return ext
    if not 0 < int(port) < 65536:
        raise Ray101Error(f"port must be between 1 and 65535, not {port}")
    with _locked():
        rec = _read_record()
        if _record_alive(rec):
            if rec.get("host") == host and rec.get("port") == port and answers(rec["uri"], 3000):
                return rec["uri"]
            procs.stop(rec["pid"], binary=rec.get("binary"))
        _record_path().unlink(missing_ok=True)
        if _port_open(host, port):
            raise Ray101Error(
                f"{host}:{port} is already in use by a process ray101 did not start; "
                f"use another --port, stop that server, or set {URI_ENV} to use it"
            )
        info = install(on_output=on_output)
        k, binary = info["kind"], info["path"]
        log = _log_path(k)
        uri = local_uri(host, port)
        with open(log, "ab") as out:
            out.write(f"\n--- ray101: starting {k} on {host}:{port} at {time.strftime('%Y-%m-%dT%H:%M:%S')}\n".encode())
            out.flush()
            try:
                proc = subprocess.Popen(
                    _command(k, binary, host, port),
                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    start_new_session=True, cwd=mongo_dir(),
                    env=ferretdb.env() if k == FERRETDB else None,
                )  # fmt: skip
            except OSError as exc:
                raise Ray101Error(f"cannot start {binary}: {exc.strerror}") from None
        record = {"pid": proc.pid, "kind": k, "binary": binary, "host": host, "port": port, "uri": uri,
                  "log": str(log), "started": time.time()}  # fmt: skip
        state.atomic_write(_record_path(), json.dumps(record, indent=2) + "\n")
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                _record_path().unlink(missing_ok=True)
                raise Ray101Error(
                    f"{k} exited with code {proc.returncode} while starting on {host}:{port}; "
                    f"see {log}: {procs.log_tail(log)}"
                )
            if answers(uri, 500):
                return uri
            if time.monotonic() > deadline:
                procs.stop(proc.pid, binary=binary)
                _record_path().unlink(missing_ok=True)
                raise Ray101Error(f"{k} did not answer ping on {host}:{port} within {timeout:.0f}s; see {log}")
            time.sleep(0.1)


def stop() -> dict:
    """Stop the server ray101 started (exactly the recorded pid); fine when none runs."""
    if external_uri() and not _read_record():
        return {"kind": EXTERNAL, "stopped": False, "message": f"external server ({URI_ENV}): not ours to stop"}
    with _locked():
        rec = _read_record()
        if not rec:
            return {"kind": local_kind(), "stopped": False, "message": "no server recorded"}
        stopped = procs.stop(rec["pid"], binary=rec.get("binary"))
        _record_path().unlink(missing_ok=True)
        return {"kind": rec.get("kind"), "stopped": stopped, "pid": rec["pid"],
                "message": f"stopped pid {rec['pid']}" if stopped else "was not running"}  # fmt: skip


def uri() -> str | None:
    """The URI to use: ``RAY101_MONGO_URI``, else our running server's, else None."""
    ext = external_uri()
    if ext:
        return ext
    rec = _read_record()
    return rec["uri"] if _record_alive(rec) else None


def status() -> dict:
    """Where the server is and whether it answers; the URI is redacted."""
    ext = external_uri()
    if ext:
        return {"kind": EXTERNAL, "running": answers(ext, 3000), "managed": False, "uri": redact(ext),
                "hosts": hosts_of(ext)}  # fmt: skip
    rec = _read_record()
    k = (rec.get("kind") if rec else None) or local_kind()
    out = {"kind": k, "running": False, "managed": True, "pid": None, "host": None, "port": None, "uri": None,
           "log": str(_log_path(k)), "data": str(mongo_dir() / ("db" if k == MONGOD else "data"))}  # fmt: skip
    if rec and _record_alive(rec):
        out.update(pid=rec["pid"], host=rec["host"], port=rec["port"], uri=rec["uri"],
                   running=answers(rec["uri"], 2000))  # fmt: skip
    return out
