"""The run store: every finished job ray101 followed, one JSON file each.

``<RAY101_HOME>/runs/<run_id>/<job_id>.json``. Files are written atomically (temp file +
rename), so a ray101 killed mid-write leaves the previous records intact and readable.
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

from ray101 import state


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


def runs_dir() -> Path:
    return state.home() / "runs"


def record(run_id: str, entry: dict) -> Path:
    path = runs_dir() / run_id / f"{entry['job_id']}.json"
    state.atomic_write(path, json.dumps(entry, indent=2, sort_keys=True) + "\n")
    return path


def entry_from(outcome, workload: str, cluster: str, run_id: str, params: dict, repeat: int) -> dict:
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
