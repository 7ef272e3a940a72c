"""The fast tier: pure logic and the CLI's argument and error handling, in-process.

Nothing here starts a cluster or MongoDB, or reaches a network: every test gets an empty
RAY101_HOME and no kube config, and a socket that tries to connect anywhere fails the test.
Run it alone with `make test-fast` (a few seconds).
"""

from __future__ import annotations

import socket

import pytest


class NetworkUsed(AssertionError):
    """A fast-tier test tried to connect somewhere."""


@pytest.fixture(autouse=True)
def offline(tmp_path, monkeypatch):
    monkeypatch.setenv("RAY101_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    for key in ("RAY101_MONGO_URI", "RAY101_TOKEN_FILE", "RAY_ADDRESS"):
        monkeypatch.delenv(key, raising=False)

    def refuse(self, address, *args):
        raise NetworkUsed(f"the fast tier must not connect anywhere (tried {address!r})")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    yield tmp_path / "home"


@pytest.fixture
def loopback_lab(offline):
    """Both local clusters recorded and registered as `ray101 local up` would leave them on
    loopback, but nothing running: commands get as far as their checks of the input."""
    from ray101.local import cluster as localcluster
    from ray101.local import plan as localplan
    from ray101.local import registered

    plan = localplan.make_plan(netns=False)
    localplan.save_plan(plan)
    for cluster in (localplan.SINGLE, localplan.MULTI):
        registered.add(localcluster.target_for(plan, cluster))
    return plan
