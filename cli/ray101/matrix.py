"""Running the comparison matrix: each workload on each cluster, one cluster after another."""

from __future__ import annotations

from collections.abc import Callable

from ray101 import runner, targets
from ray101.jobsapi import JobsAPI


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
) -> tuple[list[dict], dict[str, dict]]:
    """Run each workload on each cluster (clusters one after another, so they never compete
    for this machine's cores). Returns the run entries and the clusters' facts.
    ``on_wait`` hears how a KubeRay cluster's readiness is coming along (``targets.connect``);
    ``on_status`` hears the running job's status on every poll (``JobsAPI.follow``)."""
    wls = [runner.workload(n) for n in workload_names]
    resolved = [targets.resolve(n) for n in cluster_names]
    runs: list[dict] = []
    facts: dict[str, dict] = {}
    index = 0
    for target in resolved:
        with targets.connect(target, on_wait) as conn:
            api = JobsAPI(conn)
            for wl in wls:
                on_start(target.name, wl.name)
                entry, _ = runner.run_on(api, wl, wl.defaults(), repeat, run_id, index, timeout,
                                         on_status=on_status)
                index += 1
                runs.append(entry)
                on_done(entry)
        seen = next((r for r in runs if r["cluster"] == target.name and r.get("nodes")), {})
        facts[target.name] = {
            "kind": target.kind,
            "topology": target.topology,
            "nodes": seen.get("nodes", target.nodes),
            "cpus": seen.get("cpus", target.cpus),
        }
    return runs, facts
