"""cli/ray101/kube/portforward.py: the port-forward plumbing with plain sockets: the local listeners and the bridge.

The remote side here is a local TCP echo server (or a socket pair), standing in for a pod's
portforward stream; tests/test_kube_fake_api.py runs the real websocket stream.
"""

from __future__ import annotations

import socket
import threading

import pytest

from ray101.kube import portforward


@pytest.fixture
def echo_port():
    """A TCP echo server on 127.0.0.1; returns its port."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve(conn):
        with conn:
            try:
                while data := conn.recv(65536):
                    conn.sendall(data)
            except OSError:  # a test's client went away
                pass

    def accept():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:  # closed at teardown
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1]
    stop.set()
    server.close()


def roundtrip(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while len(received) < len(payload):
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        return received


def test_forwarder_listens_on_free_loopback_ports_and_bridges_bytes(echo_port):
    opened = []

    def open_remote(port):
        opened.append(port)
        return socket.create_connection(("127.0.0.1", echo_port), timeout=5)

    forward = portforward.Forwarder(open_remote, [8265, 8000], "port-forward to pod ns/p")
    try:
        assert set(forward.local) == {8265, 8000}
        assert len(set(forward.local.values())) == 2 and 0 not in forward.local.values()
        payload = bytes(range(256)) * 4096  # 1 MiB, every byte value
        assert roundtrip(forward.local[8265], payload) == payload
        assert roundtrip(forward.local[8000], b"hello") == b"hello"
        assert opened == [8265, 8000]
        assert forward.error is None
    finally:
        forward.close()


def test_forwarder_serves_concurrent_connections(echo_port):
    forward = portforward.Forwarder(lambda port: socket.create_connection(("127.0.0.1", echo_port)),
                             [8265], "port-forward to pod ns/p")
    results = {}

    def client(i):
        results[i] = roundtrip(forward.local[8265], f"request {i} ".encode() * 1000)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(12)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert all(results[i] == f"request {i} ".encode() * 1000 for i in range(12))
    finally:
        forward.close()


def test_forwarder_records_why_a_stream_could_not_open():
    def open_remote(port):
        raise ConnectionRefusedError(111, "Connection refused")

    forward = portforward.Forwarder(open_remote, [8265], "port-forward to pod ns/p")
    try:
        with socket.create_connection(("127.0.0.1", forward.local[8265]), timeout=5) as sock:
            assert sock.recv(10) == b""  # closed by the forwarder
    finally:
        forward.close()  # joins the forwarder's threads: its error is final
    assert forward.error == "cannot open a stream to port 8265: [Errno 111] Connection refused"


def test_forwarder_records_a_stream_closed_without_an_answer():
    class Refusing:
        """A stream whose pod end refuses the port (as the error channel says)."""

        def __init__(self):
            self.a, self.b = socket.socketpair()
            self.b.close()

        def fileno(self):
            return self.a.fileno()

        def recv(self, n):
            return self.a.recv(n)

        def sendall(self, data):
            self.a.sendall(data)

        def failure(self):
            return "error forwarding port 8265 to pod p: connection refused"

        def close(self):
            self.a.close()

    forward = portforward.Forwarder(lambda port: Refusing(), [8265], "port-forward to pod ns/p")
    try:
        with socket.create_connection(("127.0.0.1", forward.local[8265]), timeout=5) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\n\r\n")
            try:
                answer = sock.recv(10)
            except ConnectionResetError:
                # Closed with our request still unread, the kernel resets instead of a FIN
                # (seen once in a fresh-clone `make test`): no answer all the same.
                answer = b""
            assert answer == b""
    finally:
        forward.close()  # joins the forwarder's threads: its error is final
    assert forward.error == "error forwarding port 8265 to pod p: connection refused"


def test_forwarder_stops_listening_when_closed(echo_port):
    forward = portforward.Forwarder(lambda port: socket.create_connection(("127.0.0.1", echo_port)),
                             [8265], "port-forward to pod ns/p")
    port = forward.local[8265]
    forward.close()  # returns once its listener is closed
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1)


def test_bridge_copies_both_ways_until_one_side_closes():
    app, local = socket.socketpair()
    remote, pod = socket.socketpair()
    answered = []
    thread = threading.Thread(target=lambda: answered.append(portforward.bridge(local, remote)))
    thread.start()
    app.sendall(b"request")
    assert pod.recv(100) == b"request"
    pod.sendall(b"response")
    assert app.recv(100) == b"response"
    pod.close()  # the pod's end of stream reaches the app as a half-close
    assert app.recv(100) == b""
    app.sendall(b"late")  # the app may still talk
    app.close()
    thread.join(5)
    assert answered == [True]
    for sock in (app, local, remote):
        sock.close()


def test_bridge_keeps_a_client_half_close_from_the_remote_stream():
    """The Kubernetes client's portforward closes the whole stream when its socket reads end of
    stream: a client's half-close passed on would lose the answer. This remote behaves so."""
    app, local = socket.socketpair()
    remote, pod = socket.socketpair()
    answered = []
    thread = threading.Thread(target=lambda: answered.append(portforward.bridge(local, remote)))
    thread.start()
    app.sendall(b"request")
    app.shutdown(socket.SHUT_WR)  # the client is done sending and waits for the answer
    assert pod.recv(100) == b"request"
    pod.settimeout(0.3)
    with pytest.raises(socket.timeout):  # no end of stream reached the pod's side
        pod.recv(100)
    pod.sendall(b"response")
    pod.close()
    assert app.recv(100) == b"response"
    assert app.recv(100) == b""
    thread.join(5)
    assert answered == [True]
    for sock in (app, local, remote):
        sock.close()


def test_bridge_reports_no_answer_when_the_remote_closes_first():
    app, local = socket.socketpair()
    remote, pod = socket.socketpair()
    pod.close()
    app.close()
    assert portforward.bridge(local, remote) is False
    for sock in (app, local, remote):
        sock.close()


def test_forward_failure_message_mentions_the_port_forward():
    forward = portforward.Forwarder(lambda port: None, [], "port-forward to pod ray101/h")
    base = "cannot reach the Jobs API at http://127.0.0.1:1 (list jobs): is the cluster up?"
    assert portforward.explain_forward_failure(base, forward) == f"{base} (through the port-forward to pod ray101/h)"
    assert portforward.explain_forward_failure("list jobs: no such job on k8s-multi", forward) == (
        "list jobs: no such job on k8s-multi")
    forward.error = "cannot open a stream to port 8265: Handshake status 404 Not Found"
    assert portforward.explain_forward_failure(base, forward).startswith(
        f"{base}; the port-forward to pod ray101/h failed: cannot open a stream to port 8265")
