"""The run store: every finished job ray101 followed, one JSON file each, and each comparison.

``<RAY101_HOME>/runs/<run_id>/<job_id>.json`` per job; a ``ray101 compare`` also leaves its
whole report there as ``compare.json`` (in its own key order, so that it renders again byte for
byte: ``ray101 runs show``). Files are written atomically (temp file + rename), so a ray101
killed mid-write leaves the previous records intact and readable.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ray101 import state
from ray101.errors import Ray101Error

if TYPE_CHECKING:
    from ray101.head.jobs import JobOutcome

COMPARISON = "compare.json"
RUN_ID = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{4}$")  # what new_run_id makes
JOB_FILE = re.compile(r"^[A-Za-z0-9._-]+$")  # a job id that is a plain file name


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


def valid_run_id(run_id: str) -> bool:
    """Is ``run_id`` shaped as ray101 makes run ids (so never a path such as ``../x``)?"""
    return bool(RUN_ID.match(run_id))


def runs_dir() -> Path:
    return state.home() / "runs"


def _folder(run_id: str) -> Path:
    """The run's folder in the store; a run id that is not one never leaves the store."""
    if not valid_run_id(run_id):
        raise Ray101Error(f"'{run_id}' is not a run id (like 20260101-120000-ab12; "
                          "`ray101 runs` lists them)")
    return runs_dir() / run_id


def record(run_id: str, entry: dict) -> Path:
    if not JOB_FILE.match(entry["job_id"]) or entry["job_id"] in (".", ".."):
        raise Ray101Error(f"job id {entry['job_id']!r} cannot name a record file")
    path = _folder(run_id) / f"{entry['job_id']}.json"
    state.atomic_write(path, json.dumps(entry, indent=2, sort_keys=True) + "\n")
    return path


def record_comparison(data: dict) -> Path:
    """Keep a comparison's report (``comparison.report``) beside its jobs' records."""
    path = _folder(data["run_id"]) / COMPARISON
    state.atomic_write(path, json.dumps(data, indent=2) + "\n")
    return path


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise Ray101Error(f"the run record {path} is unreadable: {exc}") from None


def run_ids() -> list[str]:
    """Every recorded run, oldest first (run ids start with their time)."""
    if not runs_dir().is_dir():
        return []
    return sorted(p.name for p in runs_dir().iterdir() if p.is_dir() and valid_run_id(p.name))


def entries(run_id: str) -> list[dict]:
    """The job records of one run, in the order they finished."""
    folder = _folder(run_id)
    if not folder.is_dir():
        known = run_ids()
        hint = f"the latest is {known[-1]}" if known else "none recorded yet"
        raise Ray101Error(f"no run {run_id} in {runs_dir()} ({hint}; `ray101 runs` lists them)")
    records = [_read(p) for p in folder.glob("*.json") if p.name != COMPARISON]
    return sorted(records, key=lambda e: (e.get("recorded_at") or "", e.get("job_id") or ""))


def comparison(run_id: str) -> dict | None:
    """The report of the comparison ``run_id``, or None when the run was not a comparison."""
    entries(run_id)  # a clear error for an unknown run
    path = _folder(run_id) / COMPARISON
    return _read(path) if path.exists() else None


def last_comparison() -> str:
    """The id of the latest comparison in the store."""
    for run_id in reversed(run_ids()):
        if (runs_dir() / run_id / COMPARISON).exists():
            return run_id
    raise Ray101Error(f"no comparison recorded in {runs_dir()}: run `ray101 compare` first")


def entry_from(outcome: JobOutcome, workload: str, cluster: str, run_id: str, params: dict, repeat: int) -> dict:
    """The record of one job: what ``compare.json`` lists under ``runs``."""
    result = outcome.result if outcome.result and "error" not in outcome.result else {}
    return {
        "workload": workload,
        "cluster": cluster,
        "run_id": run_id,
        "job_id": outcome.job_id,
        "status": outcome.status,
        "message": None if outcome.succeeded else outcome.error_line(),
        "driver_exit_code": outcome.driver_exit_code,
        "params": params,
        "repeat": repeat,
        "output": result.get("output"),
        "runtimes_s": result.get("runtimes_s", []),
        "ideal_s": result.get("ideal_s"),
        "node_ips": result.get("node_ips", []),
        "nodes": result.get("nodes"),
        "cpus": result.get("cpus"),
        "ray_version": result.get("ray_version"),
        "extra": result.get("extra", []),
        "end_to_end_s": round(outcome.seconds, 3),
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
