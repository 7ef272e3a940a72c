"""A comparison report (``comparison.report``) drawn: the table rows, ``compare.md``, the picture
``compare.png`` and the page ``compare.html``; ``write`` leaves the four files (with
``compare.json``). Everything here reads the report only, so a stored report renders the same
bytes again (``ray101 runs show``)."""

from __future__ import annotations

import json
from pathlib import Path

from ray101 import plotting, state


def _s(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:+.0f}%"


def job_times(data: dict) -> tuple[list[str], list[list[str]]]:
    """Where the comparison's time went, per job: end to end as the CLI saw it, the work (the
    repetitions' runtimes, timed in the driver) and the rest (submission, driver and worker
    start-up, shutdown); the last rows are each cluster's totals."""
    header = ["workload", "cluster", "end to end s", "work s", "start-up + shutdown s"]
    rows: list[list[str]] = []
    totals: dict[str, tuple[float, float, int]] = {}  # cluster -> end to end, work, jobs
    for run in data["runs"]:
        work = sum(run.get("runtimes_s") or [])
        e2e = run.get("end_to_end_s") or 0.0
        rows.append([run["workload"], run["cluster"], f"{e2e:.1f}", f"{work:.1f}", f"{e2e - work:.1f}"])
        e2e_total, work_total, jobs = totals.get(run["cluster"], (0.0, 0.0, 0))
        totals[run["cluster"]] = (e2e_total + e2e, work_total + work, jobs + 1)
    for cluster, (e2e, work, n) in totals.items():
        rows.append([f"all {n} jobs", cluster, f"{e2e:.1f}", f"{work:.1f}", f"{e2e - work:.1f}"])
    return header, rows


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


def incomplete(data: dict) -> str:
    """One line when some jobs' ends are unknown (lost contact with their cluster), else ""."""
    missing = data.get("incomplete") or []
    if not missing:
        return ""
    jobs = ", ".join(f"{m['workload']} on {m['cluster']} ({m['job_id']})" for m in missing)
    return (f"Incomplete: {len(missing)} job(s) ended UNKNOWN, ray101 lost contact with their "
            f"cluster: {jobs}. The rest of the report stands.")


def autoscaling(data: dict) -> list[str]:
    """Per autoscaling cluster: each worker KubeRay made (pod created, Ray node alive, first
    task, in seconds after the submission of the job that was running when it was made) and
    whether the workers were gone again after the last job."""
    lines = []
    for name, facts in data["clusters"].items():
        auto = facts.get("autoscaling")
        if not auto:
            continue
        lines += ["", f"Autoscaling `{name}` (KubeRay's autoscaler, up to {auto['max_workers']} "
                  f"workers, idle timeout {auto['idle_timeout_s']} s): seconds after the "
                  "submission of the job during which each worker pod was made.", "",
                  "| worker pod | made during | pod created | Ray node alive | first task | "
                  "first task during |", "|---|---|---|---|---|---|"]
        for w in auto["workers"]:
            lines.append(f"| {w['pod']} | {w['made_during']} | {_s(w['created_s'])} | "
                         f"{_s(w['node_alive_s'])} | {_s(w['first_task_s'])} | "
                         f"{w['first_task_during'] or '—'} |")
        if not auto["workers"]:
            lines.append("| (none: no job waited for CPUs) | | | | | |")
        down = auto.get("scaled_down") or {}
        if down.get("gone"):
            lines += ["", f"Idle again: no worker left {down['after_s']:.0f} s after the last job."]
        elif down:
            lines += ["", f"Still {down['left']} worker(s) {down['after_s']:.0f} s after the last "
                      "job."]
        lines += [f"Not measured: {e}" for e in auto.get("errors") or []]
    return lines


