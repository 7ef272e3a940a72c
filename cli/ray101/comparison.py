"""The comparison: every workload on every cluster, summarised against the ideal.

``run_matrix`` runs the jobs; ``summarise`` turns the recorded runs into one row per workload
(cold and warm runtimes per cluster, ideal, overhead, multi-over-single speedup, whether the
outputs agree); ``write`` leaves ``compare.json``, ``compare.md`` and ``compare.png``.
"""

from __future__ import annotations

import io
import json
import statistics
import time
from pathlib import Path
from typing import Callable

from ray101 import __version__, state


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def cold_warm(runtimes: list[float]) -> tuple[float | None, float | None]:
    """The first repetition is cold; the median of the rest is warm (the cold one if alone)."""
    if not runtimes:
        return None, None
    return runtimes[0], _median(runtimes[1:]) if len(runtimes) > 1 else runtimes[0]


def _canonical(output) -> str:
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
                "overhead_pct": round(100 * (warm / ideal - 1), 1) if warm and ideal else None,
                "job_id": run["job_id"],
            }
        ok = [r for r in mine.values() if r["status"] == "SUCCEEDED"]
        outputs = {_canonical(r["output"]) for r in ok}
        row["all_succeeded"] = len(ok) == len(names)
        row["outputs_agree"] = row["all_succeeded"] and len(outputs) == 1
        s, m = row["clusters"].get(single, {}), row["clusters"].get(multi, {})
        row["speedup"] = (
            round(s["warm_s"] / m["warm_s"], 2)
            if single != multi and s.get("warm_s") and m.get("warm_s") else None
        )
        consistent = consistent and row["outputs_agree"]
        rows.append(row)
    return rows, consistent


def run_matrix(
    cluster_names: list[str],
    workload_names: list[str],
    repeat: int,
    run_id: str,
    on_start: Callable[[str, str], None] = lambda c, w: None,
    on_done: Callable[[dict], None] = lambda entry: None,
    timeout: float | None = None,
    on_wait: Callable | None = None,
) -> tuple[list[dict], dict[str, dict]]:
    """Run each workload on each cluster (clusters one after another, so they never compete
    for this machine's cores). Returns the run entries and the clusters' facts.
    ``on_wait`` hears how a KubeRay cluster's readiness is coming along (``targets.connect``)."""
    from ray101 import runner, targets
    from ray101.jobsapi import JobsAPI

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
                entry, _ = runner.run_on(api, wl, wl.defaults(), repeat, run_id, index, timeout)
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
        "clusters": facts,
        "rows": rows,
        "runs": runs,
    }


# --- presentation ---------------------------------------------------------------------------
def _s(value) -> str:
    return "—" if value is None else f"{value:.2f}"


def _pct(value) -> str:
    return "—" if value is None else f"{value:+.0f}%"


def table_rows(data: dict) -> tuple[list[str], list[list[str]]]:
    """One row per workload and cluster; speedup and agreement on the workload's first row."""
    header = ["workload", "cluster", "cold s", "warm s", "ideal s", "over ideal", "speedup",
              "outputs agree"]
    body = []
    for row in data["rows"]:
        for i, (name, c) in enumerate(row["clusters"].items()):
            failed = c.get("status") != "SUCCEEDED"
            body.append([
                row["workload"] if i == 0 else "",
                name,
                c["status"] if failed else _s(c.get("cold_s")),
                "—" if failed else _s(c.get("warm_s")),
                _s(c.get("ideal_s")),
                "—" if failed else _pct(c.get("overhead_pct")),
                ("—" if row["speedup"] is None else f"{row['speedup']:.2f}x") if i == 0 else "",
                ("yes" if row["outputs_agree"] else "NO") if i == 0 else "",
            ])
    return header, body


def markdown(data: dict) -> str:
    header, body = table_rows(data)
    facts = ", ".join(
        f"`{n}` {f.get('nodes')} node(s) / {f.get('cpus') or 0:g} CPUs"
        for n, f in data["clusters"].items()
    )
    lines = [
        f"# ray101 compare, run {data['run_id']}",
        "",
        f"Clusters: {facts}. Ray {data['ray_version']}, repeat {data['repeat']} "
        f"(cold = first repetition, warm = median of the rest), {data['elapsed_s']:.0f} s in all.",
        f"Consistent (every run succeeded and outputs agree across clusters): "
        f"**{'yes' if data['consistent'] else 'no'}**.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(r) + " |" for r in body]
    lines += ["", "Speedup = warm runtime on the single-node cluster / on the multi-node one.",
              "Ideal = perfect parallelism over the cluster's CPUs (— where none is defined)."]
    return "\n".join(lines) + "\n"


def plot_png(data: dict) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(data["clusters"])
    rows = data["rows"]
    fig, ax = plt.subplots(figsize=(max(8, 1.6 * len(rows)), 4.8))
    width = 0.8 / (2 * max(1, len(names)))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ci, name in enumerate(names):
        for kind_i, kind in enumerate(("cold_s", "warm_s")):
            offset = (2 * ci + kind_i) * width - 0.4 + width / 2
            values = [r["clusters"].get(name, {}).get(kind) or 0 for r in rows]
            ax.bar([i + offset for i in range(len(rows))], values, width,
                   color=colors[ci % len(colors)], alpha=0.45 if kind == "cold_s" else 1.0,
                   label=f"{name} {kind[:-2]}")
            for i, r in enumerate(rows):
                ideal = r["clusters"].get(name, {}).get("ideal_s")
                if ideal:
                    ax.hlines(ideal, i + offset - width / 2, i + offset + width / 2,
                              colors="black", linewidth=2)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([r["workload"] for r in rows], rotation=20, ha="right")
    ax.set_ylabel("seconds")
    ax.set_title(f"ray101 compare {data['run_id']}: cold and warm runtime (black bar: ideal)")
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def write(data: dict, out: Path) -> list[Path]:
    """Write the three files, each atomically: readers never see half a file."""
    out = Path(out)
    files = {
        out / "compare.json": json.dumps(data, indent=2, sort_keys=True) + "\n",
        out / "compare.md": markdown(data),
        out / "compare.png": plot_png(data),
    }
    for path, content in files.items():
        state.atomic_write(path, content)
    return list(files)
