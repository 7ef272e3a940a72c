"""The resolver: one place that turns a cluster name into a target and a target into a live
connection, for local clusters, KubeRay clusters and bare Jobs API URLs.

``resolve`` turns what the user typed after ``--cluster`` into a :class:`~ray101.models.Target`;
``connect`` turns a target into a live :class:`~ray101.models.Connection` (for KubeRay clusters
that means a port-forward, opened and closed here). This module depends on the local registry
and on ``ray101.kube``; neither depends on it.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator

from ray101.errors import Ray101Error
from ray101.kube import connection as kube_connection
from ray101.kube import discovery as kube_discovery
from ray101.kube.readiness import ReadyProgress
from ray101.local import registered
from ray101.models import K8S, URL, Connection, Target

_URL_RE = re.compile(r"^https?://[^\s/]+(:\d+)?/?$")


def all_targets(include_k8s: bool = True) -> list[Target]:
    """Every cluster ray101 knows: registered local ones, then KubeRay ones in the kube context."""
    targets = list(registered.targets().values())
    if include_k8s:
        targets.extend(kube_discovery.discover(quiet=True))
    return targets


def resolve(name: str) -> Target:
    """Turn ``--cluster NAME`` into a target: a registered name, ``k8s-*``, or a Jobs API URL."""
    if _URL_RE.match(name):
        token_file = os.environ.get("RAY101_TOKEN_FILE")
        if token_file:
            from urllib.parse import urlsplit

            from ray101.head.client import warn_on_token_in_clear

            own = {urlsplit(t.jobs_url).hostname or "" for t in registered.targets().values()
                   if t.jobs_url}
            warn_on_token_in_clear(name, own)
        return Target(
            name=name.rstrip("/"),
            kind=URL,
            jobs_url=name.rstrip("/"),
            auth="token" if token_file else "none",
            token_file=token_file,
        )
    local = registered.targets()
    if name in local:
        return local[name]
    if name.startswith("k8s-"):
        return kube_discovery.find(name)
    known = sorted(local) or ["none registered: run `ray101 local up`"]
    raise Ray101Error(
        f"unknown cluster '{name}' (known: {', '.join(known)}; k8s-* names come from the kube "
        "context; a Jobs API URL such as http://127.0.0.1:8265 also works)"
    )


@contextlib.contextmanager
def connect(target: Target,
            on_wait: Callable[[ReadyProgress], None] | None = None,
            dashboard_port: int | None = None) -> Iterator[Connection]:
    """Make ``target`` reachable for the duration of the ``with`` block.

    ``on_wait`` hears how a KubeRay cluster's readiness is coming along while ray101 waits for it.
    ``dashboard_port``: reach the dashboard (and Jobs API) on 127.0.0.1 at this port, through a
    port-forward held for the ``with`` block (KubeRay: to the head pod; else: to ``jobs_url``).
    """
    if target.kind == K8S:
        with kube_connection.connect(target, on_wait, dashboard_port) as conn:
            yield conn
        return
    if not target.jobs_url:
        raise Ray101Error(f"cluster '{target.name}' has no Jobs API address")
    token = target.read_token()
    if dashboard_port is None:
        yield Connection(target=target, jobs_url=target.jobs_url, token=token,
                         serve_url=target.serve_url)
        return
    import socket
    from urllib.parse import urlsplit

    from ray101.kube.portforward import Forwarder

    remote = urlsplit(target.jobs_url)
    host, port = remote.hostname or "127.0.0.1", remote.port or 80
    via = f"port-forward to {host}:{port}"

    def open_remote(p: int) -> socket.socket:
        sock = socket.create_connection((host, p), timeout=10)
        sock.settimeout(None)
        return sock

    forward = Forwarder(open_remote, [port], via, local_ports={port: dashboard_port})
    try:
        yield Connection(target=target, jobs_url=f"http://127.0.0.1:{dashboard_port}",
                         token=token, serve_url=target.serve_url, via=via)
    finally:
        forward.close()
