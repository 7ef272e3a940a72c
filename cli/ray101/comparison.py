"""The comparison: every workload on every cluster, summarised against the ideal.

``summarise`` turns the recorded runs into one row per workload (cold and warm runtimes per
cluster, ideal, overhead, multi-over-single speedup, whether the outputs agree); ``report`` is
the whole of ``compare.json``. ``matrix`` runs the jobs; ``render`` draws the table, the
Markdown, the picture and the HTML page from a report.
"""

from __future__ import annotations

import json
import time

from ray101 import __version__
from ray101.figures import cold_warm, overhead_pct, speedup
from ray101.head.jobs import UNKNOWN


def _canonical(output: object) -> str:
    return json.dumps(output, sort_keys=True)


def summarise(runs: list[dict], clusters: dict[str, dict]) -> tuple[list[dict], bool]:
    names = list(clusters)
    single = next((n for n in names if clusters[n].get("topology") == "single"), names[0])
    multi = next((n for n in names if clusters[n].get("topology") == "multi"), names[-1])
    rows = []
    consistent = True
    workloads = list(dict.fromkeys(r["workload"] for r in runs))
    for wl in workloads:
        mine = {r["cluster"]: r for r in runs if r["workload"] == wl}
        row = {"workload": wl, "clusters": {}}
        for name in names:
            run = mine.get(name)
            if run is None:
                continue
            cold, warm = cold_warm(run["runtimes_s"]) if run["status"] == "SUCCEEDED" else (None, None)
            ideal = run.get("ideal_s")
            row["clusters"][name] = {
                "status": run["status"],
                "cold_s": cold,
                "warm_s": warm,
                "ideal_s": ideal,
                "overhead_pct": overhead_pct(warm, ideal),
                "job_id": run["job_id"],
            }
        ok = [r for r in mine.values() if r["status"] == "SUCCEEDED"]
        outputs = {_canonical(r["output"]) for r in ok}
        row["all_succeeded"] = len(ok) == len(names)
        row["outputs_agree"] = row["all_succeeded"] and len(outputs) == 1
        s, m = row["clusters"].get(single, {}), row["clusters"].get(multi, {})
        row["speedup"] = speedup(s.get("warm_s"), m.get("warm_s")) if single != multi else None
        consistent = consistent and row["outputs_agree"]
        rows.append(row)
    return rows, consistent


def report(runs: list[dict], facts: dict[str, dict], run_id: str, repeat: int,
           elapsed_s: float) -> dict:
    rows, consistent = summarise(runs, facts)
    return {
        "run_id": run_id,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "ray101_version": __version__,
        "ray_version": next((r["ray_version"] for r in runs if r.get("ray_version")), None),
        "repeat": repeat,
        "elapsed_s": round(elapsed_s, 1),
        "consistent": consistent,
        # Jobs whose end ray101 never learned (the cluster stopped answering): the report is
        # written all the same, with what the other jobs did.
        "incomplete": [{k: r[k] for k in ("workload", "cluster", "job_id", "message")}
                       for r in runs if r["status"] == UNKNOWN],
        "clusters": facts,
        "rows": rows,
        "runs": runs,
    }