def autoscaling_html(data: dict) -> str:
    """The autoscaling section of compare.md, as HTML."""
    from html import escape

    out = []
    for line in autoscaling(data):
        if line.startswith("|---") or not line:
            continue
        if line.startswith("| worker pod"):
            out.append("<table>")
        if line.startswith("| "):
            tag = "th" if line.startswith("| worker pod") else "td"
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            out.append("<tr>" + "".join(f"<{tag}>{escape(c)}</{tag}>" for c in cells) + "</tr>")
            continue
        if out and out[-1].startswith("<tr>"):
            out.append("</table>")
        out.append(f"<p>{escape(line)}</p>")
    if out and out[-1].startswith("<tr>"):
        out.append("</table>")
    return "\n".join(out)


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
    if incomplete(data):
        lines += ["", incomplete(data)]
    lines += autoscaling(data)
    lines += ["", "Speedup = warm runtime on the single-node cluster / on the multi-node one.",
              "Ideal = perfect parallelism over the cluster's CPUs (— where none is defined)."]
    return "\n".join(lines) + "\n"


def _speedup_text(row: dict, multi: str | None) -> tuple[str, str]:
    """The panel's second title line and its colour: the multi-node speedup, in words."""
    speedup = row.get("speedup")
    if speedup is None:
        return "speedup: —", "0.4"
    where = f" on {multi}" if multi else ""
    if speedup >= 1.1:
        return f"{speedup:.2f}x faster{where}", "tab:green"
    if speedup <= 0.95:
        return f"{speedup:.2f}x: slower{where}", "tab:red"
    return f"{speedup:.2f}x: no gain{where}", "0.35"


def plot_png(data: dict) -> bytes:
    """Small multiples: one panel per workload, each on its own seconds scale.

    In each panel a bar per cluster (warm runtime), a hollow diamond for the cold run, a black
    line for the ideal with the distance to it written above the bar, and in the title the
    multi-node speedup. Separate scales keep the 1-second task workloads and the slow MongoDB
    ones equally readable.
    """
    import math

    from matplotlib.artist import Artist
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    plt = plotting.pyplot()

    # Fewest nodes first (compare.json sorts its keys, so do not rely on their order).
    names = sorted(data["clusters"], key=lambda n: (
        data["clusters"][n].get("topology") != "single", data["clusters"][n].get("nodes") or 0))
    rows = data["rows"] or [{"workload": "(no runs)", "clusters": {}, "speedup": None}]
    multi = next((n for n in names if data["clusters"][n].get("topology") == "multi"), None)
    ncols = min(4, len(rows))
    nrows = math.ceil(len(rows) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.3 * ncols, 3.1 * nrows + 0.8),
                             squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    labels = []
    for name in names:
        f = data["clusters"][name]
        nodes, cpus = f.get("nodes"), f.get("cpus")
        facts = " · ".join(x for x in (
            f"{nodes} node{'s' if nodes != 1 else ''}" if nodes else "",
            f"{cpus:g} CPUs" if cpus else "") if x)
        labels.append(f"{name}\n{facts}" if facts else name)
    for ax, row in zip(axes.flat, rows, strict=False):  # the grid may have a spare panel or more
        top = 0.0
        for ci, name in enumerate(names):
            c = row["clusters"].get(name)
            if c is None:
                continue
            color = colors[ci % len(colors)]
            warm, cold, ideal = c.get("warm_s"), c.get("cold_s"), c.get("ideal_s")
            if c.get("status") != "SUCCEEDED" or warm is None:
                ax.text(ci, 0, c.get("status") or "no run", ha="center", va="bottom",
                        color="tab:red", fontweight="bold", fontsize=9)
                continue
            ax.bar(ci, warm, 0.6, color=color)
            if cold is not None:
                ax.plot(ci, cold, marker="D", markersize=7, markerfacecolor="none",
                        markeredgecolor="black", markeredgewidth=1.2, linestyle="none")
            if ideal:
                ax.hlines(ideal, ci - 0.38, ci + 0.38, colors="black", linewidth=2.2)
            label = f"{warm:.2f} s"
            if c.get("overhead_pct") is not None:
                label += f"\n{c['overhead_pct']:+.0f}% vs ideal"
            elif not ideal:
                label += "\n(no ideal)"
            peak = max(v for v in (warm, cold, ideal) if v is not None)
            ax.annotate(label, (ci, peak), xytext=(0, 8), textcoords="offset points",
                        ha="center", va="bottom", fontsize=8.5)
            top = max(top, peak)
        ax.set_ylim(0, (top or 1.0) * 1.45)
        ax.set_xlim(-0.6, len(names) - 0.4)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(labels, fontsize=7.5)
        ax.tick_params(axis="y", labelsize=8)
        ax.set_ylabel("seconds", fontsize=8)
        ax.spines[["top", "right"]].set_visible(False)
        text, color = _speedup_text(row, multi)
        ax.set_title(row["workload"], fontsize=10.5, fontweight="bold", loc="left", pad=16)
        ax.text(0, 1.03, text, transform=ax.transAxes, fontsize=9, color=color,
                fontweight="bold", va="bottom")
    for ax in list(axes.flat)[len(rows):]:
        ax.set_visible(False)
    handles: list[Artist] = [Patch(color=colors[i % len(colors)], label=f"{n}: warm runtime")
                             for i, n in enumerate(names)]
    handles += [Line2D([], [], marker="D", markerfacecolor="none", markeredgecolor="black",
                       linestyle="none", label="cold (first repetition)"),
                Line2D([], [], color="black", linewidth=2.2, label="ideal (perfect parallelism)")]
    fig.legend(handles=handles, loc="upper center", ncol=len(handles), fontsize=8.5,
               frameon=False, bbox_to_anchor=(0.5, 1 - 0.35 / fig.get_figheight()))
    fig.suptitle(f"ray101 compare {data['run_id']} · Ray {data.get('ray_version') or '?'} · "
                 f"repeat {data['repeat']} · each panel on its own scale",
                 fontsize=11, y=1 - 0.08 / fig.get_figheight(), va="top")
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.55 / fig.get_figheight()), h_pad=1.5)
    return plotting.png(fig, dpi=110)


