"""A TCP proxy the test controls, in front of a real Ray head: it passes bytes, drops every
connection (reset, as a restarting head or a broken port-forward would), or stalls (accepts and
relays nothing, as a paused dashboard would). No mock of the client: ray101 talks HTTP through
it to the real Jobs API."""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
import time

PASS, DROP, STALL = "pass", "drop", "stall"


def _reset(sock: socket.socket) -> None:
    """Close with a TCP reset (SO_LINGER 0), not a polite FIN."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


class TcpProxy:
    """127.0.0.1:<free port> -> ``host:port``; :meth:`set` switches the mode at once."""

    def __init__(self, host: str, port: int):
        self.target = (host, port)
        self.mode = PASS
        self.accepted = 0
        self._lock = threading.Lock()
        self._socks: set[socket.socket] = set()  # every open socket, both sides
        self._closed = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def set(self, mode: str) -> None:
        """``drop``: reset every open connection and each new one; ``stall``: relay nothing
        (connections stay open, silent); ``pass``: back to normal (stalled ones are reset)."""
        with self._lock:
            previous, self.mode = self.mode, mode
            doomed = list(self._socks) if mode == DROP or previous == STALL else []
            self._socks.difference_update(doomed)
        for sock in doomed:
            _reset(sock)

    def hiccup(self, mode: str, seconds: float) -> None:
        """``mode`` for ``seconds`` (the test's own bounded wait), then pass again."""
        self.set(mode)
        time.sleep(seconds)
        self.set(PASS)

    def close(self) -> None:
        self._closed.set()
        self.set(DROP)
        with contextlib.suppress(OSError):
            self._listener.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted += 1
            if self.mode == DROP:
                _reset(conn)
                continue
            with self._lock:
                self._socks.add(conn)
            threading.Thread(target=self._relay, args=(conn,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            _reset(client)
            return
        with self._lock:
            self._socks.add(upstream)
        peers = {client: upstream, upstream: client}
        try:
            while not self._closed.is_set():
                if self.mode != PASS:  # stalled (or being dropped): move no byte
                    time.sleep(0.05)
                    if client not in self._socks:
                        return
                    continue
                readable, _, _ = select.select(list(peers), [], [], 0.1)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except (OSError, ValueError):
            return
        finally:
            with self._lock:
                self._socks.discard(client)
                self._socks.discard(upstream)
            for sock in (client, upstream):
                with contextlib.suppress(OSError):
                    sock.close()
