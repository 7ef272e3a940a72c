"""Run one workload on one connected cluster, follow it, record it: shared by run and compare.

Whatever happens after the submission is recorded: a job that ends, one stopped at its
deadline, and one whose end ray101 never learned because the head stopped answering (status
``UNKNOWN``, with its job id, so ``ray101 jobs status`` can ask later).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ray101 import store
from ray101.errors import Ray101Error
from ray101.head.client import HeadUnreachable
from ray101.head.jobs import UNKNOWN, JobOutcome, JobsAPI, submission_id

if TYPE_CHECKING:
    from ray101_jobs.common import Workload


def workload(name: str) -> Workload:
    """The workload called ``name``, or a one-line error listing the known ones."""
    from ray101_jobs.registry import workloads

    known = workloads()
    if name not in known:
        raise Ray101Error(f"unknown workload '{name}' (known: {', '.join(known)})")
    return known[name]


def unknown_outcome(job_id: str, message: str, started: float) -> JobOutcome:
    """The outcome of a job whose end ray101 could not learn."""
    return JobOutcome(job_id=job_id, status=UNKNOWN, message=message, driver_exit_code=None,
                      logs="", result=None, seconds=time.monotonic() - started)


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
    label: str | None = None,
) -> tuple[dict, JobOutcome]:
    """Submit, follow to the end (stopping the job at ``timeout``, by default the workload's
    ceiling), and record the result, also when the head stopped answering (``UNKNOWN``).
    The record names the cluster ``label`` (default: the cluster's name; a comparison of both
    submission paths labels the RayJob one) and how the job went in (``via``)."""
    started = time.monotonic()
    timeout = wl.default_timeout(params, repeat) if timeout is None else timeout
    job_id = submission_id(wl.name, api.conn.target.name, run_id, index)
    try:
        api.submit(wl, params, repeat, run_id, index)
    except HeadUnreachable as exc:
        outcome = unknown_outcome(job_id, f"{exc.message}; the job may or may not have been "
                                  f"submitted: `ray101 jobs status {job_id} --cluster "
                                  f"{api.conn.target.name}`", started)
    else:
        if on_submit:
            on_submit(job_id)
        try:
            outcome = api.follow(job_id, on_log=on_log, timeout=timeout, started=started,
                                 on_status=on_status)
        except KeyboardInterrupt:
            stop_on_interrupt(api, job_id)
            raise
    entry = store.entry_from(outcome, wl.name, label or api.conn.target.name, run_id, params,
                             repeat)
    entry["via"] = api.via
    entry.update(api.facts(job_id))
    store.record(run_id, entry)
    return entry, outcome


def record_unreached(wl: Workload, cluster: str, run_id: str, index: int, params: dict,
                     repeat: int, why: str) -> dict:
    """Record a job that was never submitted because its cluster could not be reached."""
    job_id = submission_id(wl.name, cluster, run_id, index)
    outcome = unknown_outcome(job_id, f"not submitted: {why}", time.monotonic())
    entry = store.entry_from(outcome, wl.name, cluster, run_id, params, repeat)
    store.record(run_id, entry)
    return entry


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
