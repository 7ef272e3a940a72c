"""The performance presentation from hand-made measurements (no cluster): compare's time per
job, and the bench page's idle-load and MongoDB-server sections."""

import sys
from pathlib import Path

from ray101 import render

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/ is not an installed package
from bench import report  # noqa: E402


def test_time_per_job_splits_end_to_end_into_work_and_the_rest():
    runs = [
        {"workload": "a", "cluster": "c1", "runtimes_s": [1.0, 0.5, 0.5], "end_to_end_s": 4.0},
        {"workload": "b", "cluster": "c1", "runtimes_s": [], "end_to_end_s": 1.5},
        {"workload": "a", "cluster": "c2", "runtimes_s": [2.0], "end_to_end_s": 3.25},
    ]
    header, rows = render.job_times({"runs": runs})
    assert header[2:] == ["end to end s", "work s", "start-up + shutdown s"]
    assert rows[0] == ["a", "c1", "4.0", "2.0", "2.0"]
    assert rows[1] == ["b", "c1", "1.5", "0.0", "1.5"]
    assert rows[-2] == ["all 2 jobs", "c1", "5.5", "2.0", "3.5"]
    assert rows[-1] == ["all 1 jobs", "c2", "3.2", "2.0", "1.2"]


def _idle(when, cores):
    return {"when": when, "window_s": 20.0, "processes": 40, "cpu_s": cores * 20, "cores": cores,
            "per_role": [{"role": "raylet", "processes": 4, "cpu_s": cores * 10, "cores": cores / 2},
                         {"role": "log monitor", "processes": 4, "cpu_s": cores * 10, "cores": cores / 2}]}


def _server_row(name, cpu, ours=False):
    read = {"wall_s": cpu, "server_cpu_s": cpu, "docs_per_s": round(44562 / cpu), "runs": []}
    return {"setting": name, "ours": ours, "peak_rss_mb": 50.0, "count": 44562, "digest": "ab12",
            "sequential": read, "concurrent": read}


def test_idle_load_stands_beside_the_figures_and_the_server_gain_is_against_the_first_setting():
    d = {"idle": [_idle("fresh lab", 0.1), _idle("after the comparison", 0.2)],
         "idle_before": {"server": _idle("before the server", 0.3)},
         "machine": {"cores": 2},
         "server": {"repeat": 2, "same_output": True, "query": "aggregate",
                    "rows": [_server_row("as released", 12.0), _server_row("ours", 4.0, ours=True)]}}
    idle = "\n".join(report._idle_section(d))
    assert "| fresh lab | 20 | 40 | **0.100** |" in idle and "**0.200**" in idle
    server = "\n".join(report._server_section(d))
    assert "**0.300 cores**" in server  # the idle load measured just before these figures
    assert "| **ours** |" in server and "3.00x" in server and "1.00x" in server
    assert "44,562 documents, digest ab12" in server
