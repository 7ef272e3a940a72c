"""Shared fixtures: one pair of real local Ray clusters (and MongoDB) for the whole session.

The clusters run under a private RAY101_HOME, on a subnet (network namespaces, as root) or
ports that clash with nothing a user runs, so `make test` can run beside `make demo`. The lab
itself (home, environment, running the CLI, the transcript) is bench/harness.py's.
"""

from __future__ import annotations

import os
import shutil
import sys

import pytest

# The tests import these from here.
from bench.harness import RAY101, REPO, TRANSCRIPT, make_lab  # noqa: F401
from bench.harness import free_subnet as _free_subnet

TEST_MONGO_PORT = int(os.environ.get("RAY101_TEST_MONGO_PORT", "27217"))  # apart from `make demo`


# Why a test skips where nodes cannot be separate hosts. As root on Linux (with `ip`) the session
# clusters run in network namespaces, one IP per node; elsewhere every node is on loopback.
NEEDS_ROOT = "needs root and network namespaces (loopback nodes of a non-root user share one IP)"


def _can_use_netns() -> bool:
    from ray101.local.plan import can_use_netns

    return can_use_netns()


needs_netns = pytest.mark.skipif(not _can_use_netns(), reason=NEEDS_ROOT)


def pytest_collection_modifyitems(config, items):
    """Tests marked ``suite_end`` check what the whole session left behind: run them after every
    other test, whatever their file names; alone there is nothing to check, so they skip."""
    last = [item for item in items if item.get_closest_marker("suite_end")]
    if not last:
        return
    rest = [item for item in items if not item.get_closest_marker("suite_end")]
    if not rest:
        for item in last:
            item.add_marker(pytest.mark.skip(
                reason="checks what the rest of the suite left behind: run it with the suite"))
    items[:] = rest + last


def free_subnet(start: int = 199) -> str:
    """A /24 no interface uses, away from the default 10.101.0.0/24 of `make demo` (and from
    the benchmarks' 157)."""
    return _free_subnet(start)


@pytest.fixture(scope="session")
def lab():
    """MongoDB + local-single + local-multi, started once with `ray101 local up`."""
    lab = make_lab("t")
    try:
        lab.cli("local", "up", "--subnet", free_subnet(), "--mongo-port", str(TEST_MONGO_PORT),
                timeout=900, check=True)
        yield lab
    finally:
        down = lab.cli("local", "down", timeout=300)
        if down.returncode != 0:
            print(down.stdout, down.stderr, file=sys.stderr)
        shutil.rmtree(lab.home, ignore_errors=True)
