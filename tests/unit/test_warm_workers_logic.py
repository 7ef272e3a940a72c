"""The logic of workers kept warm (jobs/ray101_jobs/warm.py) and its section of the bench page,
without a cluster: which workers in the raylet's own GetNodeStats reply count as kept, what turns
it off, that the local nodes ask Ray to start workers with the node, and how section 1b reads.
tests/test_warm_workers.py shows the same on the real clusters."""

import sys
from pathlib import Path

import pytest
from ray.core.generated import common_pb2, node_manager_pb2

from ray101.local import cluster, plan
from ray101_jobs import warm

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/ is not an installed package
from bench import report  # noqa: E402

NIL_JOB = b"\xff\xff\xff\xff"
NIL_ACTOR = b"\xff" * 16


def _worker(job=NIL_JOB, kind=0, actor=NIL_ACTOR, running=0):
    return common_pb2.CoreWorkerStats(job_id=job, worker_type=kind, actor_id=actor,
                                      num_running_tasks=running, pid=1)


def test_only_idle_workers_of_no_job_count_as_kept():
    reply = node_manager_pb2.GetNodeStatsReply(core_workers_stats=[
        _worker(),                                   # started, no job yet: kept
        _worker(job=b""),                            # no job id at all: kept
        _worker(job=b"\x02\x00\x00\x00"),            # bound to job 02000000
        _worker(kind=1, job=b"\x02\x00\x00\x00"),    # a driver
        _worker(actor=b"\x01" * 16),                 # an actor's process
        _worker(running=1),                          # busy
    ])
    assert warm.idle_unassigned(reply) == 2
    assert warm.idle_unassigned(node_manager_pb2.GetNodeStatsReply()) == 0


def test_a_job_counts_its_own_workers_and_asks_for_what_the_next_job_lacks():
    job = b"\x02\x00\x00\x00"
    reply = node_manager_pb2.GetNodeStatsReply(core_workers_stats=[
        _worker(job=job), _worker(job=job, actor=b"\x01" * 16), _worker(kind=1, job=job),
        _worker(job=b"\x03\x00\x00\x00"), _worker()])
    assert warm.used_by(reply, job) == 2  # its task and actor processes, not its driver
    # the empty runtime env: any idle worker of no job fits the next job
    assert warm.wanted(cpus=2, idle=0, used=2, empty_env=True) == 2
    assert warm.wanted(cpus=2, idle=1, used=1, empty_env=True) == 1
    assert warm.wanted(cpus=2, idle=4, used=0, empty_env=True) == 0
    # py_modules: the node-start (empty env) workers do not fit, so what the job used is replaced
    assert warm.wanted(cpus=2, idle=2, used=2, empty_env=False) == 2
    assert warm.wanted(cpus=2, idle=2, used=5, empty_env=False) == 2  # never more than one per CPU
    assert warm.wanted(cpus=2, idle=0, used=0, empty_env=False) == 2
    assert warm.wanted(cpus=2, idle=3, used=0, empty_env=False) == 0


@pytest.mark.parametrize("value,expected", [(None, True), ("1", True), ("yes", True), ("0", False),
                                            ("false", False), (" OFF ", False)])
