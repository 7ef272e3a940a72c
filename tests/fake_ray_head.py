"""A FAKE Ray head (plain HTTP on 127.0.0.1) for fast tests of the CLI's client side: the
KubeRay path behind the fake Kubernetes API server, and the version warning."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class FakeRayHead:
    """A FAKE Ray head: the few dashboard endpoints the CLI calls (``/api/version`` reporting
    ``ray_version``, an empty job list, ``/echo``); records each Authorization header."""

    def __init__(self, ray_version: str = "2.60.0"):
        self.auth_headers: list[str | None] = []
        head = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                head.auth_headers.append(self.headers.get("Authorization"))
                url = urlparse(self.path)
                if url.path == "/api/version":
                    body = {"version": "4", "ray_version": ray_version, "ray_commit": "fake",
                            "session_name": "fake"}
                elif url.path == "/api/jobs/":
                    body = []
                elif url.path == "/echo":
                    body = {"echo": parse_qs(url.query).get("data", [""])[0]}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
