"""docs/performance.md, docs/performance.json and docs/img/*.png from one bench run's data.

Everything printed here is read from the run's data; the only arithmetic is medians, ratios and
differences of measured values. `python -m bench --render` redoes this from performance.json.
"""

from __future__ import annotations

import json
from pathlib import Path

from ray101 import plotting

IMG = "img"


def _s(v, digits=2) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def _ms(v) -> str:
    return "—" if v is None else f"{v * 1000:.0f}"


def _n(v) -> str:
    return "—" if v is None else f"{v:,}"


def _ordered(row: dict, data: dict) -> list[tuple[str, dict]]:
    """A row's clusters, single-node first (the compare's JSON sorts them by name)."""
    facts = data.get("clusters") or {}
    names = sorted(row["clusters"], key=lambda n: (facts.get(n, {}).get("topology") != "single", n))
    return [(n, row["clusters"][n]) for n in names]


def _table(header: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return out + [""]


# --- plots -------------------------------------------------------------------------------------
def _plt():
    return plotting.pyplot()


def _png(fig) -> bytes:
    return plotting.png(fig, dpi=100, tight=True)


def _labels(ax, xlabel: str | None, ylabel: str, title: str) -> None:
    """Axis labels, title and a small legend: every plot's frame."""
    if xlabel:
        ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize="small")


def plot_pairs(p: dict) -> bytes:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.8))
    rows = p["pairs"]
    xs = [r["pair"] for r in rows]
    ax.plot(xs, [r["ray101_s"] for r in rows], "o-", label="ray101 run actor-counter -q")
    ax.plot(xs, [r["ray_job_submit_s"] for r in rows], "s-", label="ray job submit")
    for m, style in ((p.get("ray101_median_s"), "C0"), (p.get("ray_job_submit_median_s"), "C1")):
        if m:
            ax.axhline(m, color=style, linestyle=":", linewidth=1)
    ax.set_xlabel("pair (alternated)")
    ax.set_ylabel("wall clock of the whole process, s")
    ax.set_ylim(bottom=0)
    ax.set_title(f"same job, same cluster: median ratio {p.get('ratio') or float('nan'):.2f}")
    ax.legend(fontsize="small")
    return _png(fig)


def _phases(b: dict) -> dict:
    """The median phases in timeline order (a list of [name, s]; older data: a dict)."""
    mp = b.get("median_phases") or []
    return dict(mp) if isinstance(mp, list) else dict(mp)


def plot_breakdown(b: dict) -> bytes:
    plt = _plt()
    phases = _phases(b)
    fig, ax = plt.subplots(figsize=(9, 2.8 + 0.05 * len(phases)))
    left = 0.0
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (name, v) in enumerate(phases.items()):
        v = max(v or 0, 0)
        ax.barh(0, v, left=left, color=colors[i % len(colors)], label=f"{name}: {v:.2f} s")
        left += v
    ax.set_yticks([])
    ax.set_xlabel("seconds from the submit call (medians of the probe jobs)")
    ax.set_title(f"where a trivial job's time goes on {b['cluster']}")
    ax.legend(fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.35), ncol=2)
    return _png(fig)


def plot_throughput(rows: list[dict]) -> bytes:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.8))
    wls = list(dict.fromkeys(r["workload"] for r in rows))
    clusters = list(dict.fromkeys(r["cluster"] for r in rows))
    width = 0.8 / max(1, len(clusters))
    for ci, c in enumerate(clusters):
        vals = [next((r["docs_per_s"] or 0 for r in rows if r["workload"] == w and r["cluster"] == c), 0)
                for w in wls]
        ax.bar([i + ci * width - 0.4 + width / 2 for i in range(len(wls))], vals, width, label=c)
    ax.set_xticks(range(len(wls)))
    ax.set_xticklabels(wls)
    _labels(ax, None, "documents / s (warm)", "MongoDB read throughput (default sample_mflix)")
    return _png(fig)


def plot_sweep(sweeps: list[dict]) -> bytes:
    plt = _plt()
    fig, axes = plt.subplots(1, max(1, len(sweeps)), figsize=(6 * max(1, len(sweeps)), 4.2),
                             squeeze=False)
    for ax, sw in zip(axes[0], sweeps, strict=False):  # no sweeps: one empty panel
        counts = sorted({r["n"] for r in sw["points"]})
        for n in counts:
            pts = sorted((r["s"], r["loop_s"] / r["ray_warm_s"]) for r in sw["points"]
                         if r["n"] == n and r.get("ray_warm_s"))
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=f"{n} tasks")
            be = (sw.get("break_even") or {}).get(str(n), {}).get("seconds")
            if be:
                ax.axvline(be, linestyle=":", color=ax.lines[-1].get_color() if ax.lines else "k")
        ax.axhline(1, color="black", linewidth=1)
        ax.set_xscale("log")
        ax.set_yscale("log")
        _labels(ax, "task duration, s", "loop time / Ray tasks time (>1: Ray wins)",
                f"{sw['cluster']}: Ray tasks vs a plain loop (warm)")
    return _png(fig)


def plot_mongo_sweep(ms: dict) -> bytes:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    series = {}
    for row in ms["rows"]:
        for r in row["runs"]:
            label = r["workload"] if r["actors"] is None else f"mongo-partitioned K={r['actors']}"
            if r.get("warm_s"):
                series.setdefault(label, []).append((row["documents"], r["warm_s"]))
    for label, pts in series.items():
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=label)
    _labels(ax, "documents (movies + comments)", "warm runtime, s",
            f"MongoDB size sweep on {ms['cluster']}")
    return _png(fig)


