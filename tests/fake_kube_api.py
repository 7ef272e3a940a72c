"""A FAKE Kubernetes API server, for testing the CLI's KubeRay code (cli/ray101/kube/) without a cluster.

It is real HTTP on 127.0.0.1 (http.server in a thread), reached by the real `kubernetes` client
through a real kubeconfig file, but it only knows the few requests ray101 makes, and it answers
from fixtures the tests put in it:

- GET    /apis/ray.io/v1/namespaces/{ns}/rayclusters[?labelSelector=...]   (404 "page not found"
         for anything under /apis/ray.io when ``crd_installed`` is False, as without the CRD)
- GET    /apis/ray.io/v1/namespaces/{ns}/rayclusters/{name}
- POST   /apis/ray.io/v1/namespaces/{ns}/rayjobs (409 AlreadyExists for a taken name; 403 when
         ``forbid_rayjobs``), GET and DELETE /apis/ray.io/v1/namespaces/{ns}/rayjobs/{name}:
         a RayJob's status changes only when a test sets it (there is no operator)
- GET    /api/v1/namespaces/{ns}/secrets/{name}
- GET    /api/v1/namespaces/{ns}/pods[?labelSelector=...]
- DELETE /api/v1/namespaces/{ns}/pods/{name}
- GET    /api/v1/namespaces/{ns}/pods/{name}/portforward?ports=N with a websocket upgrade: the
         v4.channel.k8s.io port-forward protocol (one port per websocket, as the Python client
         opens them), bridged to a local TCP port the test names in ``forward_to``; a port with
         no target gets "connection refused" on the error channel, as from a pod.

Label selectors are equality-only (``a=b,c=d``), which is all ray101 sends. Every request is
recorded in ``requests``.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import json
import re
import select
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import yaml


def _matches(labels: dict, selector: str | None) -> bool:
    if not selector:
        return True
    for term in selector.split(","):
        key, _, value = term.partition("=")
        if labels.get(key.strip()) != value.strip():
            return False
    return True


class FakeKubeAPI:
    """Fixtures (``rayclusters``, ``pods``, ``secrets``: name -> object, one namespace each
    keyed by (namespace, name)) served over HTTP. ``on_request(fake, method, path)`` runs before
    each answer, so a test can change the world between two polls."""

    def __init__(self):
        self.rayclusters: dict[tuple[str, str], dict] = {}
        self.pods: dict[tuple[str, str], dict] = {}
        self.secrets: dict[tuple[str, str], dict] = {}
        self.rayjobs: dict[tuple[str, str], dict] = {}
        self.forbid_rayjobs = False
        self.crd_installed = True
        # (namespace, pod) -> {pod port: local TCP port}: where the port-forward streams go.
        self.forward_to: dict[tuple[str, str], dict[int, int]] = {}
        self.requests: list[tuple[str, str]] = []
        self.on_request: Callable[[FakeKubeAPI, str, str], None] | None = None
        self.lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None

    # -- fixtures ----------------------------------------------------------------------------
    def add(self, obj: dict) -> dict:
        ns = obj["metadata"].get("namespace", "ray101")
        obj["metadata"]["namespace"] = ns
        table = {"RayCluster": self.rayclusters, "Pod": self.pods, "Secret": self.secrets}[obj["kind"]]
        with self.lock:
            table[(ns, obj["metadata"]["name"])] = obj
        return obj

    # -- server ------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeKubeAPI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_GET(self):
                fake._handle(self, "GET")

            def do_DELETE(self):
                fake._handle(self, "DELETE")

            def do_POST(self):
                fake._handle(self, "POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def write_kubeconfig(self, path: Path, namespace: str | None = None,
                         context: str = "fake-kind") -> Path:
        ctx = {"cluster": "fake", "user": "fake-user"}
        if namespace:
            ctx["namespace"] = namespace
        path.write_text(yaml.safe_dump({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake-user", "user": {"token": "fake-bearer-for-the-fake-api"}}],
            "contexts": [{"name": context, "context": ctx}],
            "current-context": context,
        }))
        return path

    # -- answers -----------------------------------------------------------------------------
    def _send(self, handler, code: int, body, content_type="application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        handler.send_response(code)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _not_found(self, handler, kind: str, name: str) -> None:
        self._send(handler, 404, {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": f'{kind} "{name}" not found', "reason": "NotFound", "code": 404,
        })

    def _handle(self, handler, method: str) -> None:
        parsed = urlparse(handler.path)
        query = parse_qs(parsed.query)
        selector = (query.get("labelSelector") or [None])[0]
        path = parsed.path
        stream = None
        with self.lock:
            self.requests.append((method, handler.path))
            if self.on_request:
                self.on_request(self, method, path)
            if path.startswith("/apis/ray.io/") and not self.crd_installed:
                return self._send(handler, 404, b"404 page not found\n", "text/plain")
            m = re.fullmatch(r"/apis/ray\.io/v1/namespaces/([^/]+)/rayclusters(?:/([^/]+))?", path)
            if m and method == "GET":
                return self._collection(handler, self.rayclusters, "RayClusterList",
                                        "ray.io/v1", m.group(1), m.group(2), selector,
                                        "rayclusters.ray.io")
            m = re.fullmatch(r"/apis/ray\.io/v1/namespaces/([^/]+)/rayjobs(?:/([^/]+))?", path)
            if m:
                return self._rayjob(handler, method, m.group(1), m.group(2))
            m = re.fullmatch(r"/api/v1/namespaces/([^/]+)/secrets/([^/]+)", path)
            if m and method == "GET":
                return self._collection(handler, self.secrets, "SecretList", "v1",
                                        m.group(1), m.group(2), None, "secrets")
            m = re.fullmatch(r"/api/v1/namespaces/([^/]+)/pods/([^/]+)/portforward", path)
            if m and method == "GET":
                if (m.group(1), m.group(2)) not in self.pods:
                    return self._not_found(handler, "pods", m.group(2))
                port = int((query.get("ports") or ["0"])[0])
                stream = (port, self.forward_to.get((m.group(1), m.group(2)), {}).get(port),
                          m.group(2))
            m = re.fullmatch(r"/api/v1/namespaces/([^/]+)/pods(?:/([^/]+))?", path)
            if m and method == "GET":
                return self._collection(handler, self.pods, "PodList", "v1", m.group(1),
                                        m.group(2), selector, "pods")
            if m and method == "DELETE" and m.group(2):
                pod = self.pods.pop((m.group(1), m.group(2)), None)
                if pod is None:
                    return self._not_found(handler, "pods", m.group(2))
                return self._send(handler, 200, pod)
        if stream:  # long-lived: served without holding the lock
            return _serve_portforward(handler, *stream)
        self._send(handler, 404, b"404 page not found\n", "text/plain")

    def _rayjob(self, handler, method: str, ns: str, name: str | None) -> None:
        if method == "POST" and name is None:
            length = int(handler.headers.get("Content-Length") or 0)
            body = json.loads(handler.rfile.read(length) or b"{}")
            key = (ns, body["metadata"]["name"])
            if self.forbid_rayjobs:
                return self._send(handler, 403, {
                    "kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 403,
                    "reason": "Forbidden", "message": f'rayjobs.ray.io is forbidden: User "fake" '
                    f'cannot create resource "rayjobs" in API group "ray.io" in the namespace "{ns}"'})
            if key in self.rayjobs:
                return self._send(handler, 409, {
                    "kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 409,
                    "reason": "AlreadyExists",
                    "message": f'rayjobs.ray.io "{key[1]}" already exists'})
            body["metadata"]["namespace"] = ns
            self.rayjobs[key] = body
            return self._send(handler, 201, body)
        if method == "GET" and name:
            return self._collection(handler, self.rayjobs, "RayJobList", "ray.io/v1", ns, name,
                                    None, "rayjobs.ray.io")
        if method == "DELETE" and name:
            obj = self.rayjobs.pop((ns, name), None)
            if obj is None:
                return self._not_found(handler, "rayjobs.ray.io", name)
            return self._send(handler, 200, obj)
        return self._send(handler, 405, b"method not allowed\n", "text/plain")

    def _collection(self, handler, table, list_kind, api_version, ns, name, selector, kind):
        if name is not None:
            obj = table.get((ns, name))
            if obj is None:
                return self._not_found(handler, kind, name)
            return self._send(handler, 200, obj)
        items = [copy.deepcopy(o) for (n, _), o in sorted(table.items())
                 if n == ns and _matches(o["metadata"].get("labels") or {}, selector)]
        self._send(handler, 200, {"apiVersion": api_version, "kind": list_kind,
                                  "metadata": {"resourceVersion": "1"}, "items": items})


# -- the port-forward websocket (RFC 6455 framing, Kubernetes v4 channels) ----------------------
_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("websocket closed")
        data += chunk
    return data


def _read_frame(sock: socket.socket) -> tuple[int, bytes]:
    """One client frame: (opcode, unmasked payload). Clients always mask."""
    b0, b1 = _recv_exact(sock, 2)
    size = b1 & 0x7F
    if size == 126:
        size = struct.unpack("!H", _recv_exact(sock, 2))[0]
    elif size == 127:
        size = struct.unpack("!Q", _recv_exact(sock, 8))[0]
    mask = _recv_exact(sock, 4) if b1 & 0x80 else b"\0\0\0\0"
    payload = _recv_exact(sock, size)
    return b0 & 0x0F, bytes(c ^ mask[i % 4] for i, c in enumerate(payload))


def _frame(payload: bytes, opcode: int = 0x2) -> bytes:
    """One server frame (unmasked, final)."""
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x80 | opcode, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 126, size)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, size)
    return header + payload


def _serve_portforward(handler, port: int, target: int | None, pod: str) -> None:
    """Upgrade to a websocket and bridge channel 0 to ``target`` (a local TCP port)."""
    key = handler.headers.get("Sec-WebSocket-Key", "")
    accept = base64.b64encode(hashlib.sha1((key + _WS_GUID).encode()).digest()).decode()
    handler.close_connection = True
    handler.send_response(101, "Switching Protocols")
    handler.send_header("Upgrade", "websocket")
    handler.send_header("Connection", "Upgrade")
    handler.send_header("Sec-WebSocket-Accept", accept)
    handler.send_header("Sec-WebSocket-Protocol", "v4.channel.k8s.io")
    handler.end_headers()
    handler.wfile.flush()
    ws = handler.connection
    port_bytes = struct.pack("<H", port)
    ws.sendall(_frame(b"\0" + port_bytes) + _frame(b"\1" + port_bytes))
    try:
        backend = socket.create_connection(("127.0.0.1", target), timeout=5) if target else None
    except OSError:
        backend = None
    if backend is None:
        ws.sendall(_frame(b"\1" + f"error forwarding port {port} to pod {pod}: dial tcp4 "
                                   f"127.0.0.1:{port}: connect: connection refused".encode()))
        ws.sendall(_frame(b"", 0x8))
        return
    try:
        while True:
            readable, _, _ = select.select([ws, backend], [], [], 5)
            if ws in readable:
                opcode, payload = _read_frame(ws)
                if opcode == 0x8:
                    break
                if opcode == 0x2 and payload[:1] == b"\0" and len(payload) > 1:
                    backend.sendall(payload[1:])
            if backend in readable:
                data = backend.recv(65536)
                if not data:
                    break
                ws.sendall(_frame(b"\0" + data))
        ws.sendall(_frame(b"", 0x8))
    except (ConnectionError, OSError):
        pass
    finally:
        backend.close()


# -- fixture builders: RayClusters and Secrets come from `helm template` of helm/ray101 ----------
def chart_objects() -> list[dict]:
    """The chart's objects as the real helm renders them with default values (cached; a deep
    copy each call). Needs helm (`make tools` or RAY101_HELM), as the chart tests do."""
    from chartlib import render

    return render()


def _chart_raycluster(key: str, workers: int) -> dict:
    """The rendered RayCluster ``key`` (single, multi), or for any other key the rendered one of
    the same shape (multi when it has workers, else single) to be renamed."""
    rendered = {o["metadata"]["labels"]["ray101.io/cluster"]: o
                for o in chart_objects() if o["kind"] == "RayCluster"}
    return rendered.get(key) or rendered["multi" if workers else "single"]


def _relabel(obj: dict, key: str, release: str) -> None:
    labels = obj.get("metadata", {}).get("labels", {})
    if "ray101.io/cluster" in labels:
        labels["ray101.io/cluster"] = key
    if "app.kubernetes.io/instance" in labels:
        labels["app.kubernetes.io/instance"] = release


def raycluster(key: str, workers: int = 0, *, release: str = "ray101", namespace: str = "ray101",
               cpus: str | None = "2", ready: bool = True, status: dict | None = None,
               auth_secret: str | None = "ray101-ray-auth", jobs_in_image: bool = False) -> dict:
    """A RayCluster as helm/ray101 renders it, adjusted: another name, key, release or namespace,
    ``workers`` replicas, ``num-cpus`` (None: not set, so Ray counts the CPU limit), no auth
    (``auth_secret=None``), and the ``status`` KubeRay would give it."""
    obj = copy.deepcopy(_chart_raycluster(key, workers))
    meta = obj["metadata"]
    meta["name"], meta["namespace"] = f"{release}-{key}", namespace
    _relabel(obj, key, release)
    meta.setdefault("annotations", {})["ray101.io/jobs-in-image"] = (
        "true" if jobs_in_image else "false")
    spec = obj["spec"]
    groups = [spec["headGroupSpec"], *spec.get("workerGroupSpecs", [])]
    for group in groups:
        _relabel(group["template"], key, release)
        if cpus is None:
            group["rayStartParams"].pop("num-cpus", None)
        else:
            group["rayStartParams"]["num-cpus"] = cpus
    if workers:
        for group in spec["workerGroupSpecs"]:
            group["replicas"] = group["minReplicas"] = group["maxReplicas"] = workers
    else:
        spec.pop("workerGroupSpecs", None)
    if auth_secret:
        spec["authOptions"] = {"mode": "token", "secretName": auth_secret}
    else:
        spec.pop("authOptions", None)
    if status is None:
        status = ready_status(workers) if ready else {}
    if status:
        obj["status"] = status
    return obj


def ready_status(workers: int) -> dict:
    return {
        "state": "ready",
        "desiredWorkerReplicas": workers, "readyWorkerReplicas": workers,
        "availableWorkerReplicas": workers, "minWorkerReplicas": workers,
        "maxWorkerReplicas": workers,
        "conditions": [
            {"type": "HeadPodReady", "status": "True", "reason": "HeadPodRunningAndReady",
             "lastTransitionTime": "2026-01-01T00:00:00Z"},
            {"type": "RayClusterProvisioned", "status": "True", "reason": "AllPodRunningAndReadyFirstTime",
             "lastTransitionTime": "2026-01-01T00:00:00Z"},
        ],
    }


def starting_status(workers: int) -> dict:
    """What KubeRay reports while the head is still starting."""
    return {
        "desiredWorkerReplicas": workers, "readyWorkerReplicas": 0, "availableWorkerReplicas": 0,
        "conditions": [
            {"type": "HeadPodReady", "status": "False", "reason": "HeadPodNotFound",
             "lastTransitionTime": "2026-01-01T00:00:00Z"},
            {"type": "RayClusterProvisioned", "status": "False",
             "reason": "RayClusterPodsProvisioning", "lastTransitionTime": "2026-01-01T00:00:00Z"},
        ],
    }


def pod(name: str, raycluster: str, node_type: str, *, namespace: str = "ray101",
        ready: bool = True, unschedulable: str | None = None, waiting: str | None = None) -> dict:
    key = raycluster.split("-", 1)[1]
    labels = {"ray.io/cluster": raycluster, "ray.io/node-type": node_type,
              "app.kubernetes.io/part-of": "ray101", "ray101.io/cluster": key}
    if unschedulable:
        status = {"phase": "Pending", "conditions": [{
            "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
            "message": unschedulable, "lastTransitionTime": "2026-01-01T00:00:00Z"}]}
    else:
        status = {"phase": "Running" if ready or not waiting else "Pending", "conditions": [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"},
            {"type": "Ready", "status": "True" if ready else "False",
             "lastTransitionTime": "2026-01-01T00:00:00Z"},
        ]}
        if waiting:
            status["containerStatuses"] = [{
                "name": "ray-worker", "image": "rayproject/ray:2.60.0-py311", "imageID": "",
                "ready": False, "restartCount": 0,
                "state": {"waiting": {"reason": waiting, "message": f"{waiting} for the test"}}}]
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"containers": [{"name": f"ray-{node_type}", "image": "rayproject/ray:2.60.0-py311"}]},
        "status": status,
    }


def secret(name: str, token: str, namespace: str = "ray101") -> dict:
    """The chart's Ray auth Secret (rendered), named ``name``, holding ``token``."""
    [obj] = [o for o in chart_objects() if o["kind"] == "Secret"
             and "auth_token" in (o.get("data") or o.get("stringData") or {})]
    obj["metadata"]["name"], obj["metadata"]["namespace"] = name, namespace
    obj.pop("stringData", None)
    obj["data"] = {"auth_token": base64.b64encode(token.encode()).decode()}
    return obj


