"""Shared fixtures: one pair of real local Ray clusters (and MongoDB) for the whole session.

The clusters run under a private RAY101_HOME, on a subnet (network namespaces, as root) or
ports that clash with nothing a user runs, so `make test` can run beside `make demo`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
RAY101 = [sys.executable, "-m", "ray101"]
TEST_MONGO_PORT = int(os.environ.get("RAY101_TEST_MONGO_PORT", "27217"))  # apart from `make demo`
TRANSCRIPT = "transcript.log"  # every line the CLI printed in this lab


# Why a test skips where nodes cannot be separate hosts. As root on Linux (with `ip`) the session
# clusters run in network namespaces, one IP per node; elsewhere every node is on loopback.
NEEDS_ROOT = "needs root and network namespaces (loopback nodes of a non-root user share one IP)"


def _can_use_netns() -> bool:
    from ray101.localcluster import can_use_netns

    return can_use_netns()


needs_netns = pytest.mark.skipif(not _can_use_netns(), reason=NEEDS_ROOT)


def free_subnet(start: int = 199) -> str:
    """A /24 no interface uses, away from the default 10.101.0.0/24 of `make demo`."""
    from ray101.localcluster import free_subnet as free

    return free(start)


@dataclass
class Lab:
    home: Path
    env: dict

    def cli(self, *args: str, timeout: float = 600, env: dict | None = None,
            check: bool = False) -> subprocess.CompletedProcess:
        """Run the real `ray101` command in a subprocess, as a user would."""
        proc = subprocess.run(
            [*RAY101, *args], capture_output=True, text=True, timeout=timeout,
            env={**self.env, **(env or {})}, stdin=subprocess.DEVNULL, cwd=REPO,
        )
        self.record(args, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            raise AssertionError(
                f"ray101 {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def record(self, args, stdout: str | None, stderr: str | None) -> None:
        """Append what a CLI call printed to the lab's transcript (searched for leaked secrets)."""
        with open(self.home / TRANSCRIPT, "a") as fh:
            fh.write(f"$ ray101 {' '.join(map(str, args))}\n{stdout or ''}{stderr or ''}\n")

    def token(self) -> str:
        return (self.home / "auth_token").read_text().strip()


def _new_home(tag: str) -> Path:
    # Short: Ray's socket paths live under /tmp/<prefix>, and our state dir stays readable.
    return Path(tempfile.mkdtemp(prefix=f"r101{tag}-"))


def make_lab(tag: str) -> Lab:
    home = _new_home(tag)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "RAY101_"))}
    env.update({"RAY101_HOME": str(home), "PYTHONUNBUFFERED": "1"})
    if os.environ.get("RAY101_TOOLS"):
        env["RAY101_TOOLS"] = os.environ["RAY101_TOOLS"]
    if os.environ.get("RAY101_MONGO_URI"):
        env["RAY101_MONGO_URI"] = os.environ["RAY101_MONGO_URI"]
    return Lab(home=home, env=env)


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
