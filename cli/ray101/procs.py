"""Process control, in one place: is a process alive, and stopping processes TERM-then-KILL.

Used for the local Ray nodes (``local.cluster``), the processes left in their network namespaces
(``local.network``) and the MongoDB server ray101 starts (``mongo.server``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

POLL_S = 0.05


def start_time(pid: int | None) -> str | None:
    """When ``pid`` started, as a token that differs for any other process that gets the same
    pid later (after a reboot too): recorded with a pid so that a stale record never makes us
    signal a stranger. None when there is no such process."""
    if not pid:
        return None
    try:
        ticks = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        return f"{boot}:{ticks}"
    except (OSError, IndexError):
        pass
    if Path("/proc/self/stat").exists():
        return None  # Linux: no such process
    try:  # macOS and other BSDs
        out = subprocess.run(["ps", "-o", "lstart=", "-p", str(pid)], capture_output=True,
                             text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out or None


def alive(pid: int | None, binary: str | None = None, started: str | None = None) -> bool:
    """Is ``pid`` running (not a zombie) and, when ``binary`` is given, still that program, and,
    when ``started`` is given, still the process that started then (:func:`start_time`)?

    A dead child of ours is reaped on the way, so it does not linger as a zombie.
    """
    if not pid:
        return False
    if started is not None and start_time(pid) != started:
        return False
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
        if binary:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
            return Path(cmd).name == Path(binary).name
    except (OSError, IndexError):
        pass
    return True


def log_tail(path: str | Path | None, lines: int = 1) -> str:
    """The last ``lines`` lines a process wrote to its log, on one line (for error messages)."""
    if path is None:
        return ""
    try:
        text = Path(path).read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text[-lines:])[:300]


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children that left its process group included)."""
    parents: dict[int, list[int]] = {}
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        try:  # macOS: psutil when importable (Ray ships its own copy, not importable as psutil)
            import psutil

            return [c.pid for c in psutil.Process(pid).children(recursive=True)]
        except Exception:
            return []
    for entry in proc.iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def terminate(pids: list[int], grace: float, first: int = signal.SIGTERM,
              groups: tuple[int, ...] = ()) -> None:
    """Send ``first`` to ``pids`` (and the process ``groups``), then SIGKILL to whatever still
    runs ``grace`` seconds later; returns once they are gone (or 5 s after the SIGKILL)."""
    signals = [first] if first == signal.SIGKILL else [first, signal.SIGKILL]
    for sig in signals:
        for group in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, sig)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.monotonic() + (5.0 if sig == signal.SIGKILL else grace)
        while time.monotonic() < deadline and any(alive(p) for p in pids):
            time.sleep(POLL_S)
        if not any(alive(p) for p in pids):
            return


def stop(pid: int, grace: float = 10.0, binary: str | None = None,
         started: str | None = None) -> bool:
    """SIGTERM ``pid`` (SIGKILL after ``grace``) when it is still that process (``binary``,
    ``started``: see :func:`alive`); True when it was running."""
    if not alive(pid, binary, started):
        return False
    terminate([pid], grace)
    return True


def stop_group(pgid: int, grace: float, first: int = signal.SIGTERM) -> None:
    """Stop a process group and each of its descendants (a child may have left the group)."""
    terminate([pgid, *descendants(pgid)], grace, first, groups=(pgid,))