# --- the page ----------------------------------------------------------------------------------
def readme_comparison(d: dict) -> str:
    """The README's comparison (cog, `make readme`): the last `make bench`'s runtimes per
    workload on the local clusters and, when a deployment was measured, on Kubernetes."""
    c = d.get("compare")
    if not c:
        return "`make bench` has not recorded a comparison yet.\n"
    k = ((d.get("k8s") or {}).get("compare") or {})
    dep = (d.get("k8s") or {}).get("deployment") or {}
    m, v, lab = d["machine"], d.get("versions") or {}, d.get("lab") or {}
    mongo = v.get("mongodb") or {}
    parts = [(c["data"], c["wall_s"])] + ([(k["data"], k["wall_s"])] if k.get("data") else [])
    head = (f"From `make bench` on {d['started'][:10]} (git {v.get('git') or '—'}) on {m['cores']} "
            f"cores, {m['memory_gib']} GiB: Ray {v.get('ray')}, {mongo.get('kind', 'MongoDB')} "
            f"{mongo.get('version') or ''}. `local-single` is one node with "
            f"{lab.get('cpus_per_node') or 0:g} logical CPUs, `local-multi` "
            f"{(lab.get('nodes') or {}).get('local-multi')} such nodes")
    if k.get("data"):
        nodes = dep.get("nodes") or []
        head += (f"; `k8s-single` and `k8s-multi` are the same shapes as KubeRay pods on the "
                 f"deployment in kube context `{dep.get('context')}` ({len(nodes)} node"
                 f"{'s' if len(nodes) != 1 else ''}, measured in the same run after the local lab "
                 "was down)")
    head += (". Cold is the first of " + str(c["data"].get("repeat")) + " repetitions in one job, "
             "warm the median of the others; speedup = warm single / warm multi. The comparisons "
             "took " + " and ".join(f"{wall:.0f} s" for _, wall in parts) + ".\n\n")
    rows = []
    for data, _ in parts:
        for row in data["rows"]:
            for i, (name, x) in enumerate(_ordered(row, data)):
                ok = x.get("status") == "SUCCEEDED"
                rows.append([
                    row["workload"], name, _s(x.get("cold_s")) if ok else x.get("status"),
                    _s(x.get("warm_s")) if ok else "—", _s(x.get("ideal_s")),
                    "—" if x.get("overhead_pct") is None else f"{x['overhead_pct']:+.0f}%",
                    (f"{row['speedup']:.2f}x" if row.get("speedup") else "—") if i == 0 else "",
                    ("yes" if row.get("outputs_agree") else "**no**") if i == 0 else ""])
    order = {wl: n for n, wl in enumerate(dict.fromkeys(r[0] for r in rows))}
    rows.sort(key=lambda r: order[r[0]])  # stable: each workload's clusters stay in their order
    shown, last = [], None
    for r in rows:
        shown.append(([r[0]] if r[0] != last else [""]) + r[1:])
        last = r[0]
    return head + "\n".join(_table(["workload", "cluster", "cold s", "warm s", "ideal s", "over ideal",
                                     "speedup", "outputs agree"], shown)) + "\n"


def summary_table(d: dict) -> str:
    """The per-workload table (plain text, for the terminal)."""
    c = d.get("compare")
    if not c:
        return "no comparison"
    lines = [f"{'workload':<20} {'cluster':<13} {'cold s':>7} {'warm s':>7} {'ideal s':>7} {'over':>7}"]
    for row in c["data"]["rows"]:
        for name, x in _ordered(row, c["data"]):
            over = "—" if x.get("overhead_pct") is None else f"{x['overhead_pct']:+.0f}%"
            lines.append(f"{row['workload']:<20} {name:<13} {_s(x.get('cold_s')):>7} "
                         f"{_s(x.get('warm_s')):>7} {_s(x.get('ideal_s')):>7} {over:>7}")
    extra = [f"compare wall {c['wall_s']:.0f} s (target {d['targets']['compare_s']} s)"]
    if d.get("startup"):
        extra.append(f"local up {d['startup']['seconds']:.0f} s")
    if d.get("seeding"):
        extra.append(f"seeding {d['seeding']['seconds']:.0f} s")
    p = d.get("pairs")
    if p and p.get("ratio"):
        extra.append(f"run/submit {p['ratio']:.2f}")
    return "\n".join(lines + ["; ".join(extra)])


def markdown(d: dict) -> str:
    m, v = d["machine"], d.get("versions") or {}
    quick = d["mode"] == "quick"
    L = ["# ray101 performance", ""]
    if quick:
        L += ["> **QUICK RUN (`python -m bench --quick`): a check of the harness, not the "
              "measurements.** Tiny sweeps, repeat 2, 2 pairs. The real numbers come from "
              "`make bench` on a quiet machine, which rewrites this page.", ""]
    L += [f"Written by `{d['command']}` from {d['started']} to {d['finished']} "
          f"({d['wall_s']:.0f} s, budget {d['budget_s']:.0f} s from `RAY101_BENCH_BUDGET_S`). "
          "Every number and figure below comes from that one run (raw data: "
          "[performance.json](performance.json)); nothing is edited by hand.", ""]
    mongo = v.get("mongodb") or {}
    mongo_txt = "—"
    if mongo:
        mongo_txt = f"{mongo.get('kind')} {mongo.get('version') or ''}".strip()
        if mongo.get("wire_version"):
            mongo_txt += f" (reports MongoDB {mongo['wire_version']}"
            mongo_txt += f", {mongo['backend']} backend)" if mongo.get("backend") else ")"
    ls, le = d["load_start"], d["load_end"]
    L += ["## Machine and software", ""]
    L += _table(["", ""], [
        ["CPU", f"{m['cpu_model']}, {m['cores']} cores"],
        ["memory", f"{m['memory_gib']} GiB"],
        ["kernel", f"{m['kernel']} ({m['os']})"],
        ["Ray / Python", f"{v.get('ray', '—')} / {v.get('python', '—')}"],
        ["MongoDB server", mongo_txt],
        ["ray101", f"{v.get('ray101', '—')} (git {v.get('git') or '—'})"],
        ["load (1 min avg)", f"{ls['load_1m']} at the start, {le['load_1m']} at the end"],
        ["other raylets", f"{ls['raylets']} running at the start (other clusters on this machine), "
                          f"{le['raylets']} at the end"
                          + (f"; {ls['raylets_in_pods']} in Kubernetes pods (the deployment section 5 "
                             "measures)" if ls.get("raylets_in_pods") else "")],
        ["lab", f"local-single {(d['lab'].get('nodes') or {}).get('local-single', '—')} node, "
                f"local-multi {(d['lab'].get('nodes') or {}).get('local-multi', '—')} nodes, "
                f"{d['lab'].get('cpus_per_node', '—')} logical CPUs per node; "
                f"{'network namespaces' if d['lab'].get('netns') else 'loopback'} on "
                f"{d['lab']['subnet']}, MongoDB port {d['lab']['mongo_port']}, own RAY101_HOME"],
    ])
    if ls["raylets"] or ls["load_1m"] > 0.5 * (m["cores"] or 1):
        L += [f"**The machine was not quiet**: load {ls['load_1m']} on {m['cores']} cores and "
              f"{ls['raylets']} other raylet(s) at the start. Expect noise in every number.", ""]
    if d["errors"]:
        L += ["## Errors in this run", ""]
        L += [f"- **{e['phase']}**: {e['error']}" for e in d["errors"]] + [""]

    L += _targets(d)
    L += _idle_section(d)
    L += _compare_section(d)
    L += _cold_section(d)
    L += _pairs_section(d)
    L += _breakdown_section(d)
    L += _throughput_section(d)
    L += _server_section(d)
    L += _sweep_section(d)
    L += _mongo_sweep_section(d)
    L += _k8s_section(d)
    L += ["## Every command this run executed", "",
          "With `RAY101_HOME` set to the bench's own temporary home; wall clock of the whole "
          "process.", ""]
    L += _table(["command", "exit", "s"],
                [[f"`{c['command'][:160]}`", c["rc"], _s(c["seconds"], 1)] for c in d.get("commands", [])])
    return "\n".join(L)


