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
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import ray

from bench.lab import REPO


class FakeRayHead:
    """A FAKE Ray head reporting ``ray_version``, with no jobs."""

    def __init__(self, ray_version: str):
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path == "/api/version":
                    body = {"version": "4", "ray_version": ray_version, "ray_commit": "fake",
                            "session_name": "fake"}
                elif self.path.startswith("/api/jobs/"):
                    body = []
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


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
