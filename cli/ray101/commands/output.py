"""What the commands print: JSON, tables, the progress of long steps, a job's log, summaries.

The core reports through plain callbacks (``progress(message)``, ``on_output(line)``,
``on_status(job_id, status, seconds)``, ``on_wait(ReadyProgress)``); the classes here draw them
on stderr. On a terminal: a rich line per step with a spinner and its elapsed time. Not a
terminal (a pipe, CI's log): each step once as a plain line, no animation. ``quiet``
(``--json``): nothing at all.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import click

from ray101 import targets
from ray101.kube.readiness import ReadyProgress
from ray101.models import Connection, Target

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID


def print_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def console() -> Console:
    from rich.console import Console

    # Not a terminal (a pipe, a log): wide enough that tables keep whole names and URLs.
    return Console(highlight=False, width=None if sys.stdout.isatty() else 200)


def print_table(data: dict, tail: str) -> None:
    """A comparison as a table on stdout, then one line: consistent, how long, ``tail``."""
    from rich.table import Table

    from ray101 import render

    header, body = render.table_rows(data)
    table = Table(*header, title=f"ray101 compare {data['run_id']}")
    for row in body:
        table.add_row(*row)
    con = console()
    con.print(table)
    header, body = render.job_times(data)
    times = Table(*header, title="time per job")
    for row in body:
        times.add_row(*row)
    con.print(times)
    con.print(f"consistent: {str(data['consistent']).lower()}  ·  "
              f"{data['elapsed_s']:.0f} s  ·  {tail}")
    incomplete = render.incomplete(data)
    if incomplete:
        con.print(incomplete, markup=False)
    for line in render.autoscaling(data):  # k8s-auto: its workers, timed
        con.print(line, markup=False, highlight=False)


def summary_line(entry: dict) -> str:
    """One finished job of ``ray101 run``, on one line."""
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


def log_printer() -> Callable[[str], None]:
    """Echo a job's log as it arrives, minus the machine-readable result and warm-workers lines."""
    from ray101_jobs.common import RESULT_PREFIX, WARM_PREFIX

    pending = [""]

    def on_log(chunk: str) -> None:
        text = pending[0] + chunk
        lines = text.split("\n")
        pending[0] = lines.pop()  # keep a partial last line for the next chunk
        for line in lines:
            if not line.startswith((RESULT_PREFIX, WARM_PREFIX)):
                # sys.stdout as it is now: while a progress line is drawn, rich's proxy,
                # which prints the log above that line instead of through it.
                sys.stdout.write(line + "\n")
        sys.stdout.flush()

    return on_log


# -- long steps ----------------------------------------------------------------------------------
def _stderr_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


class Steps:
    """Call with each step's message; ``detail(text)`` updates the running step's line.

    Use as a context manager: the last step is marked done on exit (and the display stopped,
    also on an error or Ctrl-C).
    """

    def __init__(self, quiet: bool = False) -> None:
        self.console = _stderr_console()
        self.quiet = quiet
        self.live = not quiet and self.console.is_terminal
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._title = ""

    def __enter__(self) -> Steps:
        if self.live:
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                SpinnerColumn(finished_text="[green]✓[/]"), TextColumn("{task.description}"),
                TimeElapsedColumn(), console=self.console, transient=False,
            )
            self._progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._finish()
        if self._progress is not None:
            self._progress.stop()

    def _finish(self) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=self._title, completed=1)
            self._task = None

    def __call__(self, message: str) -> None:
        if self.quiet:
            return
        if not self.live:
            self.console.print(message, markup=False, soft_wrap=True)
            return
        from rich.markup import escape

        self._finish()
        self._title = escape(message)
        if self._progress is not None:
            self._task = self._progress.add_task(self._title, total=1)

    def detail(self, text: str) -> None:
        """The running step's latest detail (e.g. the build's last line); terminals only."""
        if self.live and self._progress is not None and self._task is not None:
            from rich.markup import escape

            text = text.strip()
            width = max(10, self.console.width - len(self._title) - 20)
            if len(text) > width:
                text = text[:width - 1] + "…"
            self._progress.update(self._task, description=f"{self._title} [dim]{escape(text)}[/]")


class JobWait:
    """One line while a job waits or runs: its id, its status and the time since submission.

    ``on_status(job_id, status, seconds)`` is what ``JobsAPI.follow`` calls on every poll. A log
    being echoed to stdout shares the terminal with it: rich keeps the line below the log.
    """

    def __init__(self, quiet: bool = False, label: str = "") -> None:
        self.console = _stderr_console()
        self.live = not quiet and self.console.is_terminal
        self.label = label
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> JobWait:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
        self._progress = self._task = None

    def __call__(self, job_id: str, status: str, seconds: float) -> None:
        if not self.live:
            return
        from rich.markup import escape

        text = f"{escape(self.label or job_id)}: [bold]{escape(status)}[/]"
        if self._progress is None:
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            # The job's log goes to stdout: keep it above this line when both are the terminal.
            progress = Progress(SpinnerColumn(), TextColumn("{task.description}"),
                                TimeElapsedColumn(), console=self.console, transient=True,
                                redirect_stdout=sys.stdout.isatty(), redirect_stderr=False)
            progress.start()
            self._progress = progress
            self._task = progress.add_task(text, total=None)
        if self._task is not None:
            self._progress.update(self._task, description=text)
        if status in ("SUCCEEDED", "FAILED", "STOPPED"):
            self.stop()


# -- waiting for a KubeRay cluster ---------------------------------------------------------------
class ReadyDisplay:
    """Draws :class:`ReadyProgress` reports on stderr; started by the first, stopped by the last."""

    def __init__(self) -> None:
        self._progress: Progress | _Quiet | None = None
        self._bar: Progress | None = None  # the same Progress, on a terminal
        self._task: TaskID | None = None

    def __call__(self, report: ReadyProgress) -> None:
        if report.finished:
            if self._progress is not None:
                self._progress.stop()
            self._progress = self._bar = self._task = None
            return
        if self._progress is None and not self._start(report):
            return
        if self._bar is not None and self._task is not None:
            self._bar.update(
                self._task, completed=report.pods_ready,
                description=f"waiting for {report.cluster}: {report.status}"[:110],
            )

    def _start(self, report: ReadyProgress) -> bool:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        console = Console(stderr=True, highlight=False)
        if not console.is_terminal:  # a log: one line, no animation
            console.print(f"Waiting up to {report.timeout:.0f} s for {report.cluster} to be ready "
                          f"({report.pods} pods)...")
            self._progress = _Quiet()
            return False
        bar = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(bar_width=20),
            MofNCompleteColumn(), TextColumn("pods ready"), TimeElapsedColumn(),
            console=console, transient=True,
        )
        bar.start()
        self._progress = self._bar = bar
        self._task = bar.add_task(f"waiting for {report.cluster}", total=report.pods)
        return True


class _Quiet:
    def stop(self) -> None:
        pass


@contextlib.contextmanager
def connect(target: Target, dashboard_port: int | None = None) -> Iterator[Connection]:
    """``targets.connect`` with the waiting shown to the user."""
    with targets.connect(target, on_wait=ReadyDisplay(), dashboard_port=dashboard_port) as conn:
        yield conn


def retry_notice(why: str, left: float) -> None:
    """What the user reads while the head client retries through a hiccup."""
    click.echo(f"{why}; retrying (up to {left:.0f} s more)", err=True)