RATIO_TOLERANCE = 0.02  # the Kubernetes comparison tells the local story: warm / ideal within 2 points


def ratio_agreement(d) -> list[dict]:
    """For each workload with an ideal: warm / ideal on local-multi and on k8s-multi in this
    run, and whether they agree within RATIO_TOLERANCE; the multi-over-single speedups beside."""
    local = {r["workload"]: r for r in ((d.get("compare") or {}).get("data") or {}).get("rows", [])}
    k8s = {r["workload"]: r for r in ((((d.get("k8s") or {}).get("compare") or {}).get("data") or {})
                                      .get("rows", []))}
    out = []
    for wl, kr in k8s.items():
        lr = local.get(wl)
        if not lr:
            continue
        lm, km = lr["clusters"].get("local-multi") or {}, kr["clusters"].get("k8s-multi") or {}
        if not (lm.get("warm_s") and km.get("warm_s") and lm.get("ideal_s") and km.get("ideal_s")):
            continue
        lratio, kratio = lm["warm_s"] / lm["ideal_s"], km["warm_s"] / km["ideal_s"]
        out.append({"workload": wl, "local_multi": round(lratio, 4), "k8s_multi": round(kratio, 4),
                    "difference": round(kratio - lratio, 4),
                    "agrees": abs(kratio - lratio) <= RATIO_TOLERANCE,
                    "local_speedup": lr.get("speedup"), "k8s_speedup": kr.get("speedup")})
    return out


def _k8s_section(d) -> list[str]:
    """The same comparison on the Kubernetes the current kube context deploys ray101 to,
    measured in this run after the local lab was down."""
    k = d.get("k8s") or {}
    dep = k.get("deployment") or {}
    L = ["## 5. The same comparison on Kubernetes", ""]
    if not dep.get("clusters"):
        return L + [f"Not measured in this run: {dep.get('missing') or 'no deployment'}. "
                    "`make deploy` (kind, minikube, or `PROVIDER=host` as root), then "
                    "`make bench`, measures the deployed k8s-single and k8s-multi here too.", ""]
    kc = ((k.get("compare") or {}).get("data")) or {}
    if not kc:
        return L + ["Not measured: the Kubernetes comparison failed (see the errors).", ""]
    lc = (d.get("compare") or {}).get("data") or {}
    nodes = dep.get("nodes") or []
    idle = k.get("idle_before") or {}
    L += [f"Measured in this run, after `ray101 local down`, on the deployment in kube context "
          f"`{dep.get('context')}` (namespace `{dep.get('namespace')}`; "
          f"{len(nodes)} node(s): " + ", ".join(f"{n['name']} {n['cpu']} CPU" for n in nodes)
          + "). The Ray pods are KubeRay's, the MongoDB is the chart's, with the requests and "
          "limits of the provider's values file. Same workloads, same repeat "
          f"({kc.get('repeat')}), command `{(k.get('compare') or {}).get('command')}`."
          + (f" The machine used **{idle['machine_cores']:.3f} cores** while idle just before "
             "(the deployment's control plane and idle Ray pods)." if idle.get("machine_cores")
             is not None else ""), ""]
    local = {r["workload"]: r["clusters"] for r in lc.get("rows", [])}
    rows = []
    for r in kc.get("rows", []):
        lw = local.get(r["workload"], {})
        cells = [r["workload"]]
        for name, src in (("local-single", lw), ("local-multi", lw), ("k8s-single", r["clusters"]),
                          ("k8s-multi", r["clusters"])):
            x = src.get(name) or {}
            cells.append(_s(x.get("warm_s")) if x.get("status") == "SUCCEEDED" else (x.get("status") or "—"))
        rows.append(cells)
    L += _table(["workload", "local-single warm s", "local-multi warm s", "k8s-single warm s",
                 "k8s-multi warm s"], rows)
    agree = _outputs_agree(lc, kc)
    L += [f"Outputs agree between k8s-single and k8s-multi: **{'yes' if kc.get('consistent') else 'NO'}**; "
          f"with the local clusters': **{'yes' if agree else 'NO'}**. Wall clock of the whole "
          f"comparison: local {_s(lc.get('elapsed_s'), 0)} s, Kubernetes {_s(kc.get('elapsed_s'), 0)} s.", ""]
    ra = ratio_agreement(d)
    if ra:
        L += ["**Does Kubernetes tell the local story?** For each workload with an ideal time, "
              "warm / ideal on k8s-multi against local-multi (target: within "
              f"±{RATIO_TOLERANCE * 100:.0f} points), and the multi-over-single speedups:", ""]
        L += _table(["workload", "local-multi warm/ideal", "k8s-multi warm/ideal", "difference",
                     "within ±2", "speedup local", "speedup k8s"],
                    [[r["workload"], f"{r['local_multi']:.3f}", f"{r['k8s_multi']:.3f}",
                      f"{100 * r['difference']:+.1f} pts", "yes" if r["agrees"] else "**no**",
                      f"{r['local_speedup']:.2f}x" if r.get("local_speedup") else "—",
                      f"{r['k8s_speedup']:.2f}x" if r.get("k8s_speedup") else "—"] for r in ra])
    return L + [""]


