"""CLI conventions against a FAKE Ray head (no cluster): RAY101_CLUSTER as the default for
--cluster, and the one-line warning when the cluster's Ray differs from the client's.

The fake is a small HTTP server answering /api/version and /api/jobs/ the way Ray's dashboard
does; everything else (the CLI, the Ray SDK's JobSubmissionClient) is real.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import ray

from bench.harness import REPO
from fake_ray_head import FakeRayHead


@pytest.fixture
def head(request, tmp_path):
    fake = FakeRayHead(getattr(request, "param", ray.__version__))
    yield fake
    fake.stop()


def cli(*args, tmp_path, env=None):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "RAY101_"))}
    return subprocess.run([sys.executable, "-m", "ray101", *args], capture_output=True,
                          text=True, timeout=60, cwd=REPO, stdin=subprocess.DEVNULL,
                          env={**base, "RAY101_HOME": str(tmp_path), **(env or {})})


def test_ray101_cluster_is_the_default_for_cluster(head, tmp_path):
    proc = cli("jobs", "list", "--json", tmp_path=tmp_path, env={"RAY101_CLUSTER": head.url})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []
    assert proc.stderr == ""  # same Ray on both sides: no warning


def test_without_cluster_or_ray101_cluster_the_error_names_both(tmp_path):
    proc = cli("jobs", "list", tmp_path=tmp_path)
    assert proc.returncode == 2
    assert "Missing option '--cluster'" in proc.stderr and "RAY101_CLUSTER" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("head", ["2.9.3"], indirect=True)
def test_another_ray_on_the_cluster_is_one_warning_line(head, tmp_path):
    proc = cli("jobs", "list", "--json", "--cluster", head.url, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []  # --json output untouched: the warning is on stderr
    assert proc.stderr.splitlines() == [
        f"Warning: cluster {head.url} runs Ray 2.9.3, this client Ray {ray.__version__}; jobs "
        "and the dashboard may misbehave (use the same Ray on both)"]
