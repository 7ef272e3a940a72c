"""The chart's RayClusters as ``k8s-<key>`` targets, and what a RayCluster's status and pods say."""

from __future__ import annotations

import sys

from ray101.errors import Ray101Error
from ray101.kube.client import client
from ray101.models import K8S, KubeInfo, Target

DASHBOARD_PORT = 8265  # Ray's defaults: the dashboard and Jobs API, and Serve's proxy
SERVE_PORT = 8000

CLUSTER_LABEL = "ray101.io/cluster"
JOBS_IN_IMAGE = "ray101.io/jobs-in-image"


def _num_cpus(group: dict) -> float | None:
    """Logical CPUs Ray advertises per pod of a group: num-cpus, else the CPU limit (as KubeRay)."""
    value = (group.get("rayStartParams") or {}).get("num-cpus")
    if value is not None:
        try:
            return float(value)
        except ValueError:
            return None
    containers = ((group.get("template") or {}).get("spec") or {}).get("containers") or [{}]
    limit = ((containers[0].get("resources") or {}).get("limits") or {}).get("cpu")
    if limit is None:
        return None
    text = str(limit)
    cpus = float(text[:-1]) / 1000 if text.endswith("m") else float(text)
    return float(int(cpus) if cpus == int(cpus) else int(cpus) + 1)


def conditions(status: dict) -> dict[str, dict]:
    return {c.get("type"): c for c in status.get("conditions") or [] if c.get("type")}


def is_ready(status: dict) -> bool:
    """KubeRay's view: state ready (or head ready and provisioned) and the head not unready."""
    conds = conditions(status)
    if (conds.get("HeadPodReady") or {}).get("status") == "False":
        return False
    if status.get("state") == "ready":
        return True
    return all((conds.get(c) or {}).get("status") == "True"
               for c in ("HeadPodReady", "RayClusterProvisioned"))


def node_type(pod: dict) -> str:
    """``head`` or ``worker``: the pod's role in its RayCluster."""
    return ((pod.get("metadata") or {}).get("labels") or {}).get("ray.io/node-type", "")


def raycluster_name(target: Target) -> str:
    return target.kube.raycluster if target.kube else target.name.removeprefix("k8s-")


def head_ports(head_group: dict) -> tuple[int, int]:
    """The head's dashboard (Jobs API) and Serve ports, as the chart names its container ports
    (``clusterDefaults.headPorts``); Ray's defaults where a port is not named."""
    containers = ((head_group.get("template") or {}).get("spec") or {}).get("containers") or [{}]
    named = {p.get("name"): p.get("containerPort") for p in containers[0].get("ports") or []}
    return int(named.get("dashboard") or DASHBOARD_PORT), int(named.get("serve") or SERVE_PORT)


def target_from(rc: dict, namespace: str) -> Target:
    meta = rc.get("metadata") or {}
    spec = rc.get("spec") or {}
    status = rc.get("status") or {}
    key = (meta.get("labels") or {}).get(CLUSTER_LABEL) or meta.get("name", "?")
    head = spec.get("headGroupSpec") or {}
    groups = spec.get("workerGroupSpecs") or []
    pods_per_group = [int(g.get("replicas") or 0) * int(g.get("numOfHosts") or 1) for g in groups]
    workers = sum(pods_per_group)
    head_cpus = _num_cpus(head)
    group_cpus = [_num_cpus(g) for g in groups]
    cpus = None
    if head_cpus is not None and all(c is not None for c in group_cpus):
        cpus = head_cpus + sum((c or 0.0) * n for c, n in zip(group_cpus, pods_per_group, strict=True))
    dashboard_port, serve_port = head_ports(head)
    autoscaling = bool(spec.get("enableInTreeAutoscaling"))
    idle = (spec.get("autoscalerOptions") or {}).get("idleTimeoutSeconds")
    auth = spec.get("authOptions") or {}
    token = auth.get("mode") == "token"
    secret = auth.get("secretName")
    return Target(
        name=f"k8s-{key}",
        kind=K8S,
        jobs_url=None,
        topology="auto" if autoscaling else "single" if workers == 0 else "multi",
        nodes=1 + workers,
        cpus=cpus,
        auth="token" if token else "none",
        # A reference to the Secret, never the token.
        token_secret=f"{namespace}/{secret}" if token and secret else None,
        kube=KubeInfo(
            namespace=namespace,
            raycluster=meta.get("name") or key,
            key=key,
            state=status.get("state") or ("(no status)" if not status else "(none)"),
            ready=is_ready(status),
            desired_workers=status.get("desiredWorkerReplicas"),
            ready_workers=status.get("readyWorkerReplicas"),
            available_workers=status.get("availableWorkerReplicas"),
            auth_secret=secret if token else None,
            jobs_in_image=(meta.get("annotations") or {}).get(JOBS_IN_IMAGE) == "true",
            dashboard_port=dashboard_port,
            serve_port=serve_port,
            autoscaling=autoscaling,
            min_workers=sum(int(g.get("minReplicas") or 0) for g in groups) if autoscaling else None,
            max_workers=sum(int(g.get("maxReplicas") or 0) for g in groups) if autoscaling else None,
            idle_timeout_s=int(idle) if autoscaling and idle is not None else (
                60 if autoscaling else None),  # KubeRay's default
        ),
    )


def discover(quiet: bool = False) -> list[Target]:
    """The chart's RayClusters in the current context and namespace, as ``k8s-<key>`` targets.

    ``quiet``: no kube context or no KubeRay is not an error (a machine without Kubernetes);
    other failures become a warning on stderr, and no k8s targets.
    """
    try:
        kube = client()
        items = kube.list_rayclusters()
    except Ray101Error as exc:
        if not quiet:
            raise
        if not (exc.message.startswith("no Kubernetes context") or "KubeRay is not installed"
                in exc.message):
            print(f"ray101: KubeRay clusters skipped: {exc.message}", file=sys.stderr)
        return []
    targets = [target_from(rc, kube.namespace) for rc in items]
    return sorted(targets, key=lambda t: t.name)


def find(name: str) -> Target:
    """The ``k8s-<key>`` target called ``name``; an error listing the known ones otherwise."""
    kube = client()
    targets = [target_from(rc, kube.namespace) for rc in kube.list_rayclusters()]
    for target in targets:
        if target.name == name:
            return target
    if targets:
        known = ", ".join(sorted(t.name for t in targets))
        raise Ray101Error(
            f"unknown cluster '{name}' (KubeRay clusters in namespace {kube.namespace} of context "
            f"{kube.context}: {known})"
        )
    raise Ray101Error(
        f"unknown cluster '{name}' (no ray101 KubeRay clusters in namespace {kube.namespace} of "
        f"context {kube.context}: run `make deploy`, or set RAY101_NAMESPACE)"
    )