def _outputs_agree(lc: dict, kc: dict) -> bool:
    def outputs(c: dict) -> dict:
        return {r["workload"]: json.dumps(r.get("output"), sort_keys=True)
                for r in c.get("runs", []) if r.get("status") == "SUCCEEDED"}

    ko, lo = outputs(kc), outputs(lc)
    return bool(ko) and all(lo.get(w) == o for w, o in ko.items())


def _idle_line(d, key: str) -> list[str]:
    """The lab's idle load measured just before a section's figures."""
    row = (d.get("idle_before") or {}).get(key)
    if not row:
        return []
    top = ", ".join(f"{r['role']} {r['cores']:.3f}" for r in row["per_role"][:3])
    return [f"Idle load of the lab just before these figures: **{row['cores']:.3f} cores** "
            f"({row['cpu_s']:.1f} CPU s over {row['window_s']:.0f} s; most: {top}).", ""]


def _idle_section(d) -> list[str]:
    rows = d.get("idle") or []
    L = ["## 0. The idle lab", ""]
    if not rows:
        return L + ["Not measured (see the errors).", ""]
    L += ["CPU the lab's processes use while no job runs: every Ray node's process tree, what "
          "else runs in the nodes' network namespaces, and the MongoDB server; utime + stime "
          "from /proc over the window, so other load on the machine does not inflate it. "
          f"The machine has {d['machine']['cores']} cores.", ""]
    roles = []
    for r in rows:
        for x in r["per_role"]:
            if x["role"] not in roles:
                roles.append(x["role"])
    L += _table(["when", "window s", "processes", "cores"],
                [[r["when"], _s(r["window_s"], 0), r["processes"], f"**{r['cores']:.3f}**"] for r in rows])
    first = rows[0]
    L += [f"Per kind of process, {first['when']}:", ""]
    L += _table(["process", "count", "CPU s", "cores"],
                [[x["role"], x["processes"], _s(x["cpu_s"]), f"{x['cores']:.3f}"] for x in first["per_role"]])
    L += ["ray101 starts the nodes with `RAY_enable_metrics_collection=false` (nothing scrapes "
          "Ray's metrics here) and `REPORTER_UPDATE_INTERVAL_MS=15000` (the dashboard agents "
          "sample the nodes every 15 s, not 5 s); serve-echo removes its app and Serve itself at "
          "the end of the job unless `-p keep=true`.", ""]
    return L


def _server_section(d) -> list[str]:
    sv = d.get("server")
    L = ["## 3b. The MongoDB server: what each setting buys", ""]
    if not sv:
        return L + ["Not measured (see the errors).", ""]
    L += _idle_line(d, "server")
    ranges = sv.get("ranges", 2)
    L += [f"Each setting: its own FerretDB process on a copy of the lab's seeded data, read from the "
          f"bench process with the tutorial's query ({sv['query']}) three ways: sequentially "
          "(movies, then comments, as mongo-sequential does), both collections at once (two "
          f"threads, as mongo-parallel does), and {ranges} `_id` ranges per collection read by "
          f"{ranges} readers on connections of their own (as mongo-partitioned does with its "
          f"default {ranges} actors); one warm-up read, then {sv['repeat']} of each, alternated; "
          "medians. Server CPU = FerretDB's utime + stime from /proc (robust to other load). "
          "Peak memory = its VmHWM. Every setting and every way returned the same documents "
          f"(count and digest): **{'yes' if sv.get('same_output') else 'NO'}** "
          f"({_n(sv['rows'][0]['count'])} documents, digest {sv['rows'][0]['digest']}).", ""]
    base = sv["rows"][0]
    rows = []
    for r in sv["rows"]:
        seq = r["sequential"]
        gain = (base["sequential"]["wall_s"] / seq["wall_s"] if seq["wall_s"] else None)
        cells = [("**" + r["setting"] + "**") if r.get("ours") else r["setting"]]
        for mode in ("sequential", "concurrent", "ranges"):
            m = r.get(mode)
            cells += [_s(m["wall_s"]), _n(m["docs_per_s"]), _s(m["server_cpu_s"], 1)] if m else ["—"] * 3
        rows.append(cells + [_s(r["peak_rss_mb"], 0), f"{gain:.2f}x" if gain else "—"])
    L += _table(["setting", "sequential s", "docs/s", "server CPU s", "both at once s", "docs/s",
                 "server CPU s", f"{ranges} ranges s", "docs/s", "server CPU s", "peak MB",
                 f"sequential speed-up over \"{base['setting']}\""], rows)
    L += ["What each setting changes:", "",
          "- The leak tracker (patch `leak-tracker-off`): FerretDB adds every document and array "
          "iterator to a pprof profile (a stack walk each) and sets a finalizer on it, in every "
          "build; only debug builds use what it records. The patch makes it return at once in "
          "release builds.",
          "- One-pass decoding (patch `sjson-one-pass`): reading a stored document back, the "
          "SQLite backend as released runs every nested level and every single value through a "
          "`json.Decoder` of its own; its pprof put about 75% of the server's CPU there on a full "
          "read. The patch walks the stored JSON once with the document's schema (parsed schemas "
          "are cached by their text) and hands anything unusual to the released decoder; its "
          "tests check both give the same documents, and ray101's tests read all 44,562 seeded "
          "documents back field by field.",
          "- `_id` ranges (patch `sqlite-id-range`): FerretDB v1's SQLite backend as released "
          "pushes down only `_id` equality, and even that compares an expression no index is on, "
          "so a `$match` on an `_id` range is applied after every stored row is decoded: K ranges "
          "cost the server K whole collections. The patch puts `_id` compared to an ObjectID "
          "(`$gt`, `$gte`, `$lt`, `$lte`) into the SQL WHERE clause on the `_id` index's own "
          "expression, so each range reads only its own rows through the index (the handler "
          "still applies the whole filter). Compare the ranges columns of the released and the "
          "patched builds.",
          "- GOGC/GOMEMLIMIT: Go's garbage collector runs when the heap doubles (GOGC=100); "
          "`GOGC=off` with a `GOMEMLIMIT` collects only near the limit, which also bounds the "
          "memory. ray101 starts FerretDB with the bold row's settings "
          "(`RAY101_FERRETDB_GOGC`, `RAY101_FERRETDB_GOMEMLIMIT` override them).",
          "- Client options (batch size, raw BSON, projection) stayed within noise when issue 12 "
          "measured them (not part of this run): FerretDB decodes each whole document whatever "
          "is asked.",
          "- The builds come from `cli/ray101/mongo/scripts/install-ferretdb.sh` "
          "(`FERRETDB_PATCHES=none` builds FerretDB as released).", ""]
    return L


