"""Every workload by name: the CLI's and the dashboard's vocabulary, in tutorial order."""

from importlib import import_module

from ray101_jobs.common import Workload

MODULES = (
    "sequential_retrieve",
    "parallel_retrieve",
    "task_dependencies",
    "mongo_sequential",
    "mongo_parallel",
    "mongo_partitioned",
    "serve_echo",
    "actor_counter",
)


def workloads() -> dict[str, Workload]:
    found = {}
    for name in MODULES:
        workload = import_module(f"ray101_jobs.{name}").WORKLOAD
        found[workload.name] = workload
    return found
