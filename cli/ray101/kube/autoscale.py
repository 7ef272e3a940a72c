"""An autoscaling KubeRay cluster's workers, watched: when KubeRay made each worker pod, when it
joined Ray as a node, when it ran its first task (pod created -> Ray node alive -> first task), and
whether the workers went away again once idle.

From the Kubernetes API (the pods' ``creationTimestamp``, whole seconds) and the head's State API
(a node's ``start_time_ms``, a task's ``start_time_ms``). Times are seconds after the submission
of the job during which KubeRay made the pod; the clocks are the same machine's on kind and the
host provider (elsewhere, skew between the nodes' clocks shows up in them).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from ray101.errors import Ray101Error
from ray101.head.client import HeadClient
from ray101.kube.client import Kube
from ray101.kube.discovery import node_type

POLL_S = 2.0
IDLE_GRACE_S = 90.0  # beyond the idle timeout: the autoscaler's period, KubeRay, pod shutdown


def epoch(stamp: str | None) -> float | None:
    """An RFC 3339 time from the Kubernetes API (``2026-12-06T20:01:02Z``) as epoch seconds."""
    if not stamp:
        return None
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def live_workers(kube: Kube, raycluster: str) -> list[dict]:
    """The RayCluster's worker pods that are not being deleted."""
    return [p for p in kube.list_pods(raycluster) if node_type(p) == "worker"
            and not (p.get("metadata") or {}).get("deletionTimestamp")]


class Watch:
    """The workers of one autoscaling RayCluster across the jobs of a comparison or a run.

    Call :meth:`look` after each job with its submission and end (epoch seconds), then
    :meth:`wait_idle` after the last one; :meth:`report` is what compare.json keeps."""

    def __init__(self, kube: Kube, head: HeadClient, raycluster: str, max_workers: int | None,
                 idle_timeout_s: int | None):
        self.kube, self.head, self.raycluster = kube, head, raycluster
        self.max_workers, self.idle_timeout_s = max_workers, idle_timeout_s
        self.jobs: list[tuple[str, float, float]] = []  # workload, submitted, ended
        self.workers: dict[str, dict] = {}  # pod name -> its record
        self.before = {(p.get("metadata") or {}).get("name") for p in live_workers(kube, raycluster)}
        self.scaled_down: dict | None = None
        self.errors: list[str] = []

    def _job_at(self, when: float) -> tuple[str, float] | None:
        """The job running at ``when`` (the last one submitted before it): workload, submitted."""
        found = None
        for workload, submitted, _ in self.jobs:
            if submitted <= when + 1.0:  # creationTimestamp has whole seconds
                found = (workload, submitted)
        return found

    def look(self, workload: str, submitted: float, ended: float) -> None:
        """After a job: note new worker pods, and for each the Ray node and its first task.
        A failed look is noted in the report; it never stops the comparison."""
        self.jobs.append((workload, submitted, ended))
        try:
            self._look(workload, submitted, ended)
        except Ray101Error as exc:
            self.errors.append(f"after {workload}: {exc.message}")

    def _look(self, workload: str, submitted: float, ended: float) -> None:
        nodes = {n.get("node_ip"): n for n in self.head.state_rows("nodes") or []}
        for pod in live_workers(self.kube, self.raycluster):
            meta, status = pod.get("metadata") or {}, pod.get("status") or {}
            name = meta.get("name", "?")
            if name in self.before:
                continue
            created = epoch(meta.get("creationTimestamp"))
            record = self.workers.get(name)
            if record is None:
                made = self._job_at(created or ended) or (workload, submitted)
                record = self.workers[name] = {
                    "pod": name, "made_during": made[0], "zero": made[1],
                    "created_s": None if created is None else round(created - made[1], 1),
                    "node_alive_s": None, "first_task_s": None, "first_task_during": None,
                    "node_ip": status.get("podIP"),
                }
            record["node_ip"] = record["node_ip"] or status.get("podIP")
            node = nodes.get(record["node_ip"])
            if node and record["node_alive_s"] is None and node.get("start_time_ms"):
                record["node_alive_s"] = round(node["start_time_ms"] / 1000 - record["zero"], 1)
            if node and record["first_task_s"] is None:
                tasks = self.head.state_rows("tasks", (("node_id", node.get("node_id", "")),))
                starts = [t["start_time_ms"] for t in tasks or [] if t.get("start_time_ms")]
                if starts:
                    first = min(starts) / 1000
                    record["first_task_s"] = round(first - record["zero"], 1)
                    during = self._job_at(first)
                    record["first_task_during"] = during[0] if during else None

    def wait_idle(self, on_wait: Callable[[int, float], None] | None = None) -> dict:
        """Wait until no worker pod is left (at most the idle timeout plus a grace); returns
        ``{"gone": bool, "after_s": seconds since the last job ended, "left": pods}``."""
        since = self.jobs[-1][2] if self.jobs else time.time()
        limit = (self.idle_timeout_s or 60) + IDLE_GRACE_S
        while True:
            try:
                left = live_workers(self.kube, self.raycluster)
            except Ray101Error as exc:
                self.errors.append(f"waiting for idle workers to go: {exc.message}")
                return {}
            waited = time.time() - since
            if not left or waited >= limit:
                self.scaled_down = {"gone": not left, "after_s": round(waited, 1),
                                    "left": len(left), "waited_at_most_s": limit}
                return self.scaled_down
            if on_wait is not None:
                on_wait(len(left), waited)
            time.sleep(POLL_S)

    def report(self) -> dict:
        workers = [{k: v for k, v in w.items() if k != "zero"} for w in self.workers.values()]
        return {"raycluster": self.raycluster, "max_workers": self.max_workers,
                "idle_timeout_s": self.idle_timeout_s, "workers": workers,
                "scaled_down": self.scaled_down, "errors": self.errors}
