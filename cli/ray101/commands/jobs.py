"""`ray101 jobs list|status|logs|stop|delete`: the jobs on one cluster."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import click

from ray101.commands.options import Seconds, cluster_option, json_option
from ray101.commands.output import JobWait, connect, console, log_printer, print_json

if TYPE_CHECKING:
    from ray101.head.jobs import JobsAPI


@contextlib.contextmanager
def _jobs_api(cluster: str) -> Iterator[JobsAPI]:
    """The Jobs API of ``cluster``, connected for the duration of the ``with`` block."""
    from ray101 import targets
    from ray101.head.jobs import JobsAPI

    with connect(targets.resolve(cluster)) as conn:
        yield JobsAPI(conn)


@click.group("jobs")
def jobs_group() -> None:
    """Inspect and control the jobs of one cluster.

    Example: ray101 jobs list --cluster local-multi
    """


@jobs_group.command("list")
@cluster_option
@click.option("--all", "show_all", is_flag=True, help="Include jobs not submitted by ray101.")
@json_option
def list_cmd(cluster: str, show_all: bool, as_json: bool) -> None:
    """List the cluster's jobs, newest first, with workload and topology.

    Example: ray101 jobs list --cluster local-multi
    """
    from rich.table import Table

    with _jobs_api(cluster) as api:
        rows = [j.details() for j in api.list()]
    if not show_all:
        rows = [r for r in rows if "workload" in r["metadata"]]
    rows.sort(key=lambda r: r["start_time"] or 0, reverse=True)
    if as_json:
        print_json(rows)
        return
    table = Table("job", "status", "workload", "topology", "started")
    for r in rows:
        started = time.strftime("%H:%M:%S", time.localtime((r["start_time"] or 0) / 1000))
        table.add_row(r["job_id"], r["status"], r["metadata"].get("workload", "—"),
                      r["metadata"].get("topology", "—"), started)
    console().print(table)


@jobs_group.command("status")
@click.argument("job_id")
@cluster_option
@json_option
def status_cmd(job_id: str, cluster: str, as_json: bool) -> None:
    """Show one job's status, message and driver exit code.

    Example: ray101 jobs status ray101-parallel-retrieve-local-multi-... --cluster local-multi
    """
    with _jobs_api(cluster) as api:
        details = api.info(job_id).details()
    if as_json:
        print_json(details)
        return
    click.echo(f"{details['job_id']}: {details['status']}")
    if details["message"]:
        click.echo(f"message: {details['message'].strip().splitlines()[0]}")
    if details["driver_exit_code"] is not None:
        click.echo(f"driver exit code: {details['driver_exit_code']}")


@jobs_group.command("logs")
@click.argument("job_id")
@cluster_option
@click.option("--follow", "-f", is_flag=True, help="Keep printing until the job ends.")
def logs_cmd(job_id: str, cluster: str, follow: bool) -> None:
    """Print a job's log (with --follow, until the job ends).

    Example: ray101 jobs logs JOB_ID --cluster local-single --follow
    """
    with _jobs_api(cluster) as api:
        if not follow:
            click.echo(api.logs(job_id), nl=False)
            return
        try:
            outcome = api.follow(job_id, on_log=log_printer())
        except KeyboardInterrupt:
            sys.exit(130)  # following is read-only: the job keeps running
    if not outcome.succeeded:
        from ray101.errors import Ray101Error

        raise Ray101Error(outcome.error_line())


@jobs_group.command("stop")
@click.argument("job_id")
@cluster_option
@click.option("--no-wait", is_flag=True, help="Return once the stop is requested.")
@click.option("--timeout", type=Seconds(), default=60, show_default=True, metavar="S",
              help="Give up waiting for the job to end after S seconds (exit 1).")
@json_option
def stop_cmd(job_id: str, cluster: str, no_wait: bool, timeout: float, as_json: bool) -> None:
    """Stop a job and wait until it has ended, as `ray job stop` does.

    Exits 0 once the job is STOPPED (or had already finished); with --no-wait, once the stop
    is requested.

    Example: ray101 jobs stop JOB_ID --cluster local-multi
    """
    from ray101.errors import Ray101Error
    from ray101.head.jobs import TERMINAL

    with _jobs_api(cluster) as api:
        requested = api.stop(job_id)
        if no_wait:
            status = api.info(job_id).status
        else:
            with JobWait(quiet=as_json, label=f"stopping {job_id}") as wait:
                status = api.wait_terminal(job_id, timeout, on_status=wait)
        name = api.conn.target.name
    if as_json:
        print_json({"job_id": job_id, "cluster": name, "stop_requested": requested,
                    "status": status})
    elif not requested:
        click.echo(f"{job_id}: already finished ({status})")
    else:
        click.echo(f"{job_id}: {'stop requested' if no_wait else status}")
    if not no_wait and status not in TERMINAL:
        raise Ray101Error(f"job {job_id} is still {status} after {timeout:g} s; "
                          f"see `ray101 jobs status {job_id} --cluster {name}`")


@jobs_group.command("delete")
@click.argument("job_id")
@cluster_option
@json_option
def delete_cmd(job_id: str, cluster: str, as_json: bool) -> None:
    """Delete a finished job and its log from the cluster.

    Example: ray101 jobs delete JOB_ID --cluster local-multi
    """
    with _jobs_api(cluster) as api:
        api.delete(job_id)
        name = api.conn.target.name
    if as_json:
        print_json({"job_id": job_id, "cluster": name, "deleted": True})
    else:
        click.echo(f"{job_id}: deleted")


COMMANDS = [jobs_group]
