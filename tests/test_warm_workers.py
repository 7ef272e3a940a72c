"""Workers kept warm for the next job (jobs/ray101_jobs/warm.py) on the real local clusters: the
raylets run with Ray's worker prestart on, a ray101 job leaves one started worker per CPU that
belongs to no job on every node of local-multi, and the next job's tasks run in exactly those
processes. No timing here: `make bench` measures what it buys (docs/performance.md, 1b)."""

from __future__ import annotations

import json
import shlex
import time
from pathlib import Path

import pytest

from bench import idle
from bench.harness import BIN

# A job that lists each node's idle workers of no job (the raylet's own GetNodeStats, read as
# warm.py reads it), then runs one task per CPU at once and says which processes ran them.
PROBE = """
import json, os, time
import ray
from ray._private.grpc_utils import init_grpc_channel
from ray.core.generated import node_manager_pb2, node_manager_pb2_grpc
from ray101_jobs import warm

ray.init(logging_level="WARNING")
nodes = [n for n in ray.nodes() if n["Alive"]]

def pool():
    out = {}
    for n in nodes:
        stub = node_manager_pb2_grpc.NodeManagerServiceStub(
            init_grpc_channel(f"{n['NodeManagerAddress']}:{n['NodeManagerPort']}"))
        stats = stub.GetNodeStats(node_manager_pb2.GetNodeStatsRequest(), timeout=10)
        out[n["NodeID"][:12]] = {
            "cpus": int(n["Resources"].get("CPU", 0)), "unassigned": warm.idle_unassigned(stats),
            "pids": sorted(w.pid for w in stats.core_workers_stats
                           if w.worker_type == 0 and w.job_id in (b"", b"\\xff\\xff\\xff\\xff"))}
    return out

deadline = time.monotonic() + 90  # the workers the last job asked for may still be starting
seen = pool()
while any(v["unassigned"] < v["cpus"] for v in seen.values()) and time.monotonic() < deadline:
    time.sleep(0.5)
    seen = pool()

@ray.remote
def where():
    time.sleep(1.0)  # every task holds its CPU, so each runs in a process of its own
    return os.getpid()

cpus = sum(v["cpus"] for v in seen.values())
print("PROBE " + json.dumps({"pool": seen, "task_pids": ray.get([where.remote() for _ in range(cpus)])}))
"""


@pytest.fixture(scope="module")
def plan(lab, monkeypatch_module):
    from ray101.local import plan as localplan

    monkeypatch_module.setenv("RAY101_HOME", str(lab.home))
    return localplan.current_plan()


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def test_every_raylet_runs_with_worker_prestart_on(plan):
    for node in plan.nodes:
        raylets = [pid for pid in idle._descendants({node.pid}) if idle._role(pid) == "raylet"]
        assert len(raylets) == 1, (node.name, raylets)
        environ = Path(f"/proc/{raylets[0]}/environ").read_bytes().split(b"\0")
        assert b"RAY_enable_worker_prestart=1" in environ, node.name


def test_every_kept_worker_has_imported_what_a_jobs_first_task_needs(lab, plan):
    """Every raylet is told to preload (ray101_jobs.warm.PRELOAD_MODULES), and its idle workers
    hold those modules before any job reaches them: pydantic's compiled core is mapped."""
    from ray101_jobs.warm import PRELOAD_MODULES

    assert lab.cli("run", "parallel-retrieve", "--cluster", "local-multi", "--param", "seconds=0",
                   "-q", timeout=300).returncode == 0
    time.sleep(5)  # the job's refill: the new workers start and import
    checked = 0
    for node in plan.cluster_nodes("local-multi"):
        for pid in idle._descendants({node.pid}):
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                maps = Path(f"/proc/{pid}/maps").read_text()
            except (FileNotFoundError, ProcessLookupError):
                continue  # a worker of the finished job, gone meanwhile
            if idle._role(pid) == "raylet":
                environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
                wanted = f"RAY_preload_python_modules={','.join(PRELOAD_MODULES)}".encode()
                assert wanted in environ, node.name
            if not cmd[0].startswith(b"ray::IDLE"):  # a started worker of no job (its title)
                continue
            assert "pydantic_core" in maps, pid  # pydantic's compiled core is loaded
            checked += 1
    assert checked >= 2, checked


def test_a_job_leaves_a_worker_per_cpu_on_every_node_and_the_next_job_runs_on_them(lab, plan):
    from ray101.local.plan import jobs_url

    first = lab.cli("run", "parallel-retrieve", "--cluster", "local-multi", "-q", timeout=300)
    assert first.returncode == 0, first.tail()
    probe = lab.run([str(BIN / "ray"), "job", "submit", "--address", jobs_url(plan, "local-multi"),
                     "--", "python", "-c", PROBE], timeout=300,
                    env={"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(lab.token_file())})
    line = next((x for x in probe.stdout.splitlines() if x.startswith("PROBE ")), None)
    assert probe.returncode == 0 and line, probe.tail(8)
    seen = json.loads(line.split(" ", 1)[1])
    assert len(seen["pool"]) == 3, seen  # local-multi: a head and two workers
    for ip, node in seen["pool"].items():
        assert node["cpus"] > 0 and node["unassigned"] >= node["cpus"], (ip, node)
    kept = {pid for node in seen["pool"].values() for pid in node["pids"]}
    assert set(seen["task_pids"]) <= kept, (seen["task_pids"], kept)
    assert len(set(seen["task_pids"])) == len(seen["task_pids"])  # one process per task


def test_the_job_says_what_it_left_for_the_next_one(lab, plan):
    from ray101.local.plan import jobs_url

    out = lab.run([str(BIN / "ray"), "job", "submit", "--address", jobs_url(plan, "local-multi"),
                   "--", *shlex.split("python -m ray101_jobs.parallel_retrieve --param seconds=0")],
                  timeout=300,
                  env={"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(lab.token_file())})
    line = next((x for x in out.stdout.splitlines() if x.startswith("RAY101_WARM ")), None)
    assert out.returncode == 0 and line, out.tail(8)
    rows = json.loads(line.split(" ", 1)[1])
    assert sorted(r["node_ip"] for r in rows) == sorted(n.ip for n in plan.cluster_nodes("local-multi"))
    for r in rows:
        # asked for what its own tasks took from the node (at most one per CPU)
        assert r["cpus"] == plan.cpus and 0 <= r["asked"] <= r["cpus"] and r["idle"] + r["asked"] >= r["cpus"]
