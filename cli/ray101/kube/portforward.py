"""The port-forward to a head pod, in-process: ``kubectl port-forward`` without kubectl.

:class:`Forwarder` listens on free ports of 127.0.0.1 and bridges each accepted connection to a
fresh stream from ``open_remote`` (for a pod, a Kubernetes portforward websocket,
:class:`PodStream`); :func:`bridge` copies the bytes both ways.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Callable
from typing import Protocol

from ray101.errors import Ray101Error
from ray101.kube.client import Kube, first_line


def stream_error(exc: BaseException) -> str:
    """Why a portforward stream did not open (the client wraps websocket errors as status 0)."""
    reason = getattr(exc, "reason", None)
    if getattr(exc, "status", None) == 0 and reason:
        text = str(reason).split(" -+-+- ")[0]  # websocket-client appends headers and body
        return first_line(RuntimeError(text))
    return first_line(exc)


class Stream(Protocol):
    """What ``Forwarder`` needs of a connection to the remote port (a socket is one)."""

    def fileno(self) -> int: ...
    def recv(self, size: int, /) -> bytes: ...
    def sendall(self, data: bytes, /) -> None: ...
    def close(self) -> None: ...


class Forwarder:
    """``kubectl port-forward`` in-process: a listener on 127.0.0.1 per remote port, and a
    thread per accepted connection bridging its bytes to a fresh stream from ``open_remote``.

    ``open_remote(port)`` returns a connected socket-like object (``recv``, ``sendall``,
    ``fileno``, ``close``); for a pod it is a Kubernetes portforward stream. Failures are kept in
    ``error`` so that the caller can say why a request through the forward failed.
    """

    def __init__(self, open_remote: Callable[[int], Stream], ports: list[int], what: str,
                 local_ports: dict[int, int] | None = None):
        """``local_ports`` fixes the local port of some remote ports (default: a free one)."""
        self.open_remote = open_remote
        self.what = what
        self.error: str | None = None
        self.local: dict[int, int] = {}
        self._listeners: list[socket.socket] = []
        self._closed = threading.Event()
        self._acceptors: list[threading.Thread] = []
        self._bridges: list[threading.Thread] = []
        self._lock = threading.Lock()  # acceptors of several ports add bridges at once
        for port in ports:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            fixed = (local_ports or {}).get(port, 0)
            try:
                listener.bind(("127.0.0.1", fixed))
            except OSError as exc:
                listener.close()
                self.close()
                raise Ray101Error(f"cannot listen on 127.0.0.1:{fixed} for the {what}: "
                                  f"{exc.strerror} (choose another --port)") from None
            listener.listen(32)
            listener.settimeout(0.2)
            self._listeners.append(listener)
            self.local[port] = listener.getsockname()[1]
            acceptor = threading.Thread(target=self._accept, args=(listener, port), daemon=True,
                                        name=f"ray101 forward :{self.local[port]} -> {port}")
            self._acceptors.append(acceptor)
            acceptor.start()

    def _accept(self, listener: socket.socket, port: int) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            bridging = threading.Thread(target=self._serve, args=(conn, port), daemon=True)
            with self._lock:
                self._bridges = [t for t in self._bridges if t.is_alive()] + [bridging]
            bridging.start()

    def _serve(self, conn: socket.socket, port: int) -> None:
        try:
            remote = self.open_remote(port)
        except Exception as exc:  # the pod is gone, the API server unreachable, ...
            self.error = f"cannot open a stream to port {port}: {stream_error(exc)}"
            conn.close()
            return
        try:
            answered = bridge(conn, remote, self._closed)
            if not answered and not self._closed.is_set():
                why = getattr(remote, "failure", lambda: None)()
                self.error = why or f"the connection to port {port} closed without an answer"
            else:
                self.error = None
        finally:
            for sock in (conn, remote):
                with contextlib.suppress(OSError):
                    sock.close()

    def close(self, timeout: float = 10.0) -> None:
        """Stop listening and bridging, and wait (up to ``timeout`` s) for every thread to end:
        afterwards the local ports are closed and ``error`` is final."""
        self._closed.set()
        deadline = time.monotonic() + timeout
        for thread in self._acceptors:  # they notice within their 0.2 s accept timeout
            thread.join(max(0.0, deadline - time.monotonic()))
        for listener in self._listeners:
            with contextlib.suppress(OSError):
                listener.close()
        with self._lock:
            bridges = list(self._bridges)
        for thread in bridges:  # bridge() notices within its 0.5 s select timeout
            thread.join(max(0.0, deadline - time.monotonic()))


def bridge(local: Stream, remote: Stream, stop: threading.Event | None = None) -> bool:
    """Copy bytes both ways until the remote side is done; True if ``remote`` sent anything.

    The remote's end of stream reaches the local client as a half-close (``shutdown(SHUT_WR)``),
    so it still may send. The local client's end of stream is NOT passed on: the Kubernetes
    client's portforward closes the whole stream when its socket reads end of stream, which would
    drop the answer to a client that half-closes after its request. The bridge then only relays
    the answer, until the remote closes or the client is gone.
    """
    answered = False
    peers = {local: remote, remote: local}
    reading = [local, remote]
    while remote in reading and (stop is None or not stop.is_set()):
        try:
            readable, _, _ = select.select(reading, [], [], 0.5)
        except (OSError, ValueError):  # a side was closed under us
            return answered
        for sock in readable:
            try:
                data = sock.recv(65536)
            except OSError:
                return answered
            if not data:
                if sock is remote and not answered:
                    return False  # refused or dropped: let the caller say why before closing
                reading.remove(sock)
                if sock is remote:  # a Stream may not have shutdown()
                    with contextlib.suppress(OSError, AttributeError):
                        local.shutdown(socket.SHUT_WR)  # type: ignore[attr-defined]
                continue
            if sock is remote:
                answered = True
            try:
                peers[sock].sendall(data)
            except OSError:
                return answered
    return answered


class PodStream:
    """One Kubernetes portforward websocket to one pod port, as a socket."""

    def __init__(self, kube: Kube, pod: str, port: int):
        from kubernetes.stream import portforward

        self.port = port
        self.pf = portforward(kube.core.connect_get_namespaced_pod_portforward, pod,
                              kube.namespace, ports=str(port))
        self.sock = self.pf.socket(port)
        self.sock.setblocking(True)

    def fileno(self) -> int:
        return self.sock.fileno()

    def recv(self, size: int) -> bytes:
        return self.sock.recv(size)

    def sendall(self, data: bytes) -> None:
        self.sock.sendall(data)

    def shutdown(self, how: int) -> None:
        self.sock.shutdown(how)

    def failure(self) -> str | None:
        error = self.pf.error(self.port)
        return error.strip() if error else None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.pf.close()


def explain_forward_failure(message: str, forward: Forwarder) -> str:
    """Add the port-forward's side of the story to a Jobs API connection error."""
    unreachable = message.startswith(("cannot reach the Jobs API", "the Jobs API at")) and (
        "did not answer" in message or "cannot reach" in message)
    if forward.error:
        return (f"{message}; the {forward.what} failed: {forward.error} (is the head pod still "
                "running? the next ray101 command opens a new port-forward)")
    if unreachable:
        return f"{message} (through the {forward.what})"
    return message
