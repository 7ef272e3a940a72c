"""Tasks that feed a task: five ``process`` tasks run at once, one ``aggregate`` sums them.

Passing the refs as arguments lets Ray start ``aggregate`` only when every input is ready,
and move the values to wherever it runs. Ideal: ceil(tasks / CPUs) x seconds.
"""

import math
import time

import ray

from ray101_jobs.common import Param, Repetition, Workload, main

WORKLOAD = Workload(
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
)


@ray.remote(max_retries=3)
def process(item: int, seconds: float):
    time.sleep(seconds)
    return item * 2, ray.util.get_node_ip_address()


@ray.remote(max_retries=3)
def aggregate(*results, fail: bool = False):
    if fail:
        raise ValueError("aggregate failed (the job was run with fail=true)")
    total = sum(value for value, _ in results)
    ips = {ip for _, ip in results} | {ray.util.get_node_ip_address()}
    return total, sorted(ips)


def run_once(params: dict) -> Repetition:
    start = time.perf_counter()
    refs = [process.remote(i, params["seconds"]) for i in range(params["tasks"])]
    total, ips = ray.get(aggregate.remote(*refs, fail=params["fail"]))
    print(f"Aggregated result: {total}")
    print(f"Runtime: {time.perf_counter() - start:.2f} seconds")
    return Repetition(output=total, node_ips=set(ips))


if __name__ == "__main__":
    main(WORKLOAD, run_once)
