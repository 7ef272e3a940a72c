"""Worker processes kept warm for the next job: a job's last act is to top up every node's idle
workers, so the next job's first tasks find them started.

Ray binds a worker process to the first job it runs a task for and kills it when that job ends,
so every job used to start its own workers inside its first repetition: six at once on the
lab's two cores cost parallel-retrieve's cold repetition ~2.5 s (docs/performance.md). Ray can
start workers that belong to no job yet: at node start (``RAY_enable_worker_prestart=1``, which
the local clusters and the chart set) and on request (the raylet's ``PrestartWorkers`` call).
Any later job whose runtime environment is the same takes them.

``refill()`` asks each alive node for as many such workers as it has CPUs, minus the idle ones
it already holds, with this job's runtime environment (``{}`` on the local clusters and on a baked
image; the ``py_modules`` ray101 ships on the stock image). It runs after the result line is
printed, so it is outside every timing and costs the job a few milliseconds; the workers start
while the next job's driver starts. A job with ``RAY101_WARM_WORKERS=0`` in its environment
leaves the nodes as they are (`make bench` measures the cold start with and without).
"""

from __future__ import annotations

import os

ENV = "RAY101_WARM_WORKERS"
# What Ray's serializer imports in a worker when a job's first task reaches it (its pydantic,
# pyarrow and starlette hooks): 0.2 s of imports per worker on an idle pod, 0.5-1 s with the
# node's other workers doing the same, all inside the job's first repetition. Nodes name them in
# RAY_preload_python_modules (the local clusters and the chart), so every worker imports them as
# it starts, before any job is there to wait for it.
PRELOAD_MODULES = ("ray._common.pydantic_compat", "pydantic.v1",
                   "ray._private.arrow_serialization", "starlette.datastructures")
# Idle workers beyond a node's CPU count are killed after 1 s (Ray's soft limit); this keeps
# the ones asked for alive while the finished job's own workers are still being stopped.
KEEP_ALIVE_S = 60
RPC_TIMEOUT_S = 3.0
_NIL_JOB = b"\xff\xff\xff\xff"


def enabled() -> bool:
    return os.environ.get(ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def _empty(runtime_env: str | None) -> bool:
    return not runtime_env or runtime_env.strip() in ("{}", "null")


def idle_unassigned(stats) -> int:
    """Workers in a GetNodeStats reply that belong to no job yet (started, not yet used)."""
    return sum(1 for w in stats.core_workers_stats
               if w.worker_type == 0 and (not w.job_id or w.job_id == _NIL_JOB)
               and not w.actor_id.strip(b"\xff") and w.num_running_tasks == 0)


def used_by(stats, job_id: bytes) -> int:
    """Task and actor processes of job ``job_id`` in a GetNodeStats reply: they stop with it."""
    return sum(1 for w in stats.core_workers_stats if w.worker_type == 0 and w.job_id == job_id)


def wanted(cpus: int, idle: int, used: int, empty_env: bool) -> int:
    """How many workers to ask a node for: up to one per CPU, counting the idle ones it holds.

    The raylet does not say which runtime environment an idle worker was started for. With the
    empty one (the local clusters, a baked image) every idle worker of no job fits the next job.
    A job that ships py_modules cannot use the empty-environment workers the node started with,
    so it also replaces what it used itself (its workers stop with it); Ray's soft limit stops
    surplus idle workers once they are KEEP_ALIVE_S old.
    """
    missing = max(cpus - idle, 0)
    if not empty_env:
        missing = max(missing, min(used, cpus))
    return missing


def refill() -> list[dict]:
    """Top up every alive node to one unassigned worker per CPU for this job's runtime
    environment. Returns what it did per node (``asked``: workers requested)."""
    import ray
    from ray._private.grpc_utils import init_grpc_channel
    from ray.core.generated import (
        common_pb2,
        node_manager_pb2,
        node_manager_pb2_grpc,
        runtime_environment_pb2,
    )

    # This job's runtime environment as Ray serialized it (the raylet matches workers by it).
    runtime_env = ray._private.worker.global_worker.core_worker.get_current_runtime_env()
    job_id = bytes.fromhex(ray.get_runtime_context().get_job_id())
    done = []
    for node in ray.nodes():
        if not node.get("Alive"):
            continue
        cpus = int(node.get("Resources", {}).get("CPU", 0))
        row = {"node_ip": node["NodeManagerAddress"], "cpus": cpus, "asked": 0}
        if cpus > 0:
            try:
                address = f"{node['NodeManagerAddress']}:{node['NodeManagerPort']}"
                stub = node_manager_pb2_grpc.NodeManagerServiceStub(init_grpc_channel(address))
                stats = stub.GetNodeStats(
                    node_manager_pb2.GetNodeStatsRequest(include_memory_info=False),
                    timeout=RPC_TIMEOUT_S)
                row["idle"] = idle_unassigned(stats)
                row["used"] = used_by(stats, job_id)
                missing = wanted(cpus, row["idle"], row["used"], _empty(runtime_env))
                if missing:
                    stub.PrestartWorkers(node_manager_pb2.PrestartWorkersRequest(
                        language=common_pb2.Language.PYTHON,
                        runtime_env_info=runtime_environment_pb2.RuntimeEnvInfo(
                            serialized_runtime_env=runtime_env or "{}"),
                        keep_alive_duration_secs=KEEP_ALIVE_S, num_workers=missing),
                        timeout=RPC_TIMEOUT_S)
                    row["asked"] = missing
            except Exception as exc:  # noqa: BLE001 - a node just lost; the others still get theirs
                row["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}"
        done.append(row)
    return done