def lab(fake: FakeKubeAPI, token: str, namespace: str = "ray101") -> None:
    """What `make deploy` leaves: k8s-single (head only) and k8s-multi (head + 2 workers), ready."""
    fake.add(raycluster("single", 0, namespace=namespace))
    fake.add(raycluster("multi", 2, namespace=namespace))
    fake.add(secret("ray101-ray-auth", token, namespace))
    fake.add(pod("ray101-single-head-9dlnm", "ray101-single", "head", namespace=namespace))
    fake.add(pod("ray101-multi-head-x7k2p", "ray101-multi", "head", namespace=namespace))
    fake.add(pod("ray101-multi-workers-worker-4q9tz", "ray101-multi", "worker", namespace=namespace))
    fake.add(pod("ray101-multi-workers-worker-v8wzc", "ray101-multi", "worker", namespace=namespace))


@contextlib.contextmanager
def deployed(tmp_path: Path, monkeypatch, token: str) -> Iterator[FakeKubeAPI]:
    """The fake API server with what `make deploy` leaves (:func:`lab`), as the CLI finds it: a
    kubeconfig for it in KUBECONFIG, a fresh RAY101_HOME under tmp_path, no RAY101_NAMESPACE and
    readiness polling every 10 ms (`monkeypatch` undoes these); the server stopped at the end. A
    test's fixture adds what it needs inside the block."""
    from ray101.kube import readiness

    api = FakeKubeAPI().start()
    try:
        lab(api, token)
        monkeypatch.setenv("KUBECONFIG", str(api.write_kubeconfig(tmp_path / "kubeconfig")))
        monkeypatch.setenv("RAY101_HOME", str(tmp_path / "home"))
        monkeypatch.delenv("RAY101_NAMESPACE", raising=False)
        monkeypatch.setattr(readiness, "POLL_S", 0.01)
        yield api
    finally:
        api.stop()


def forward_heads_to(api: FakeKubeAPI, port: int) -> None:
    """Every head pod's port-forward streams (dashboard 8265, Serve 8000) reach ``port``: a
    fake Ray head's."""
    for (ns, name), pod in api.pods.items():
        if pod["metadata"]["labels"]["ray.io/node-type"] == "head":
            api.forward_to[(ns, name)] = {8265: port, 8000: port}
