"""Cluster targets: one resolver for local clusters, KubeRay clusters and bare Jobs API URLs.

A *target* names a Ray cluster that ray101 can submit jobs to. ``resolve`` turns what the user
typed after ``--cluster`` into a :class:`Target`; ``connect`` turns a target into a live
:class:`Connection` (for KubeRay clusters that means a port-forward, opened and closed here).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

from ray101 import state
from ray101.errors import Ray101Error

LOCAL = "local"
K8S = "k8s"
URL = "url"

_URL_RE = re.compile(r"^https?://[^\s/]+(:\d+)?/?$")


@dataclass
class Target:
    name: str
    kind: str  # local | k8s | url
    jobs_url: str | None  # None for k8s targets until connected
    topology: str | None = None  # single | multi
    nodes: int | None = None
    cpus: float | None = None  # logical CPUs in the whole cluster
    auth: str = "none"  # token | none
    token_file: str | None = None  # path only: the token itself is never stored here
    serve_url: str | None = None
    # Extra runtime_env for jobs, for clusters whose nodes lack the ray101_jobs package.
    runtime_env: dict | None = None
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Target":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})

    def read_token(self) -> str | None:
        if self.auth != "token":
            return None
        if not self.token_file:
            raise Ray101Error(f"cluster '{self.name}' uses token auth but has no token file")
        try:
            token = Path(self.token_file).read_text().strip()
        except OSError as exc:
            raise Ray101Error(
                f"cannot read the auth token of cluster '{self.name}' from {self.token_file}: "
                f"{exc.strerror}"
            ) from None
        if not token:
            raise Ray101Error(f"the auth token file {self.token_file} is empty")
        return token


@dataclass
class Connection:
    """A target made reachable: where its Jobs API and Serve proxy answer right now."""

    target: Target
    jobs_url: str
    token: str | None
    serve_url: str | None
    # How the CLI reaches the cluster when it is not direct, for error messages
    # (k8s: "port-forward to pod <ns>/<head pod>").
    via: str | None = None

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}


def _registry_path() -> Path:
    return state.home() / "clusters.json"


def registered() -> dict[str, Target]:
    """Clusters registered by ``ray101 local up`` (name -> target)."""
    path = _registry_path()
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise Ray101Error(f"the cluster registry {path} is unreadable: {exc}") from None
    return {name: Target.from_dict(t) for name, t in data.items()}


def register(target: Target) -> None:
    data = {name: t.to_dict() for name, t in registered().items()}
    data[target.name] = target.to_dict()
    state.atomic_write(_registry_path(), json.dumps(data, indent=2, sort_keys=True) + "\n")


def unregister(name: str) -> None:
    data = {n: t.to_dict() for n, t in registered().items() if n != name}
    state.atomic_write(_registry_path(), json.dumps(data, indent=2, sort_keys=True) + "\n")


def all_targets(include_k8s: bool = True) -> list[Target]:
    """Every cluster ray101 knows: registered local ones, then KubeRay ones in the kube context."""
    targets = list(registered().values())
    if include_k8s:
        from ray101 import kube

        targets.extend(kube.discover(quiet=True))
    return targets


def resolve(name: str) -> Target:
    """Turn ``--cluster NAME`` into a target: a registered name, ``k8s-*``, or a Jobs API URL."""
    if _URL_RE.match(name):
        token_file = os.environ.get("RAY101_TOKEN_FILE")
        return Target(
            name=name.rstrip("/"),
            kind=URL,
            jobs_url=name.rstrip("/"),
            auth="token" if token_file else "none",
            token_file=token_file,
        )
    local = registered()
    if name in local:
        return local[name]
    if name.startswith("k8s-"):
        from ray101 import kube

        return kube.find(name)
    known = sorted(local) or ["none registered: run `ray101 local up`"]
    raise Ray101Error(
        f"unknown cluster '{name}' (known: {', '.join(known)}; k8s-* names come from the kube "
        "context; a Jobs API URL such as http://127.0.0.1:8265 also works)"
    )


@contextlib.contextmanager
def connect(target: Target) -> Iterator[Connection]:
    """Make ``target`` reachable for the duration of the ``with`` block."""
    if target.kind == K8S:
        from ray101 import kube

        with kube.connect(target) as conn:
            yield conn
        return
    yield Connection(
        target=target,
        jobs_url=target.jobs_url,
        token=target.read_token(),
        serve_url=target.serve_url,
    )