def test_warm_workers_are_on_unless_the_job_says_no(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv(warm.ENV, raising=False)
    else:
        monkeypatch.setenv(warm.ENV, value)
    assert warm.enabled() is expected


def test_the_empty_runtime_env_is_told_from_a_shipped_one():
    assert warm._empty("{}") and warm._empty("") and warm._empty(None)
    assert not warm._empty('{"py_modules": ["gcs://_ray_pkg_0123.zip"]}')


def test_local_nodes_start_their_workers_with_the_node(monkeypatch, tmp_path):
    monkeypatch.setenv("RAY101_HOME", str(tmp_path))
    monkeypatch.delenv("RAY_enable_worker_prestart", raising=False)
    p = plan.make_plan(netns=False, is_free=lambda port: True)
    env = cluster._node_env(p, p.nodes[0], None)
    assert env["RAY_enable_worker_prestart"] == "1"
    assert env["RAY_preload_python_modules"] == ",".join(warm.PRELOAD_MODULES)


def test_every_preloaded_module_imports_in_this_ray():
    """A name Ray cannot import is only logged by each worker: it must exist in the Ray we pin."""
    import importlib

    for name in warm.PRELOAD_MODULES:
        importlib.import_module(name)


def test_the_preloaded_modules_are_what_a_jobs_first_task_imports():
    """Ray's serializer for a new job imports much when cold and nothing more once
    PRELOAD_MODULES are loaded (a Ray version that imports something else shows here)."""
    import subprocess
    import sys

    code = ("import importlib, sys, ray, ray._private.worker as w\n"
            "from ray._private.serialization import SerializationContext\n"
            "for name in filter(None, sys.argv[1].split(',')):\n"
            "    importlib.import_module(name)\n"
            "before = set(sys.modules)\n"
            "SerializationContext(w.global_worker)\n"
            "print(' '.join(sorted(set(sys.modules) - before)))\n")

    def imported_by_serializer(preload: str) -> list[str]:
        out = subprocess.run([sys.executable, "-c", code, preload], capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return out.stdout.split()

    assert len(imported_by_serializer("")) > 20
    assert imported_by_serializer(",".join(warm.PRELOAD_MODULES)) == []


def _cold(cold_with, cold_without, hop):
    def job(i, with_, cold):
        return {"job": i, "warm_workers": with_, "ok": True, "runtimes_s": [cold, 1.02, 1.01],
                "cold_s": cold, "warm_s": 1.015, "time_to_result_s": cold + 6, "command": "ray job submit"}
    return {"cluster": "local-multi", "settle_s": 5.0, "submit_env": "RAY_AUTH_MODE=token",
            "jobs": [job(1, False, cold_without), job(1, True, cold_with)],
            "with": {"jobs": 1, "cold_s": cold_with, "warm_s": 1.015, "time_to_result_s": cold_with + 6},
            "without": {"jobs": 1, "cold_s": cold_without, "warm_s": 1.015,
                        "time_to_result_s": cold_without + 6},
            "hop": {"command": "ray101 run task-dependencies", "runtimes_s": [1.5] + [hop] * 4,
                    "ideal_s": 1.0, "warm_s": hop, "over_ideal_pct": round(100 * (hop - 1), 1)},
            "oneshot": [{"how": "working-dir", "try": 1, "ok": True, "printed_s": 3.1,
                         "time_to_result_s": 9.0, "command": "ray job submit --working-dir bench/oneshot"}]}


def test_the_cold_start_section_states_both_targets_from_the_data():
    d = {"cold_start": _cold(1.21, 3.48, 1.02), "targets": {"compare_s": 180, "run_over_submit": 0.4}}
    text = "\n".join(report._cold_section(d))
    assert "cold **1.21 s with** against 3.48 s without" in text
    assert "at most 1.5 s (the tutorial printed 1.02 s): met" in text
    assert "**+2.0%** (target at most +3%: met)" in text
    assert "| working-dir | 3.10 | 9.00 |" in text
    targets = "\n".join(report._targets(d))
    assert "**1.21 s** against at most 1.5 s (tutorial 1.02 s): met; 3.48 s without" in targets
    missed = "\n".join(report._cold_section({"cold_start": _cold(1.8, 3.5, 1.06)}))
    assert "1.02 s): **missed**" in missed and "**+6.0%** (target at most +3%: **missed**)" in missed


def test_the_cold_start_section_shows_k8s_multi_measured_in_the_same_run():
    k8s_cold = {**_cold(1.32, 2.9, 1.04), "cluster": "k8s-multi",
                "submit_env": "RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH=<the Secret's token in a 0600 file>"}
    d = {"cold_start": _cold(1.21, 3.48, 1.02), "targets": {"compare_s": 180, "run_over_submit": 0.4},
         "k8s": {"deployment": {"clusters": ["k8s-single", "k8s-multi"]}, "cold_start": k8s_cold}}
    text = "\n".join(report._cold_section(d))
    assert "Medians on k8s-multi: cold **1.32 s with** against 2.90 s without" in text
    assert "on k8s-multi. `ray101 run task-dependencies`" in text
    assert "**+4.0%** (target at most +3%: **missed**)" in text
    targets = "\n".join(report._targets(d))
    assert "on k8s-multi (cold, workers kept warm): **1.32 s** against at most 1.5 s (tutorial 1.02 s): met" in targets
    assert ("task-dependencies warm on k8s-multi: 1.040 s for 1 s of work, **+4.0%** against at most "
            "+3%: **missed**") in targets
    alone = "\n".join(report._cold_section({"cold_start": _cold(1, 2, 1)}))
    assert "On k8s-multi: not measured in this run" in alone


def _compare(prefix, rows):
    """A `ray101 compare --json` result: rows of (workload, single warm, multi warm, ideal multi)."""
    single, multi = f"{prefix}-single", f"{prefix}-multi"
    out = {"consistent": True, "repeat": 3, "elapsed_s": 150.0, "rows": [], "runs": []}
    for wl, ws, wm, ideal in rows:
        out["rows"].append({"workload": wl, "speedup": round(ws / wm, 2), "clusters": {
            single: {"status": "SUCCEEDED", "warm_s": ws, "ideal_s": ideal and ideal * 3},
            multi: {"status": "SUCCEEDED", "warm_s": wm, "ideal_s": ideal}}})
        for c in (single, multi):
            out["runs"].append({"workload": wl, "cluster": c, "status": "SUCCEEDED", "output": [wl],
                                "end_to_end_s": 7.0})
    return {"command": "ray101 compare", "wall_s": 150.0, "returncode": 0, "data": out}


def test_the_kubernetes_section_judges_warm_over_ideal_against_local_multi_within_two_points():
    local = _compare("local", [("parallel-retrieve", 3.01, 1.012, 1.0),
                               ("task-dependencies", 3.02, 1.015, 1.0), ("mongo-sequential", 1.6, 1.7, None)])
    k8s = _compare("k8s", [("parallel-retrieve", 3.02, 1.061, 1.0),
                           ("task-dependencies", 3.02, 1.020, 1.0), ("mongo-sequential", 1.5, 1.4, None)])
    d = {"compare": local, "targets": {"compare_s": 180, "run_over_submit": 0.4}, "plan": {"repeat": 3},
         "k8s": {"deployment": {"clusters": ["k8s-single", "k8s-multi"], "context": "kind-ray101",
                                "namespace": "ray101", "nodes": [{"name": "n1", "cpu": "2"}]},
                 "idle_before": {"machine_cores": 0.31}, "compare": k8s}}
    rows = {r["workload"]: r for r in report.ratio_agreement(d)}
    assert set(rows) == {"parallel-retrieve", "task-dependencies"}  # only those with an ideal
    assert rows["parallel-retrieve"]["agrees"] is False and rows["task-dependencies"]["agrees"] is True
    section = "\n".join(report._k8s_section(d))
    assert "kube context `kind-ray101`" in section and "**0.310 cores**" in section
    assert "| parallel-retrieve | 1.012 | 1.061 | +4.9 pts | **no** | 2.97x | 2.85x |" in section
    assert "with the local clusters': **yes**" in section
    targets = "\n".join(report._targets(d))
    assert "parallel-retrieve +4.9, task-dependencies +0.5: **missed** for parallel-retrieve" in targets
    d["k8s"]["compare"]["data"]["rows"][0]["clusters"]["k8s-multi"]["warm_s"] = 1.02
    assert "+0.5: met (section 5)" in "\n".join(report._targets(d))


def test_the_kubernetes_section_says_how_to_include_it_when_nothing_is_deployed():
    d = {"k8s": {"deployment": {"clusters": [], "missing": "k8s-multi not in the current kube context"}}}
    section = "\n".join(report._k8s_section(d))
    assert "Not measured in this run: k8s-multi not in the current kube context" in section
    assert "`make deploy`" in section and "`make bench`" in section
