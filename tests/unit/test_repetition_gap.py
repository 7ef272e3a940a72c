"""The untimed pause before each warm repetition (ray101_jobs.common.REPETITION_GAP_S): every
warm repetition starts on a settled cluster, the cold one right after the driver's start, and
no pause is inside a runtime."""

from __future__ import annotations

import sys
import types

from ray101_jobs import common
from ray101_jobs.common import Repetition
from ray101_jobs.registry import WORKLOADS


def test_each_warm_repetition_follows_an_untimed_pause(monkeypatch):
    clock = {"now": 100.0}
    events: list[tuple[str, float]] = []

    def sleep(seconds: float) -> None:
        events.append(("pause", seconds))
        clock["now"] += seconds

    def run_once(params: dict) -> Repetition:
        events.append(("run", clock["now"]))
        clock["now"] += 1.0
        return Repetition(output=["same"], node_ips={"10.0.0.1"})

    fake_ray = types.SimpleNamespace(is_initialized=lambda: True)
    monkeypatch.setitem(sys.modules, "ray", fake_ray)
    monkeypatch.setattr(common, "_cluster_facts", lambda: {
        "ray_version": "x", "nodes": 1, "cpus": 2.0, "memory_bytes": 0, "cluster_node_ips": []})
    monkeypatch.setattr(common.time, "sleep", sleep)
    monkeypatch.setattr(common.time, "perf_counter", lambda: clock["now"])

    result = common.execute(WORKLOADS["sequential-retrieve"], run_once, {"items": 1, "seconds": 1.0}, 3)

    assert [kind for kind, _ in events] == ["run", "pause", "run", "pause", "run"]
    assert all(value == common.REPETITION_GAP_S for kind, value in events if kind == "pause")
    assert common.REPETITION_GAP_S > 0
    assert result["runtimes_s"] == [1.0, 1.0, 1.0]  # the pauses are outside every runtime
