"""The cluster models: a :class:`Target` (a Ray cluster ray101 can submit to) and a
:class:`Connection` (a target made reachable). Every other module imports them from here."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from ray101.errors import Ray101Error

LOCAL = "local"
K8S = "k8s"
URL = "url"


@dataclass
class KubeInfo:
    """What a KubeRay target's RayCluster said when it was discovered."""

    namespace: str
    raycluster: str  # the RayCluster's name
    key: str  # label ray101.io/cluster: the target is k8s-<key>
    state: str  # status.state, "(no status)" or "(none)"
    ready: bool
    desired_workers: int | None = None
    ready_workers: int | None = None
    available_workers: int | None = None
    auth_secret: str | None = None  # the Secret's name, when the cluster uses token auth
    jobs_in_image: bool = False  # the image has ray101_jobs: no runtime_env needed
    dashboard_port: int = 8265  # the head's ports as the chart set them (headPorts)
    serve_port: int = 8000
    # KubeRay's autoscaler runs the workers (enableInTreeAutoscaling): between min and max.
    autoscaling: bool = False
    min_workers: int | None = None
    max_workers: int | None = None
    idle_timeout_s: int | None = None


@dataclass
class Target:
    name: str
    kind: str  # local | k8s | url
    jobs_url: str | None  # None for k8s targets until connected
    topology: str | None = None  # single | multi
    nodes: int | None = None
    cpus: float | None = None  # logical CPUs in the whole cluster
    auth: str = "none"  # token | none
    token_file: str | None = None  # a path: the token itself is never stored here
    token_secret: str | None = None  # KubeRay: the Secret holding the token, "<ns>/<name>"
    serve_url: str | None = None
    kube: KubeInfo | None = None  # KubeRay clusters only

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Target:
        known = {f for f in cls.__dataclass_fields__}
        fields = {k: v for k, v in data.items() if k in known}
        if fields.get("kube") is not None:
            fields["kube"] = KubeInfo(**fields["kube"])
        return cls(**fields)

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
    # Extra runtime_env for jobs, for clusters whose nodes lack the ray101_jobs package.
    runtime_env: dict | None = None