def _targets(d) -> list[str]:
    L = ["## Targets", ""]
    c, p = d.get("compare"), d.get("pairs")
    t = d["targets"]
    if c:
        wall = c["wall_s"]
        repeat = d["plan"]["repeat"]
        verdict = ("met" if wall <= t["compare_s"] else
                   f"**missed by {wall - t['compare_s']:.0f} s ({100 * (wall / t['compare_s'] - 1):.0f}%)**")
        note = "" if repeat == 3 else f" (this run used repeat {repeat}, so it does not test the target)"
        L.append(f"- The demo comparison (every workload on both clusters, repeat {repeat}) took "
                 f"**{wall:.0f} s** against a target of {t['compare_s']} s: {verdict}{note}. "
                 f"Beside it: `ray101 local up` {_s((d.get('startup') or {}).get('seconds'), 0)} s, "
                 f"seeding {_s((d.get('seeding') or {}).get('seconds'), 0)} s.")
        slow = sorted(((r["end_to_end_s"], r["workload"], r["cluster"]) for r in c["data"]["runs"]),
                      reverse=True)[:3]
        L.append("  Slowest jobs end to end: " + ", ".join(
            f"{w} on {cl} {s:.0f} s" for s, w, cl in slow) + ".")
    tp = {(r["workload"], r["cluster"]): r for r in d.get("mongo_throughput") or []}
    seq, part = tp.get(("mongo-sequential", "local-multi")), tp.get(("mongo-partitioned", "local-multi"))
    if seq and part and seq.get("warm_s") and part.get("warm_s"):
        faster = part["warm_s"] < seq["warm_s"]
        L.append(f"- mongo-partitioned against mongo-sequential on local-multi, side by side in the "
                 f"comparison (warm): {part['warm_s']:.2f} s vs {seq['warm_s']:.2f} s: "
                 + ("met" if faster else "**missed**") + ".")
    sv = d.get("server")
    if sv:
        ours = next((r for r in sv["rows"] if r.get("ours")), None)
        base = sv["rows"][0]
        if ours:
            L.append(f"- MongoDB server: {ours['setting']} reads {_n(ours['sequential']['docs_per_s'])} "
                     f"documents/s sequentially ({ours['sequential']['server_cpu_s']:.1f} server CPU s) "
                     f"against {_n(base['sequential']['docs_per_s'])} "
                     f"({base['sequential']['server_cpu_s']:.1f} CPU s) for {base['setting']} (section 3b).")
    k8s = d.get("k8s") or {}
    for cs in (d.get("cold_start") or {}, k8s.get("cold_start") or {}):
        if (cs.get("with") or {}).get("cold_s") is not None:
            cold = cs["with"]["cold_s"]
            L.append(f"- parallel-retrieve's first repetition on {cs['cluster']} (cold, workers kept "
                     f"warm): **{cold:.2f} s** against at most 1.5 s (tutorial 1.02 s): "
                     + ("met" if cold <= 1.5 else "**missed**")
                     + f"; {_s(cs['without']['cold_s'])} s without kept workers (section 1b).")
        hop = cs.get("hop") or {}
        if hop.get("over_ideal_pct") is not None:
            L.append(f"- task-dependencies warm on {cs['cluster']}: {hop['warm_s']:.3f} s for "
                     f"{hop['ideal_s']:g} s of work, **{hop['over_ideal_pct']:+.1f}%** against at most "
                     "+3%: " + ("met" if hop["over_ideal_pct"] <= 3 else "**missed**") + " (section 1b).")
    krows = {r["workload"]: r for r in (((k8s.get("compare") or {}).get("data") or {}).get("rows", []))}
    kseq = ((krows.get("mongo-sequential") or {}).get("clusters") or {}).get("k8s-multi") or {}
    kpart = ((krows.get("mongo-partitioned") or {}).get("clusters") or {}).get("k8s-multi") or {}
    if kseq.get("warm_s") and kpart.get("warm_s"):
        L.append(f"- mongo-partitioned against mongo-sequential on k8s-multi (warm): "
                 f"{kpart['warm_s']:.2f} s vs {kseq['warm_s']:.2f} s: "
                 + ("met" if kpart["warm_s"] < kseq["warm_s"] else "**missed**") + " (section 5).")
    ra = ratio_agreement(d)
    if ra:
        off = [r for r in ra if not r["agrees"]]
        L.append(f"- warm / ideal on k8s-multi within ±{RATIO_TOLERANCE * 100:.0f} points of "
                 "local-multi's, in this run: "
                 + ", ".join(f"{r['workload']} {100 * r['difference']:+.1f}" for r in ra) + ": "
                 + ("met" if not off else f"**missed** for {', '.join(r['workload'] for r in off)}")
                 + " (section 5).")
    elif not (k8s.get("deployment") or {}).get("clusters"):
        L.append("- Kubernetes: not measured in this run (section 5).")
    idle_rows = d.get("idle") or []
    if idle_rows:
        L.append("- Idle lab: " + "; ".join(f"{r['cores']:.3f} cores {r['when']}" for r in idle_rows[:2])
                 + " (section 0).")
    if p and p.get("ratio"):
        r = p["ratio"]
        verdict = ("met" if r <= t["run_over_submit"] else
                   f"**missed**: ray101 takes {r:.2f}x of `ray job submit`, "
                   f"{(r / t['run_over_submit'] - 1) * 100:.0f}% over the target")
        L.append(f"- `ray101 run` against `ray job submit` (medians {p['ray101_median_s']:.2f} s "
                 f"vs {p['ray_job_submit_median_s']:.2f} s): ratio **{r:.2f}**, target at most "
                 f"{t['run_over_submit']}: {verdict}.")
    return L + [""]


