"""A throwaway FerretDB for tests: its own RAY101_HOME, a free port from 27117 up.

Import the fixtures where needed (``from mongo_support import ferret, mflix_uri``); the FerretDB
binary is built once into ``$RAY101_TOOLS/bin`` (`make test`: ``<repo>/.tools/bin``) and reused.
Tests are skipped when it
is neither built nor buildable (no Go).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket

import pytest

FIRST_PORT = 27117


def free_port(start: int = FIRST_PORT) -> int:
    for port in range(start, start + 200):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {start}..{start + 199}")


def closed_port() -> int:
    """A port nothing listens on (bound and released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _env(env: dict):
    mp = pytest.MonkeyPatch()
    for key, value in env.items():
        mp.setenv(key, value)
    mp.delenv("RAY101_MONGO_URI", raising=False)
    try:
        yield
    finally:
        mp.undo()


@pytest.fixture(scope="session")
def ferret(tmp_path_factory):
    """``{"home", "port", "env", "uri"}`` of a FerretDB owned by this test session.

    The environment is set only while starting and stopping it, so other tests keep theirs;
    use ``mongo_env`` in tests that call ``ray101.mongo`` or the CLI.
    """
    from ray101.mongo import ferretdb
    from ray101.mongo import server as mongo

    home = tmp_path_factory.mktemp("ray101-home")
    env = {"RAY101_HOME": str(home), "RAY101_MONGO_SERVER": "ferretdb"}
    with _env(env):
        if not os.access(ferretdb.path(), os.X_OK) and not shutil.which("go"):
            pytest.skip("FerretDB is not built and Go is missing to build it")
        port = free_port()
        uri = mongo.ensure_running("127.0.0.1", port)
    try:
        yield {"home": home, "port": port, "env": env, "uri": uri}
    finally:
        with _env(env):
            mongo.stop()


@pytest.fixture
def mongo_env(ferret, monkeypatch):
    """This test runs with the test server's RAY101_HOME (and no RAY101_MONGO_URI)."""
    for key, value in ferret["env"].items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("RAY101_MONGO_URI", raising=False)
    return ferret


@pytest.fixture
def mongo_uri(mongo_env):
    """The test server's URI, started again if a test stopped it."""
    from ray101.mongo import server as mongo

    return mongo.ensure_running("127.0.0.1", mongo_env["port"])


@pytest.fixture(scope="session")
def mflix_uri(ferret):
    """The test server seeded with the default sample_mflix (44,562 documents)."""
    from ray101.mongo import server as mongo
    from ray101_jobs import mflix

    with _env(ferret["env"]):
        uri = mongo.ensure_running("127.0.0.1", ferret["port"])
    mflix.seed(uri)
    return uri
