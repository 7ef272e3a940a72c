"""Running the comparison matrix: each workload on each cluster, one cluster after another.

A job that cannot be followed to its end, or a cluster that cannot be reached, does not stop the
comparison: the job is recorded as ``UNKNOWN`` with the reason, and the matrix goes on, so the
report still says what the other jobs did.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ray101 import runner, targets
from ray101.errors import Ray101Error
from ray101.head.jobs import JobsAPI
from ray101.kube import autoscale
from ray101.kube.client import client as kube_client
from ray101.kube.rayjob import VIA_JOBS_API, VIA_RAYJOB, RayJobSubmitter
from ray101.models import Connection


def run_matrix(
    cluster_names: list[str],
    workload_names: list[str],
    repeat: int,
    run_id: str,
    on_start: Callable[[str, str], None] = lambda c, w: None,
    on_done: Callable[[dict], None] = lambda entry: None,
    timeout: float | None = None,
    on_wait: Callable | None = None,
    on_status: Callable[[str, str, float], None] | None = None,
    on_retry: Callable[[str, float], None] | None = None,
    vias: tuple[str, ...] = (VIA_JOBS_API,),
) -> tuple[list[dict], dict[str, dict]]:
    """Run each workload on each cluster (clusters one after another, so they never compete
    for this machine's cores), through each of ``vias`` (the Jobs API, KubeRay RayJobs).
    Returns the run entries and the clusters' facts; runs through a RayJob are labelled
    ``<cluster> via rayjob``, so the report puts the two paths side by side.
    ``on_wait`` hears how a KubeRay cluster's readiness is coming along (``targets.connect``);
    ``on_status`` hears the running job's status on every poll (``JobsAPI.poll``);
    ``on_retry`` each retry through a hiccup (``HeadClient.on_retry``)."""
    wls = [runner.workload(n) for n in workload_names]
    resolved = [targets.resolve(n) for n in cluster_names]
    runs: list[dict] = []
    facts: dict[str, dict] = {}
    index = 0
    for target in resolved:
        plan = [(via, label(target.name, via)) for via in vias]
        done = 0
        watch: autoscale.Watch | None = None
        try:
            with targets.connect(target, on_wait) as conn:
                for via, name in plan:
                    api = submitter(conn, via)
                    api.client.on_retry = on_retry
                    if watch is None and target.kube and target.kube.autoscaling:
                        watch = autoscale.Watch(kube_client(), api.client, target.kube.raycluster,
                                                target.kube.max_workers, target.kube.idle_timeout_s)
                    for wl in wls:
                        on_start(name, wl.name)
                        submitted = time.time()
                        try:
                            entry, _ = runner.run_on(api, wl, wl.defaults(), repeat, run_id,
                                                     index + done, timeout, on_status=on_status,
                                                     label=name)
                        except Ray101Error as exc:  # the submission refused: the next may work
                            entry = runner.record_unreached(wl, name, run_id, index + done,
                                                            wl.defaults(), repeat, exc.message)
                        if watch is not None:
                            watch.look(wl.name, submitted, time.time())
                        done += 1
                        runs.append(entry)
                        on_done(entry)
                if watch is not None:
                    on_start(target.name, "workers going idle")
                    watch.wait_idle()
        except Ray101Error as exc:  # the cluster itself: its remaining jobs are not run
            for wl, name in [(w, n) for _, n in plan for w in wls][done:]:
                entry = runner.record_unreached(wl, name, run_id, index + done,
                                                wl.defaults(), repeat, exc.message)
                done += 1
                runs.append(entry)
                on_done(entry)
        index += done
        for via, name in plan:
            seen = next((r for r in runs if r["cluster"] == name and r.get("nodes")), {})
            facts[name] = {
                "kind": target.kind,
                "topology": target.topology,
                "nodes": seen.get("nodes", target.nodes),
                "cpus": seen.get("cpus", target.cpus),
                "via": via,
            }
            if watch is not None:  # the autoscaler's work, once per cluster
                facts[name]["autoscaling"] = watch.report()
                watch = None
    return runs, facts


def submitter(conn: Connection, via: str) -> JobsAPI:
    """How jobs go in through ``via``: the Jobs API, a RayJob to the running cluster, or a
    RayJob with a cluster of its own."""
    if via == VIA_JOBS_API:
        return JobsAPI(conn)
    if via == VIA_RAYJOB:
        return RayJobSubmitter(conn)
    from ray101.kube.owncluster import OwnClusterSubmitter

    return OwnClusterSubmitter(conn)


def label(cluster: str, via: str) -> str:
    """The name a comparison gives a cluster reached through ``via``."""
    return cluster if via == VIA_JOBS_API else f"{cluster} via {via}"
