"""Waiting until a RayCluster is ready with all its workers, and saying why when it is not.

Readiness timeout: ``RAY101_K8S_READY_TIMEOUT`` seconds (default 300). The wait reports how it
is coming along through a callback (:class:`ReadyProgress`); it draws and prints nothing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from ray101 import settings
from ray101.errors import Ray101Error
from ray101.kube.client import Kube
from ray101.kube.discovery import conditions, is_ready, node_type, raycluster_name
from ray101.models import Target

READY_TIMEOUT_ENV = "RAY101_K8S_READY_TIMEOUT"
READY_TIMEOUT_S = 300.0
NO_STATUS_S = 30.0  # a RayCluster without any status this long means no operator reconciles it
UNSCHEDULABLE_GRACE_S = 15.0  # Pending pods may be rescheduled while an old pod terminates
POLL_S = 2.0


@dataclass(frozen=True)
class ReadyProgress:
    """One look at a cluster that is not ready yet (``finished``: the wait is over, either way)."""

    cluster: str
    pods: int  # pods the cluster should have
    pods_ready: int
    timeout: float
    status: str  # what is missing, in words
    finished: bool = False


def ready_timeout() -> float:
    return settings.seconds(READY_TIMEOUT_ENV, READY_TIMEOUT_S)


def _pod_condition(pod: dict, kind: str) -> dict:
    return conditions(pod.get("status") or {}).get(kind) or {}


def unschedulable(pod: dict) -> str | None:
    """The scheduler's message when ``pod`` is Pending because no node can take it."""
    status = pod.get("status") or {}
    if status.get("phase") != "Pending":
        return None
    cond = _pod_condition(pod, "PodScheduled")
    if cond.get("status") == "False" and cond.get("reason") == "Unschedulable":
        return (cond.get("message") or "no message").strip()
    return None


def explain_unschedulable(pod: dict, message: str, key: str) -> str:
    """One line saying which resource is short, and which value to lower."""
    name = (pod.get("metadata") or {}).get("name", "?")
    text = message.rstrip(".")
    short = sorted(set(re.findall(r"Insufficient ([\w./-]+)", text)))
    if not short:
        return f"pod {name} is Pending: no node can take it ({text})"
    what = " and ".join(short)
    if node_type(pod) == "head":
        lower = " or ".join(f"clusterDefaults.head.resources.requests.{r}" for r in short)
    else:
        lower = f"clusters.{key}.workerReplicas or " + " or ".join(
            f"clusterDefaults.worker.resources.requests.{r}" for r in short)
    return (f"pod {name} is Pending: not enough {what} on any node ({text}); "
            f"lower {lower} in the chart values, or give the nodes more {what}")


