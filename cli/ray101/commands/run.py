"""`ray101 run` and `ray101 submit`: workloads through the Jobs API."""

from __future__ import annotations

import sys
from collections.abc import Callable

import click

from ray101.commands.options import (
    cluster_option,
    console,
    json_option,
    param_option,
    print_json,
    repeat_option,
)


def log_printer() -> Callable[[str], None]:
    """Echo a job's log as it arrives, minus the machine-readable result line."""
    from ray101_jobs.common import RESULT_PREFIX

    pending = [""]

    def on_log(chunk: str) -> None:
        text = pending[0] + chunk
        lines = text.split("\n")
        pending[0] = lines.pop()  # keep a partial last line for the next chunk
        for line in lines:
            if not line.startswith(RESULT_PREFIX):
                # sys.stdout as it is now: while a progress line is drawn, rich's proxy,
                # which prints the log above that line instead of through it.
                sys.stdout.write(line + "\n")
        sys.stdout.flush()

    return on_log


def summary_line(entry: dict) -> str:
    from ray101.figures import cold_warm, overhead_pct

    runtimes = entry["runtimes_s"]
    _, warm = cold_warm(runtimes)
    ideal = entry.get("ideal_s")
    pct = overhead_pct(warm, ideal)
    over = f", warm {warm:.2f} s, {pct:+.0f}% vs ideal {ideal:.2f} s" if pct is not None else ""
    return (
        f"{entry['workload']} on {entry['cluster']}: {entry['status']}; output {entry['output']}; "
        f"runtimes {', '.join(f'{r:.2f}' for r in runtimes)} s{over}; "
        f"nodes used {', '.join(entry['node_ips'])}; job {entry['job_id']} "
        f"({entry['end_to_end_s']:.1f} s end to end)"
    )


@click.command("run")
@click.argument("workloads", nargs=-1, required=True)
@cluster_option
@repeat_option
@param_option
@click.option("--timeout", type=float, default=None, metavar="S",
              help="Stop the job after S seconds and exit 1.")
@click.option("--quiet", "-q", is_flag=True, help="Do not echo the job's log.")
@json_option
def run_cmd(workloads: tuple[str, ...], cluster: str, repeat: int, params: tuple[str, ...],
            timeout: float | None, quiet: bool, as_json: bool) -> None:
    """Run WORKLOAD(s) on a cluster through the Jobs API and wait for the result.

    Shows the job's log while it runs, prints the result and records it. Exits 0 when every
    job SUCCEEDED, else 1 with the job's message and driver exit code.

    Example: ray101 run parallel-retrieve --cluster local-multi --repeat 3
    """
    from ray101 import runner, store, targets
    from ray101.commands import waiting
    from ray101.commands.progress import JobWait
    from ray101.errors import Ray101Error
    from ray101.jobsapi import JobsAPI

    if timeout is not None and timeout <= 0:
        raise Ray101Error(f"--timeout must be > 0, not {timeout:g}")
    runner.check_repeat(repeat)
    wls = [runner.workload(name) for name in workloads]  # every name known before any parameter
    chosen = [(wl, runner.parse_params(wl, params)) for wl in wls]
    target = targets.resolve(cluster)
    run_id = store.new_run_id()
    entries = []
    failed = []
    try:
        with waiting.connect(target) as conn:
            api = JobsAPI(conn)
            for index, (wl, values) in enumerate(chosen):
                on_submit = None
                if not as_json:
                    on_submit = lambda job_id, wl=wl: click.echo(  # noqa: E731
                        f"Submitted {wl.name} to {target.name} as {job_id}", err=True)
                with JobWait(quiet=as_json, label=f"{wl.name} on {target.name}") as wait:
                    entry, outcome = runner.run_on(
                        api, wl, values, repeat, run_id, index, timeout,
                        on_log=None if (quiet or as_json) else log_printer(),
                        on_submit=on_submit, on_status=wait,
                    )
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
    if failed:
        raise Ray101Error("; ".join(failed))


@click.command("submit")
@click.argument("workload")
@cluster_option
@repeat_option
@param_option
@json_option
def submit_cmd(workload: str, cluster: str, repeat: int, params: tuple[str, ...],
               as_json: bool) -> None:
    """Submit WORKLOAD without waiting; prints the job id and the commands to follow it.

    Example: ray101 submit task-dependencies --cluster local-single
    """
    from ray101 import runner, store, targets
    from ray101.commands import waiting
    from ray101.jobsapi import JobsAPI

    runner.check_repeat(repeat)
    wl = runner.workload(workload)
    values = runner.parse_params(wl, params)
    target = targets.resolve(cluster)
    with waiting.connect(target) as conn:
        job_id = JobsAPI(conn).submit(wl, values, repeat, store.new_run_id())
    if as_json:
        print_json({"job_id": job_id, "cluster": target.name, "workload": wl.name})
        return
    click.echo(f"Submitted {wl.name} to {target.name}: {job_id}")
    click.echo("Next:")
    for verb in ("status", "logs --follow", "stop"):
        click.echo(f"  ray101 jobs {verb} {job_id} --cluster {target.name}")


COMMANDS = [run_cmd, submit_cmd]
