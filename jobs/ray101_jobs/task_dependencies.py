"""Tasks that feed a task: five ``process`` tasks run at once, one ``aggregate`` sums them.

Passing the refs as arguments lets Ray start ``aggregate`` only when every input is ready,
and move the values to wherever it runs. Ideal: ceil(tasks / CPUs) x seconds.
"""

import time

import ray

from ray101_jobs.common import Repetition, main
from ray101_jobs.registry import WORKLOADS

WORKLOAD = WORKLOADS["task-dependencies"]


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