def _compare_section(d) -> list[str]:
    c = d.get("compare")
    if not c:
        return ["## 1. Runtimes per workload", "", "Not measured (see the errors).", ""]
    data = c["data"]
    L = ["## 1. Runtimes per workload and cluster", "", *_idle_line(d, "compare"),
         f"Command: `{c['command']}` (exit {c['returncode']}). Cold = the first repetition in the "
         "job, warm = the median of the others; ideal = perfect parallelism over the cluster's "
         "CPUs; over ideal = warm / ideal − 1; speedup = warm single / warm multi. "
         f"Outputs agree across clusters: **{'yes' if data.get('consistent') else 'NO'}**.", ""]
    rows = []
    for row in data["rows"]:
        for i, (name, x) in enumerate(_ordered(row, data)):
            ok = x.get("status") == "SUCCEEDED"
            run = next((r for r in data["runs"] if r["workload"] == row["workload"] and r["cluster"] == name), {})
            rows.append([
                row["workload"] if i == 0 else "", name,
                _s(x.get("cold_s")) if ok else x.get("status"), _s(x.get("warm_s")) if ok else "—",
                _s(x.get("ideal_s")),
                "—" if x.get("overhead_pct") is None else f"{x['overhead_pct']:+.0f}%",
                _s(run.get("end_to_end_s"), 1),
                (f"{row['speedup']:.2f}x" if row.get("speedup") else "—") if i == 0 else "",
            ])
    L += _table(["workload", "cluster", "cold s", "warm s", "ideal s", "over ideal",
                 "job end to end s", "speedup"], rows)
    L += [f"Wall clock of the whole `ray101 compare`: **{c['wall_s']:.1f} s** (its own count: "
          f"{data.get('elapsed_s')} s). Start-up `{(d.get('startup') or {}).get('command')}`: "
          f"{_s((d.get('startup') or {}).get('seconds'), 1)} s. Seeding "
          f"`{(d.get('seeding') or {}).get('command')}`: {_s((d.get('seeding') or {}).get('seconds'), 1)} s "
          f"({_n((d.get('seeding') or {}).get('total'))} documents).", "",
          f"![cold and warm runtimes]({IMG}/compare.png)", ""]
    return L


def _cold_section(d) -> list[str]:
    c = d.get("cold_start")
    L = ["## 1b. The cold start: a job's first repetition", "", *_idle_line(d, "cold_start")]
    if not c:
        return L + ["Not measured (see the errors).", ""]
    L += ["Ray binds a worker process to the first job it runs a task for and stops it when that "
          "job ends, so each job used to start its own workers in its first repetition. The lab "
          "now keeps one started worker per CPU on every node that belongs to no job yet: the "
          "nodes start them (`RAY_enable_worker_prestart=1`), and every ray101 job, after its "
          "result, asks each node to top them up for its runtime environment "
          "(`jobs/ray101_jobs/warm.py`). A job whose runtime environment matches takes them. "
          "Each of those workers has also imported, as it started, what Ray's serializer imports "
          "when a job's first task reaches it (`RAY_preload_python_modules`: pydantic, starlette "
          "and pyarrow's hooks, 0.5-1 s per worker on k8s-multi when left to the first task).", "",
          f"parallel-retrieve (`--repeat 3`) on {c['cluster']}, each job submitted with Ray's own "
          f"`{c['submit_env']} ray job submit` after a {c['settle_s']:g} s pause: **with** the "
          "workers the previous ray101 job left, and **without** (the job carries "
          "`RAY101_WARM_WORKERS=0` in its runtime_env: no kept worker matches it, every worker "
          "is new). Time to result = the whole `ray job submit` process, submission to the last "
          "log line.", ""]
    L += _cold_block(c)
    k = (d.get("k8s") or {}).get("cold_start")
    if k:
        L += [f"**The same on k8s-multi** (this run, after the local lab was down; through a "
              f"port-forward to its head, `{k['submit_env']}`):", ""]
        L += _cold_block(k)
    else:
        L += ["On k8s-multi: not measured in this run (section 5 says why).", ""]
    return L


