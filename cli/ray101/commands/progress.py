"""What the user sees during the long steps (build FerretDB, start nodes, wait for a job).

The core reports through plain callbacks (``progress(message)``, ``on_output(line)``,
``on_status(status, seconds)``); these classes draw them on stderr. On a terminal: a rich line
per step with a spinner and its elapsed time (a finished step keeps its time and a tick). Not a
terminal (a pipe, CI's log): each step once as a plain line, no animation. ``quiet`` (``--json``):
nothing at all.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID


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
