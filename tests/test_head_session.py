"""The Ray head client keeps one connection open (fast; a fake Jobs API server, no Ray cluster).

Through a port-forward every new TCP connection is a new stream through the API server and the
kubelet; Ray's SDK opens one per request. ray101's client shares a keep-alive session and polls a
forwarded cluster once a second instead of every 0.2 s.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ray101.head import jobs as jobsapi
from ray101.models import Connection, Target


@pytest.fixture()
def fake_jobs_api():
    """A fake Jobs API (HTTP/1.1, keep-alive) that counts the TCP connections it accepts."""
    seen = {"connections": 0, "requests": 0, "auth": set()}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self):
            super().setup()
            seen["connections"] += 1

        def do_GET(self):
            seen["requests"] += 1
            seen["auth"].add(self.headers.get("Authorization"))
            body = {"/api/version": {"version": "4", "ray_version": "2.60.0", "ray_commit": "x"},
                    "/api/jobs/": []}.get(self.path)
            data = json.dumps(body).encode()
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def connection(url: str, via: str | None) -> Connection:
    target = Target(name="k8s-multi", kind="k8s", jobs_url=None, auth="token")
    return Connection(target=target, jobs_url=url, token="t0ken", serve_url=None, via=via)


def test_should_reuse_one_connection_for_every_request(fake_jobs_api):
    url, seen = fake_jobs_api
    api = jobsapi.JobsAPI(connection(url, "port-forward to pod ray101/head"))
    for _ in range(5):
        assert api.list() == []
    assert seen["requests"] >= 6  # the version check, then five lists
    assert seen["connections"] == 1
    assert seen["auth"] == {"Bearer t0ken"}


def test_should_poll_a_forwarded_cluster_once_a_second(fake_jobs_api):
    url, _ = fake_jobs_api
    assert jobsapi.JobsAPI(connection(url, "port-forward to pod ray101/head")).poll_s == 1.0
    assert jobsapi.JobsAPI(connection(url, None)).poll_s == jobsapi.POLL_S == 0.2