def _cold_block(c: dict) -> list[str]:
    """One cluster's cold-start figures: the jobs, the medians against the target, the
    dependent hop and the one-shot scripts."""
    w, wo = c["with"], c["without"]
    L = _table(["job", "kept workers", "cold s", "warm s", "time to result s"],
               [[r["job"], "with" if r["warm_workers"] else "without",
                 _s(r["cold_s"]) if r["ok"] else "FAILED", _s(r["warm_s"]), _s(r["time_to_result_s"])]
                for r in c["jobs"]])
    L += [f"Medians on {c['cluster']}: cold **{_s(w['cold_s'])} s with** against {_s(wo['cold_s'])} s "
          f"without (warm {_s(w['warm_s'])} / {_s(wo['warm_s'])} s); time to result "
          f"{_s(w['time_to_result_s'])} s against {_s(wo['time_to_result_s'])} s. The target: a cold "
          "repetition of at most 1.5 s (the tutorial printed 1.02 s): "
          + ("met" if w["cold_s"] is not None and w["cold_s"] <= 1.5 else "**missed**") + ".", ""]
    h = c.get("hop") or {}
    if h.get("warm_s"):
        L += [f"**The dependent hop** on {c['cluster']}. `{h['command']}`: five 1-second `process` "
              f"tasks, then `aggregate` on their results; warm median {_s(h['warm_s'], 3)} s over "
              f"{len(h['runtimes_s']) - 1} repetitions against the ideal {_s(h['ideal_s'])} s: "
              f"**{h['over_ideal_pct']:+.1f}%** (target at most +3%: "
              + ("met" if h["over_ideal_pct"] <= 3 else "**missed**") + "). Every repetition: "
              + ", ".join(_s(x, 3) for x in h["runtimes_s"]) + " s.", ""]
    o = c.get("oneshot") or []
    if o:
        L += [f"**A one-shot script with `ray job submit`** on {c['cluster']} "
              "(`bench/oneshot/lookups.py`: six one-second lookups as Ray tasks, written for this "
              "bench, printing its own time), each submitted after a ray101 job left its workers "
              "started. With `--working-dir` the job has a runtime environment of its own, so no "
              "kept worker matches it; as `python -c` it has none, as ray101's jobs on the local "
              "clusters and on a baked image.", ""]
        L += _table(["submitted", "printed s", "time to result s", "command"],
                    [[r["how"], _s(r["printed_s"]) if r["ok"] else "FAILED", _s(r["time_to_result_s"]),
                      f"`{r['command'][:110]}`"] for r in o])
    return L


def _throughput_section(d) -> list[str]:
    c = d.get("compare")
    if not c:
        return []
    L = []
    tp = d.get("mongo_throughput") or []
    L += ["## 3. MongoDB documents per second", "",
          f"From the same comparison (`{c['command']}`): documents read / warm runtime.", ""]
    L += _table(["workload", "cluster", "documents", "warm s", "documents/s"],
                [[r["workload"], r["cluster"], _n(r["documents"]), _s(r["warm_s"]),
                  _n(r["docs_per_s"])] for r in tp])
    if tp:
        L += [f"![MongoDB throughput]({IMG}/mongo-throughput.png)", "",
              "The server is the lab's local MongoDB (see above), FerretDB with ray101's patches: "
              "each of mongo-partitioned's `_id` ranges costs the server only its share of the "
              "collection (section 3b shows the released build, where each costs the whole).", ""]
    return L


def _pairs_section(d) -> list[str]:
    p = d.get("pairs")
    L = ["## 2. `ray101 run` end to end against `ray job submit`", "", *_idle_line(d, "pairs")]
    if not p:
        return L + ["Not measured (see the errors).", ""]
    L += ["The same trivial job on the same cluster (local-single), alternated, each timed as a "
          "whole process by the wall clock:", "",
          f"- `{p['ray101_command']}`", f"- `{p['ray_job_submit_command']}`", ""]
    L += _table(["pair", "ray101 run s", "ray job submit s"],
                [[r["pair"], _s(r["ray101_s"]) + ("" if r["ray101_ok"] else " FAILED"),
                  _s(r["ray_job_submit_s"]) + ("" if r["ray_job_submit_ok"] else " FAILED")]
                 for r in p["pairs"]])
    L += [f"Medians: ray101 {_s(p['ray101_median_s'])} s, ray job submit "
          f"{_s(p['ray_job_submit_median_s'])} s; ratio **{_s(p['ratio'])}**.", "",
          f"![ray101 run vs ray job submit]({IMG}/run-vs-submit.png)", ""]
    errs = [r for r in p["pairs"] if not (r["ray101_ok"] and r["ray_job_submit_ok"])]
    for r in errs:
        L.append(f"- pair {r['pair']}: {r.get('ray101_error') or ''} {r.get('ray_job_submit_error') or ''}")
    return L + ([""] if errs else [])


def _breakdown_section(d) -> list[str]:
    b = d.get("breakdown")
    L = ["### Where a job's time goes", ""]
    if not b or not b.get("median_phases"):
        return L + ["Not measured (see the errors).", ""]
    n_ok = sum(1 for s in b["samples"] if "phases" in s)
    L += [f"{n_ok} probe job(s) on {b['cluster']}, submitted through the Jobs API (ray101's "
          f"client) with entrypoint `{b['entrypoint']}`: it does what actor-counter does, with the "
          "workload's own `Counter` actor, and prints a timestamp after each step. The client's clock, the Jobs API's "
          "`start_time`/`end_time` and the driver's clock are this one machine's. The driver "
          "process's start comes from /proc (10 ms resolution). Medians:", ""]
    total = sum(v or 0 for v in _phases(b).values())
    L += _table(["phase", "s", "share"],
                [[k, _s(v, 3), f"{100 * (v or 0) / total:.0f}%" if total else "—"]
                 for k, v in _phases(b).items()] + [["**sum**", _s(total, 3), ""]])
    split = ("The supervisor's start is split where the client first saw the job RUNNING. "
             if b.get("split_at_running") else
             "The client did not see RUNNING before the driver started in every probe, so the "
             "supervisor's start is one phase. ")
    L += [split + "The Jobs API does not expose when the supervisor actor's runtime_env became "
          "ready, so runtime_env set-up is inside the supervisor phase (our jobs use an empty "
          "runtime_env: the nodes have the packages). Worker start-up = creating the workload's "
          "`Counter` actor until its first call answers (a new actor needs a worker process).", "",
          f"![breakdown]({IMG}/breakdown.png)", ""]
    return L


