"""`ray101 run` and `ray101 submit`: workloads through the Jobs API."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

import click

from ray101.commands.options import (
    VIAS,
    Seconds,
    WorkloadName,
    cluster_option,
    json_option,
    needs_kuberay,
    param_option,
    parse_params,
    repeat_option,
)
from ray101.commands.output import JobWait, connect, console, log_printer, print_json, retry_notice, summary_line

if TYPE_CHECKING:
    from ray101.head.jobs import JobsAPI
    from ray101_jobs.common import Workload


@click.command("run")
@click.argument("workloads", nargs=-1, required=True, type=WorkloadName())
@cluster_option
@repeat_option
@param_option
@click.option("--timeout", type=Seconds(), default=None, metavar="S",
              help="Stop the job after S seconds and exit 1 (default: the workload's ceiling, "
                   "`ray101 workloads` shows it).")
@click.option("--quiet", "-q", is_flag=True, help="Do not echo the job's log.")
@click.option("--via", type=click.Choice(VIAS), default="jobs-api", show_default=True,
              metavar="VIA",
              help="How the job goes in: jobs-api (the head's Jobs API), rayjob (a KubeRay "
                   "RayJob to the running cluster) or rayjob-cluster (a RayJob that brings up a "
                   "cluster of its own shaped like the named one: time to result includes its "
                   "start). RayJobs: k8s-* only, deleted, with their own cluster, when the job "
                   "has ended.")
@json_option
def run_cmd(workloads: tuple, cluster: str, repeat: int, params: tuple[str, ...],
            timeout: float | None, quiet: bool, via: str, as_json: bool) -> None:
    """Run WORKLOAD(s) on a cluster through the Jobs API and wait for the result.

    With --via rayjob each job goes in as a KubeRay RayJob (`kubectl get rayjobs` shows it while
    it runs), its status is read from the RayJob, its log and result from the dashboard.
    With --via rayjob-cluster the RayJob brings up a RayCluster of its own, a copy of the named
    cluster's spec without autoscaling; ray101 reads the result from its head, deletes the
    RayJob and waits until the cluster is gone, and says how long the cluster took to be ready.
    On an
    autoscaling cluster (k8s-auto) each worker KubeRay made during the jobs is shown: seconds
    from the submission to its pod, to its Ray node, to its first task.

    Shows the job's log while it runs, prints the result and records it. Exits 0 when every
    job SUCCEEDED, else 1 with the job's message and driver exit code. A job runs at most its
    workload's ceiling (2 min plus a per-repetition ceiling; --timeout sets another). If the
    cluster stops answering for longer than RAY101_HEAD_PATIENCE_S (60 s), the job is recorded
    as UNKNOWN with its id.

    Example: ray101 run parallel-retrieve --cluster local-multi --repeat 3
    """
    from ray101 import matrix, runner, store, targets
    from ray101.errors import Ray101Error

    chosen = [(wl, parse_params(wl, params)) for wl in workloads]
    target = targets.resolve(cluster)
    needs_kuberay(target.name, target.kind, via)
    run_id = store.new_run_id()
    entries = []
    failed = []
    try:
        with connect(target) as conn:
            api: JobsAPI = matrix.submitter(conn, via)
            api.client.on_retry = retry_notice
            watch = None
            if target.kube is not None and target.kube.autoscaling:
                from ray101.kube.autoscale import Watch
                from ray101.kube.client import client as kube_client

                watch = Watch(kube_client(), api.client, target.kube.raycluster,
                              target.kube.max_workers, target.kube.idle_timeout_s)
            for index, (wl, values) in enumerate(chosen):
                submitted = time.time()
                on_submit = None
                if not as_json:
                    on_submit = lambda job_id, wl=wl: click.echo(  # noqa: E731
                        f"Submitted {wl.name} to {target.name} as {describe(api, job_id)}",
                        err=True)
                with JobWait(quiet=as_json, label=f"{wl.name} on {target.name}") as wait:
                    entry, outcome = runner.run_on(
                        api, wl, values, repeat, run_id, index, timeout,
                        on_log=None if (quiet or as_json) else log_printer(),
                        on_submit=on_submit, on_status=wait,
                    )
                if watch is not None:
                    watch.look(wl.name, submitted, time.time())
                    entry["autoscaling"] = watch.report()
                entries.append(entry)
                if not outcome.succeeded:
                    failed.append(outcome.error_line())
    except KeyboardInterrupt:
        sys.exit(130)
    if as_json:
        print_json(entries)
    else:
        for entry in entries:
            if entry["status"] == "SUCCEEDED":
                console().print(summary_line(entry))
        for entry in entries:
            if entry.get("own_cluster"):
                click.echo(own_cluster_line(entry))
        for w in (entries[-1].get("autoscaling") or {}).get("workers", []) if entries else []:
            click.echo(f"{target.name}: worker {w['pod']} (made during {w['made_during']}): pod "
                       f"created {_s(w['created_s'])}, Ray node alive {_s(w['node_alive_s'])}, "
                       f"first task {_s(w['first_task_s'])} after the submission")
    if failed:
        raise Ray101Error("; ".join(failed))


def own_cluster_line(entry: dict) -> str:
    """How the job's own RayCluster (--via rayjob-cluster) came and went."""
    own = entry["own_cluster"]
    kuberay = own.get("cluster_ready_kuberay_s")
    line = (f"{entry['workload']} on {entry['cluster']} via rayjob-cluster: RayCluster "
            f"{own.get('raycluster') or '?'} ({own['submission_mode']}) ready "
            f"{_s(own.get('cluster_ready_s'))} after its RayJob was created"
            + (f" (KubeRay's clock: {kuberay:g} s)" if kuberay is not None else "")
            + f", job running at {_s(own.get('job_running_s'))}; cluster gone "
            f"{_s(own.get('cluster_gone_s'))} after the RayJob was deleted")
    if own.get("head_pending"):
        line += f"; meanwhile {own['head_pending']}"
    return line


def _s(seconds: float | None) -> str:
    return "not yet" if seconds is None else f"{seconds:.1f} s"


def describe(api: JobsAPI, job_id: str) -> str:
    """A submitted job as the user can find it: the RayJob too when it went in as one."""
    from ray101.kube.rayjob import RayJobSubmitter

    if isinstance(api, RayJobSubmitter):
        return f"RayJob {api.where(job_id).split(' ', 1)[1]} (job {job_id})"
    return job_id


@click.command("submit")
@click.argument("workload", type=WorkloadName())
@cluster_option
@repeat_option
@param_option
@json_option
def submit_cmd(workload: Workload, cluster: str, repeat: int, params: tuple[str, ...],
               as_json: bool) -> None:
    """Submit WORKLOAD without waiting; prints the job id and the commands to follow it.

    Example: ray101 submit task-dependencies --cluster local-single
    """
    from ray101 import store, targets
    from ray101.head.jobs import JobsAPI

    wl = workload
    values = parse_params(wl, params)
    target = targets.resolve(cluster)
    with connect(target) as conn:
        job_id = JobsAPI(conn).submit(wl, values, repeat, store.new_run_id())
    if as_json:
        print_json({"job_id": job_id, "cluster": target.name, "workload": wl.name})
        return
    click.echo(f"Submitted {wl.name} to {target.name}: {job_id}")
    click.echo("Next:")
    for verb in ("status", "logs --follow", "stop"):
        click.echo(f"  ray101 jobs {verb} {job_id} --cluster {target.name}")


COMMANDS = [run_cmd, submit_cmd]
