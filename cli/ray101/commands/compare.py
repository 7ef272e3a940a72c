"""`ray101 compare`: every workload on every cluster, side by side."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from ray101.commands.options import (
    VIAS,
    NameList,
    Seconds,
    WritableFolder,
    context_option,
    json_option,
    needs_kuberay,
)
from ray101.commands.output import ReadyDisplay, console, print_json, print_table, retry_notice


@click.command("compare")
@click.option("--clusters", type=NameList(), default="local-single,local-multi", show_default=True,
              help="Comma-separated cluster names (or Jobs API URLs).")
@context_option
@click.option("--workloads", "workload_list", type=NameList(), default="all", show_default=True,
              help="`all` or comma-separated workload names.")
@click.option("--repeat", "-n", type=click.IntRange(min=1), default=3, show_default=True,
              help="Repetitions per job: the first is cold, the rest warm.")
@click.option("--out", type=WritableFolder(), default="results", show_default=True,
              help="Folder for compare.json, .md, .png and .html (checked writable first).")
@click.option("--timeout", type=Seconds(), default=None, metavar="S",
              help="Stop any one job after S seconds (default: each workload's ceiling).")
@click.option("--via", "vias", type=NameList(), default="jobs-api", show_default=True,
              help="How jobs go in: jobs-api, rayjob, rayjob-cluster (KubeRay clusters only), "
                   "or several side by side, e.g. jobs-api,rayjob,rayjob-cluster (`<cluster> via "
                   "rayjob` in the report). rayjob-cluster: each job's RayJob brings up a cluster "
                   "of its own shaped like the named one, deleted after the job.")
@json_option
def compare_cmd(clusters: list[str], workload_list: list[str], repeat: int, out: Path,
                timeout: float | None, vias: list[str], as_json: bool) -> None:
    """Run every workload on every cluster and compare runtimes and outputs.

    Prints, per workload, the cold and warm runtime on each cluster against the ideal, the
    speedup of multi-node over single-node, and whether the outputs agree; writes
    compare.json, compare.md, compare.png and compare.html. A job whose cluster stops
    answering is recorded as UNKNOWN and the comparison goes on: the report says what is
    missing. Exits 1 if a run did not succeed or outputs differ.

    An autoscaling KubeRay cluster (k8s-auto) gets a section of its own: when its workers were
    made, joined Ray and ran their first task, and, after its last job, how long until they
    were gone again (at most its idle timeout plus 90 s).

    Example: ray101 compare --clusters local-single,local-multi --repeat 3 --out results
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from ray101 import comparison, matrix, render, runner, store
    from ray101.errors import Ray101Error
    from ray101_jobs.registry import workloads

    names = list(workloads()) if workload_list == ["all"] else workload_list
    for name in names:
        try:
            runner.workload(name)  # unknown names fail before anything runs
        except Ray101Error as exc:
            raise click.BadParameter(exc.message, param_hint="'--workloads'") from None
    for via in vias:
        if via not in VIAS:
            raise click.BadParameter(f"'{via}' is not one of {', '.join(VIAS)}",
                                     param_hint="'--via'")
    kuberay_vias = [via for via in vias if via != "jobs-api"]
    if kuberay_vias:
        from ray101 import targets

        for name in clusters:
            target = targets.resolve(name)
            needs_kuberay(target.name, target.kind, kuberay_vias[0])
    cluster_names = clusters
    run_id = store.new_run_id()
    started = time.monotonic()
    progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn(
        "{task.completed}/{task.total}"), TimeElapsedColumn(),
        console=console().__class__(stderr=True), transient=True,
        disable=as_json or not sys.stderr.isatty())
    with progress:
        task = progress.add_task("compare", total=len(names) * len(cluster_names) * len(vias))

        current = {"what": "compare"}

        def on_start(cluster: str, workload: str) -> None:
            current["what"] = f"{workload} on {cluster}"
            progress.update(task, description=current["what"])

        def on_status(job_id: str, status: str, seconds: float) -> None:
            progress.update(task, description=f"{current['what']}: {status} {seconds:.0f} s")

        def on_done(entry: dict) -> None:
            progress.advance(task)
            if as_json:
                return
            done, total = int(progress.tasks[0].completed), progress.tasks[0].total
            line = (f"[{done}/{total}] {entry['workload']} on {entry['cluster']}: "
                    f"{entry['status']} ({entry['end_to_end_s']:.1f} s)")
            own = entry.get("own_cluster") or {}
            if own.get("cluster_ready_s") is not None:  # --via rayjob-cluster
                line += f", its own cluster ready after {own['cluster_ready_s']:.1f} s"
            if sys.stderr.isatty():  # above the bar, which stays at the bottom
                progress.console.print(line, markup=False, highlight=False)
            else:
                click.echo(line, err=True)

        try:
            runs, facts = matrix.run_matrix(
                cluster_names, names, repeat, run_id, on_start, on_done, timeout,
                on_wait=ReadyDisplay(), on_status=on_status, on_retry=retry_notice,
                vias=tuple(vias))
        except KeyboardInterrupt:
            sys.exit(130)
    data = comparison.report(runs, facts, run_id, repeat, time.monotonic() - started)
    store.record_comparison(data)
    files = render.write(data, out)
    if as_json:
        print_json(data)
    else:
        print_table(data, f"wrote {', '.join(str(f) for f in files)}")
    failed = [r for r in runs if r["status"] != "SUCCEEDED"]
    if failed:
        raise Ray101Error(f"{len(failed)} run(s) did not succeed: " + "; ".join(
            r["message"] or r["status"] for r in failed))
    if not data["consistent"]:
        differ = [r["workload"] for r in data["rows"] if not r["outputs_agree"]]
        raise Ray101Error(f"outputs differ between clusters for: {', '.join(differ)}")


COMMANDS = [compare_cmd]
