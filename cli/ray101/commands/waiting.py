"""What the user sees while ray101 waits for a KubeRay cluster to become ready.

``ray101.kube.readiness.wait_ready`` reports each look at the cluster to a callback; this is the
callback the commands pass: a rich progress bar on a terminal, one line in a log.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ray101 import targets
from ray101.kube.readiness import ReadyProgress
from ray101.models import Connection, Target

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


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
def connect(target: Target) -> Iterator[Connection]:
    """``targets.connect`` with the waiting shown to the user."""
    with targets.connect(target, on_wait=ReadyDisplay()) as conn:
        yield conn