def _pod_trouble(pod: dict) -> str | None:
    """A container stuck waiting for a reason worth showing (image pulls, crash loops)."""
    name = (pod.get("metadata") or {}).get("name", "?")
    status = pod.get("status") or {}
    for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        waiting = (cs.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason")
        if reason and reason not in ("ContainerCreating", "PodInitializing"):
            detail = (waiting.get("message") or "").strip().splitlines()
            return f"pod {name}: {reason}" + (f" ({detail[0][:200]})" if detail else "")
    return None


def _pod_ready(pod: dict) -> bool:
    return ((pod.get("status") or {}).get("phase") == "Running"
            and _pod_condition(pod, "Ready").get("status") == "True"
            and not (pod.get("metadata") or {}).get("deletionTimestamp"))


def _describe(status: dict, pods: list[dict]) -> str:
    parts = [f"state {status.get('state') or 'not set'}"]
    for kind in ("HeadPodReady", "RayClusterProvisioned", "ReplicaFailure"):
        cond = conditions(status).get(kind)
        if cond and not (kind == "ReplicaFailure" and cond.get("status") == "False"):
            reason = cond.get("reason") or cond.get("message")
            parts.append(f"{kind}={cond.get('status')}" + (f" ({reason})" if reason else ""))
    desired = status.get("desiredWorkerReplicas")
    if desired:
        ready = status.get("readyWorkerReplicas", status.get("availableWorkerReplicas", 0)) or 0
        parts.append(f"{ready}/{desired} workers ready")
    parts.extend(t for t in (_pod_trouble(p) for p in pods) if t)
    return ", ".join(parts)


def _workers_ready(status: dict) -> bool:
    desired = status.get("desiredWorkerReplicas") or 0
    ready = status.get("readyWorkerReplicas", status.get("availableWorkerReplicas")) or 0
    return ready >= desired


def wait_ready(kube: Kube, target: Target, timeout: float | None = None,
               on_progress: Callable[[ReadyProgress], None] | None = None) -> dict:
    """Wait until the RayCluster is ready with all its workers; returns its running head pod.

    Calls ``on_progress`` after each look at a cluster that is not ready yet, and once with
    ``finished=True`` when the wait ends (if it was called before). Fails at once when pods
    cannot be scheduled (after a short grace), the cluster is suspended or failed, or no
    operator answers. An autoscaling cluster is ready with its head: its workers come and go
    with the work (a worker Pending for CPUs is the autoscaler's to wait for, not an error).
    """
    timeout = ready_timeout() if timeout is None else timeout
    name = raycluster_name(target)
    key = target.kube.key if target.kube else target.name.removeprefix("k8s-")
    where = f"RayCluster {kube.namespace}/{name} in context {kube.context}"
    started = time.monotonic()
    autoscaling = bool(target.kube and target.kube.autoscaling)
    first_unschedulable: dict[str, float] = {}
    last: ReadyProgress | None = None
    try:
        while True:
            rc = kube.get_raycluster(name)
            status = rc.get("status") or {}
            pods = kube.list_pods(name)
            now = time.monotonic()
            waited = now - started
            for pod in pods:
                message = None if autoscaling and node_type(pod) != "head" else unschedulable(pod)
                pod_name = (pod.get("metadata") or {}).get("name", "?")
                if message is None:
                    first_unschedulable.pop(pod_name, None)
                    continue
                seen = first_unschedulable.setdefault(pod_name, now)
                if now - seen >= min(UNSCHEDULABLE_GRACE_S, timeout):
                    raise Ray101Error(f"{explain_unschedulable(pod, message, key)} "
                                      f"(context {kube.context})")
            heads = [p for p in pods if node_type(p) == "head" and _pod_ready(p)]
            if heads and is_ready(status) and (autoscaling or _workers_ready(status)):
                return heads[0]
            if (rc.get("spec") or {}).get("suspend") or status.get("state") == "suspended":
                raise Ray101Error(f"cluster {target.name} ({where}) is suspended "
                                  "(spec.suspend is true): resume it or `make deploy`")
            if status.get("state") == "failed":
                raise Ray101Error(f"cluster {target.name} ({where}) failed: "
                                  f"{status.get('reason') or _describe(status, pods)}")
            if not status and waited >= min(NO_STATUS_S, timeout):
                raise Ray101Error(
                    f"{where} has no status after {waited:.0f} s: the KubeRay operator is not "
                    f"running or does not watch namespace {kube.namespace} (run `make operator`; "
                    "`kubectl get pods -A -l app.kubernetes.io/name=kuberay-operator`)"
                )
            if waited >= timeout:
                raise Ray101Error(
                    f"cluster {target.name} ({where}) is not ready after {waited:.0f} s: "
                    f"{_describe(status, pods)} (`kubectl -n {kube.namespace} describe raycluster "
                    f"{name}`; wait longer with {READY_TIMEOUT_ENV})"
                )
            last = ReadyProgress(cluster=target.name, pods=target.nodes or 1,
                                 pods_ready=sum(1 for p in pods if _pod_ready(p)),
                                 timeout=timeout, status=_describe(status, pods))
            if on_progress is not None:
                on_progress(last)
            time.sleep(POLL_S)
    finally:
        if on_progress is not None and last is not None:
            on_progress(ReadyProgress(last.cluster, last.pods, last.pods_ready, last.timeout,
                                      last.status, finished=True))