def html_report(data: dict, png: bytes) -> str:
    """One self-contained page: the facts, the table and the picture (embedded as data:)."""
    import base64
    from html import escape

    header, body = table_rows(data)
    facts = ", ".join(
        f"<code>{escape(n)}</code> {f.get('nodes')} node(s) / {f.get('cpus') or 0:g} CPUs"
        for n, f in data["clusters"].items()
    )
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    rows = "\n".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in r) + "</tr>" for r in body)
    image = base64.b64encode(png).decode()
    verdict = "yes" if data["consistent"] else "no"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>ray101 compare {escape(data['run_id'])}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1400px; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ border: 1px solid #ccc; padding: 0.3em 0.7em; text-align: right; }}
th:nth-child(-n+2), td:nth-child(-n+2) {{ text-align: left; }}
tr:nth-child(even) {{ background: #f6f6f6; }}
img {{ max-width: 100%; }}
</style></head><body>
<h1>ray101 compare, run {escape(data['run_id'])}</h1>
<p>Clusters: {facts}. Ray {escape(str(data['ray_version']))}, repeat {data['repeat']}
(cold = first repetition, warm = median of the rest), {data['elapsed_s']:.0f} s in all,
created {escape(str(data.get('created')))}.</p>
<p>Consistent (every run succeeded and outputs agree across clusters): <b>{verdict}</b>.</p>
{f"<p><b>{escape(incomplete(data))}</b></p>" if incomplete(data) else ""}
<img alt="warm and cold runtime per workload and cluster against the ideal, with the speedup"
 src="data:image/png;base64,{image}">
<table><thead><tr>{head}</tr></thead><tbody>
{rows}
</tbody></table>
{autoscaling_html(data)}
<p>Speedup = warm runtime on the single-node cluster / on the multi-node one.
Ideal = perfect parallelism over the cluster's CPUs (— where none is defined).
The raw numbers are in compare.json beside this file.</p>
</body></html>
"""


def write(data: dict, out: Path) -> list[Path]:
    """Write the four files, each atomically: readers never see half a file."""
    out = Path(out)
    png = plot_png(data)
    files: dict[Path, str | bytes] = {
        out / "compare.json": json.dumps(data, indent=2, sort_keys=True) + "\n",
        out / "compare.md": markdown(data),
        out / "compare.png": png,
        out / "compare.html": html_report(data, png),
    }
    for path, content in files.items():
        state.atomic_write(path, content)
    return list(files)
