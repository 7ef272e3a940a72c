"""Run one workload on one connected cluster, follow it, record it: shared by run and compare."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from ray101 import store
from ray101.errors import Ray101Error
from ray101.jobsapi import JobOutcome, JobsAPI

if TYPE_CHECKING:
    from ray101_jobs.common import Workload


def workload(name: str) -> Workload:
    """The workload called ``name``, or a one-line error listing the known ones."""
    from ray101_jobs.registry import workloads

    known = workloads()
    if name not in known:
        raise Ray101Error(f"unknown workload '{name}' (known: {', '.join(known)})")
    return known[name]


def parse_params(wl: Workload, pairs: Iterable[str]) -> dict:
    from ray101_jobs.common import ParamError

    try:
        return wl.parse_params(pairs)
    except ParamError as exc:
        raise Ray101Error(str(exc)) from None


def check_repeat(repeat: int) -> int:
    if repeat < 1:
        raise Ray101Error(f"--repeat must be >= 1, not {repeat}")
    return repeat


def run_on(
    api: JobsAPI,
    wl: Workload,
    params: dict,
    repeat: int,
    run_id: str,
    index: int = 0,
    timeout: float | None = None,
    on_log: Callable[[str], None] | None = None,
    on_submit: Callable[[str], None] | None = None,
    on_status: Callable[[str, str, float], None] | None = None,
) -> tuple[dict, JobOutcome]:
    """Submit, follow to the end (stopping the job at ``timeout``), and record the result."""
    import time

    started = time.monotonic()
    job_id = api.submit(wl, params, repeat, run_id, index)
    if on_submit:
        on_submit(job_id)
    try:
        outcome = api.follow(job_id, on_log=on_log, timeout=timeout, started=started,
                             on_status=on_status)
    except KeyboardInterrupt:
        stop_on_interrupt(api, job_id)
        raise
    entry = store.entry_from(outcome, wl.name, api.conn.target.name, run_id, params, repeat)
    store.record(run_id, entry)
    return entry, outcome


def stop_on_interrupt(api: JobsAPI, job_id: str) -> None:
    """Ctrl-C while following: stop the job rather than leave it running unseen."""
    import click

    try:
        api.stop(job_id)
        click.echo(f"\nInterrupted: stopped job {job_id}.", err=True)
    except Exception:
        click.echo(
            f"\nInterrupted: could not stop job {job_id}; stop it with "
            f"`ray101 jobs stop {job_id} --cluster {api.conn.target.name}`.",
            err=True,
        )
