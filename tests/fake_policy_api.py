"""A FAKE Kubernetes API for the NetworkPolicy engine's dataplane test (tests/test_network_policy_engine.py).

kube-network-policies lists and watches pods, namespaces and networkpolicies, cluster-wide, and
posts events. This answers exactly that from a JSON file: ``{"pods": [...], "namespaces": [...],
"networkpolicies": [...]}``. Lists carry resourceVersion "1"; a watch stays open, silent, until its
timeoutSeconds (at most 30 s) run out, as on a cluster where nothing changes. Everything else is 404.

Run as a script (the test starts it inside a network namespace): fake_policy_api.py PORT WORLD.json
"""

from __future__ import annotations

import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

COLLECTIONS = {
    "/api/v1/pods": ("pods", "PodList", "v1"),
    "/api/v1/namespaces": ("namespaces", "NamespaceList", "v1"),
    "/apis/networking.k8s.io/v1/networkpolicies": ("networkpolicies", "NetworkPolicyList", "networking.k8s.io/v1"),
}


def serve(port: int, world: dict) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # the test shows the engine's log, not ours
            pass

        def _json(self, code: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            url = urlparse(self.path)
            query = parse_qs(url.query)
            if url.path not in COLLECTIONS:
                return self._json(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                        "reason": "NotFound", "code": 404})
            key, kind, api_version = COLLECTIONS[url.path]
            if query.get("watch") == ["true"]:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                self.wfile.flush()
                time.sleep(min(float(query.get("timeoutSeconds", ["30"])[0]), 30.0))
                self.wfile.write(b"0\r\n\r\n")
                return None
            return self._json(200, {"kind": kind, "apiVersion": api_version,
                                    "metadata": {"resourceVersion": "1"}, "items": world.get(key, [])})

        def do_POST(self):  # events
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            self._json(201, body)

        do_PATCH = do_POST

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print("usage: fake_policy_api.py PORT WORLD.json", file=sys.stderr)
        sys.exit(2)
    with open(sys.argv[2]) as f:
        serve(int(sys.argv[1]), json.load(f))