def _sweep_section(d) -> list[str]:
    sweeps = d.get("task_sweep") or []
    L = ["## 4. When to use Ray: task duration × task count", "", *_idle_line(d, "task_sweep")]
    if not sweeps:
        return L + ["Not measured (see the errors).", ""]
    L += ["One job per cluster runs every point (so the per-job overhead is not in the numbers): "
          "the `parallel-retrieve` workload's Ray task `retrieve` (n tasks sleeping s each, all "
          "submitted at once, run twice, the warm run counts) against the `sequential-retrieve` "
          "workload's plain loop in the driver. Both are timed inside the job, around the work "
          "only. Points run cheapest first and stop at the sweep's share of the budget.", ""]
    for sw in sweeps:
        L += [f"**{sw['cluster']}** (job `{sw['job_id']}`, {sw['status']}, {sw['seconds']:.0f} s, "
              f"budget {sw['budget_s']} s). Entrypoint: `{sw['entrypoint']}`", ""]
        rows = []
        for r in sw["points"]:
            if "ray_warm_s" in r:
                rows.append([r["n"], f"{r['s'] * 1000:g}", _s(r["loop_s"], 3), _s(r["ray_warm_s"], 3),
                             _s(r["ray_cold_s"], 3), _s(r["ideal_ray_s"], 3),
                             f"{r['loop_s'] / r['ray_warm_s']:.2f}x", len(r.get("ray_node_ips") or [])])
            else:
                rows.append([r["n"], f"{r['s'] * 1000:g}", "skipped", "", "", "", r["skipped"], ""])
        L += _table(["tasks", "task ms", "loop s", "Ray warm s", "Ray cold s", "Ray ideal s",
                     "loop / Ray", "nodes used"], rows)
        L += ["Break-even (the task duration above which Ray's tasks beat the loop): " + "; ".join(
            f"{n} tasks {x['text']}" for n, x in sorted(sw["break_even"].items(), key=lambda kv: int(kv[0]))), ""]
    L += [f"![sweep]({IMG}/task-sweep.png)", ""]
    return L


def _mongo_sweep_section(d) -> list[str]:
    ms = d.get("mongo_sweep")
    L = ["## 4b. MongoDB size × K: when does partitioning pay?", "", *_idle_line(d, "mongo_sweep")]
    if not ms:
        return L + ["Not measured (see the errors).", ""]
    ks = d["plan"]["ks"]
    L += [f"On {ms['cluster']}: for each size, `ray101 mongo seed --movies M --comments C --json`, "
          "then `ray101 run mongo-sequential --cluster local-multi --repeat 2 -q --json` and "
          "`ray101 run mongo-partitioned ... -p actors=K` for each K (warm run = the second). "
          f"Sizes ascending, each skipped when its estimate does not fit the {ms['budget_s']} s "
          f"left of the budget (this took {ms['seconds']:.0f} s).", ""]
    rows = []
    for row in ms["rows"]:
        seq = next((r for r in row["runs"] if r["workload"] == "mongo-sequential"), {})
        cells = [_n(row["documents"]), _s(row["seed"]["seconds"], 1), _s(seq.get("warm_s"))]
        for k in ks:
            r = next((r for r in row["runs"] if r["actors"] == k), {})
            cells.append(_s(r.get("warm_s")) if r.get("warm_s") else r.get("status", "—"))
        docs_s = round(row["documents"] / seq["warm_s"]) if seq.get("warm_s") else None
        rows.append(cells + [_n(docs_s)])
    L += _table(["documents", "seed s", "sequential warm s"] + [f"partitioned K={k} warm s" for k in ks]
                + ["sequential docs/s"], rows)
    from bench.measure import WIN_MARGIN, mongo_crossover

    crossover = ms["crossover"] = mongo_crossover(ms["rows"], ks)  # today's rule, from the rows
    L += [f"Crossover (partitioned's warm run more than {WIN_MARGIN:.0%} faster than "
          "sequential's): " + "; ".join(
              f"K={k} {x['text']}" for k, x in sorted(crossover.items(), key=lambda kv: int(kv[0]))), ""]
    if ms["skipped"]:
        L += ["Skipped: " + "; ".join(f"{_n(s['documents'])} documents ({s['reason']})"
                                      for s in ms["skipped"]), ""]
    failed = [r for row in ms["rows"] for r in row["runs"] if r.get("error")]
    for r in failed:
        L.append(f"- `{r['command']}` failed: {r['error']}")
    if ms["rows"]:
        L += [f"![MongoDB sweep]({IMG}/mongo-sweep.png)", ""]
    return L


def write(d: dict, out: Path) -> list[Path]:
    from ray101 import render, state

    out = Path(out)
    img = out / IMG
    page = markdown(d)  # first: it brings derived fields (the crossover) up to date in d
    files: dict[Path, str | bytes] = {
        out / "performance.json": json.dumps(d, indent=2, sort_keys=True, default=str) + "\n",
    }
    if d.get("compare"):
        files[img / "compare.png"] = render.plot_png(d["compare"]["data"])
    if d.get("mongo_throughput"):
        files[img / "mongo-throughput.png"] = plot_throughput(d["mongo_throughput"])
    if d.get("pairs"):
        files[img / "run-vs-submit.png"] = plot_pairs(d["pairs"])
    if d.get("breakdown") and d["breakdown"].get("median_phases"):
        files[img / "breakdown.png"] = plot_breakdown(d["breakdown"])
    if d.get("task_sweep"):
        files[img / "task-sweep.png"] = plot_sweep(d["task_sweep"])
    if d.get("mongo_sweep") and d["mongo_sweep"]["rows"]:
        files[img / "mongo-sweep.png"] = plot_mongo_sweep(d["mongo_sweep"])
    files[out / "performance.md"] = page
    for path, content in files.items():
        state.atomic_write(path, content)
    return list(files)
