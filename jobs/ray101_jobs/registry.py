"""Every workload by name, in tutorial order: what the CLI and the dashboard call them, their
parameters and how each survives a lost node. The job code is in the module each one names; the
declarations live here so the CLI reads them without importing Ray (about 0.4 s)."""

import math

from ray101_jobs.common import Param, Workload

MONGO_PARAMS = (
    Param("database", str, "sample_mflix", "database holding movies and comments"),
    Param("timeout_ms", int, 5000, "give up on an unreachable server after this", minimum=100,
          maximum=120000),
)

_DECLARED = (
    Workload(
        name="sequential-retrieve",
        module="ray101_jobs.sequential_retrieve",
        summary="Retrieve every item in a plain loop inside the job (the baseline).",
        retries="none needed: runs in the driver, on the head",
        params=(
            Param("items", int, 6, "items in the database", minimum=1, maximum=1000),
            Param("seconds", float, 1.0, "time to retrieve one item", minimum=0, maximum=60),
        ),
        ideal=lambda p, cpus: p["items"] * p["seconds"],
        ceiling=lambda p: 60 + 2 * p["items"] * p["seconds"],
    ),
    Workload(
        name="parallel-retrieve",
        module="ray101_jobs.parallel_retrieve",
        summary="Retrieve every item as a Ray task, all at once.",
        retries="tasks retried up to 3 times when their node dies (max_retries=3)",
        params=(
            Param("items", int, 6, "items in the database", minimum=1, maximum=1000),
            Param("seconds", float, 1.0, "time to retrieve one item", minimum=0, maximum=60),
            Param("fail", bool, False, "make the first retrieval raise, to see a failed job"),
        ),
        ideal=lambda p, cpus: math.ceil(p["items"] / max(cpus, 1)) * p["seconds"],
        ceiling=lambda p: 60 + 2 * p["items"] * p["seconds"],  # as if one task ran at a time
    ),
    Workload(
        name="task-dependencies",
        module="ray101_jobs.task_dependencies",
        summary="Five process tasks (doubling 0..4) whose results feed one aggregate task.",
        retries="tasks retried up to 3 times when their node dies (max_retries=3)",
        params=(
            Param("tasks", int, 5, "process tasks", minimum=1, maximum=1000),
            Param("seconds", float, 1.0, "time one process task takes", minimum=0, maximum=60),
            Param("fail", bool, False, "make the aggregate raise, to see a failed job"),
        ),
        ideal=lambda p, cpus: math.ceil(p["tasks"] / max(cpus, 1)) * p["seconds"],
        ceiling=lambda p: 60 + 2 * (p["tasks"] + 1) * p["seconds"],
    ),
    Workload(
        name="mongo-sequential",
        module="ray101_jobs.mongo_sequential",
        summary="Aggregate movies, then comments, one after the other in the driver.",
        retries="none: reads in the driver; fails fast, naming the host, when MongoDB is down",
        params=MONGO_PARAMS,
        uses_mongo=True,
        ceiling=lambda p: 600.0,  # the tutorial's 44,562 documents take seconds; larger seeds more
    ),
    Workload(
        name="mongo-parallel",
        module="ray101_jobs.mongo_parallel",
        summary="Aggregate movies and comments at once through two Aggregator actors.",
        retries="actors restart once, calls retried once (idempotent reads)",
        params=MONGO_PARAMS,
        uses_mongo=True,
        ceiling=lambda p: 600.0,  # the tutorial's 44,562 documents take seconds; larger seeds more
    ),
    Workload(
        name="mongo-partitioned",
        module="ray101_jobs.mongo_partitioned",
        summary="K warm actors each aggregate one _id range of both collections; compact results.",
        retries="actors restart twice, calls retried twice (idempotent reads)",
        params=MONGO_PARAMS
        + (Param("actors", int, 2, "actors in the pool, one _id range each", minimum=1, maximum=64),),
        uses_mongo=True,
        ceiling=lambda p: 600.0,
    ),
    Workload(
        name="serve-echo",
        module="ray101_jobs.serve_echo",
        summary="Deploy an echo service on Ray Serve at /echo and call it with data=Hello.",
        retries="Serve replaces a lost replica; requests go through the head's proxy",
        params=(
            Param("data", str, "Hello", "what to send as ?data="),
            Param("calls", int, 100, "requests to time", minimum=1, maximum=100000),
            Param("keep", bool, False, "leave the app (and Serve) up after the job for `ray101 serve call`"),
        ),
    ),
    Workload(
        name="actor-counter",
        module="ray101_jobs.actor_counter",
        summary="A Counter actor incremented by 0..4; returns the running totals.",
        retries="at-most-once: the actor never restarts; the job fails if its node dies",
        params=(
            Param("count", int, 5, "increments (by 0, 1, ..., count-1)", minimum=1, maximum=100000),
            Param("seconds", float, 0.0, "pause inside each increment", minimum=0, maximum=60),
            Param("node", str, "", "IP of the Ray node to place the counter on (default: any)"),
        ),
        ideal=lambda p, cpus: p["count"] * p["seconds"] or None,  # calls on one actor are serial
        ceiling=lambda p: 60 + 2 * p["count"] * p["seconds"],
    ),
)

WORKLOADS: dict[str, Workload] = {w.name: w for w in _DECLARED}


def workloads() -> dict[str, Workload]:
    return dict(WORKLOADS)
