"""Running the comparison matrix: each workload on each cluster, one cluster after another.

A job that cannot be followed to its end, or a cluster that cannot be reached, does not stop the
comparison: the job is recorded as ``UNKNOWN`` with the reason, and the matrix goes on, so the
report still says what the other jobs did.
"""

from __future__ import annotations

from collections.abc import Callable

from ray101 import runner, targets
from ray101.errors import Ray101Error
from ray101.head.jobs import JobsAPI


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
) -> tuple[list[dict], dict[str, dict]]:
    """Run each workload on each cluster (clusters one after another, so they never compete
    for this machine's cores). Returns the run entries and the clusters' facts.
    ``on_wait`` hears how a KubeRay cluster's readiness is coming along (``targets.connect``);
    ``on_status`` hears the running job's status on every poll (``JobsAPI.poll``);
    ``on_retry`` each retry through a hiccup (``HeadClient.on_retry``)."""
    wls = [runner.workload(n) for n in workload_names]
    resolved = [targets.resolve(n) for n in cluster_names]
    runs: list[dict] = []
    facts: dict[str, dict] = {}
    index = 0
    for target in resolved:
        done = 0
        try:
            with targets.connect(target, on_wait) as conn:
                api = JobsAPI(conn)
                api.client.on_retry = on_retry
                for wl in wls:
                    on_start(target.name, wl.name)
                    try:
                        entry, _ = runner.run_on(api, wl, wl.defaults(), repeat, run_id,
                                                 index + done, timeout, on_status=on_status)
                    except Ray101Error as exc:  # the submission refused: the next job may work
                        entry = runner.record_unreached(wl, target.name, run_id, index + done,
                                                        wl.defaults(), repeat, exc.message)
                    done += 1
                    runs.append(entry)
                    on_done(entry)
        except Ray101Error as exc:  # the cluster itself: its remaining jobs are not run
            for wl in wls[done:]:
                entry = runner.record_unreached(wl, target.name, run_id, index + done,
                                                wl.defaults(), repeat, exc.message)
                done += 1
                runs.append(entry)
                on_done(entry)
        index += done
        seen = next((r for r in runs if r["cluster"] == target.name and r.get("nodes")), {})
        facts[target.name] = {
            "kind": target.kind,
            "topology": target.topology,
            "nodes": seen.get("nodes", target.nodes),
            "cpus": seen.get("cpus", target.cpus),
        }
    return runs, facts
