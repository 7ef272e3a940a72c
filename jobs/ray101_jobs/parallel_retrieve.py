"""The same retrievals as Ray tasks: they run at once, as many as the cluster has CPUs.

Ideal runtime: ceil(items / CPUs) x seconds. Tasks are retried when their node dies
(``max_retries``), so a killed worker node costs time, not the result.
"""

import math
import time

import ray

from ray101_jobs.common import Param, Repetition, Workload, main
from ray101_jobs.sequential_retrieve import database, show

WORKLOAD = Workload(
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
)


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
