"""The same retrievals as Ray tasks: they run at once, as many as the cluster has CPUs.

Ideal runtime: ceil(items / CPUs) x seconds. Tasks are retried when their node dies
(``max_retries``), so a killed worker node costs time, not the result.
"""

import time

import ray

from ray101_jobs.common import Repetition, main
from ray101_jobs.registry import WORKLOADS
from ray101_jobs.sequential_retrieve import database, show

WORKLOAD = WORKLOADS["parallel-retrieve"]


@ray.remote(max_retries=3)
def retrieve(index: int, word: str, seconds: float, fail: bool):
    time.sleep(seconds)
    if fail and index == 0:
        raise ValueError(f"retrieval of item {index} failed (the job was run with fail=true)")
    return [index, word], ray.util.get_node_ip_address()


def run_once(params: dict) -> Repetition:
    words = database(params["items"])
    start = time.perf_counter()
    refs = [retrieve.remote(i, w, params["seconds"], params["fail"]) for i, w in enumerate(words)]
    results = ray.get(refs)
    pairs = [pair for pair, _ in results]
    show(time.perf_counter() - start, pairs)
    return Repetition(output=pairs, node_ips={ip for _, ip in results})


if __name__ == "__main__":
    main(WORKLOAD, run_once)
