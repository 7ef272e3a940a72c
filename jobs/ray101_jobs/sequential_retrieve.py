"""The baseline: retrieve each item of a small "database" one after another, no Ray tasks.

Six items at one second each take six seconds: what the other workloads are measured against.
"""

import time

from ray101_jobs.common import Repetition, main, node_ip
from ray101_jobs.registry import WORKLOADS

WORKLOAD = WORKLOADS["sequential-retrieve"]


def database(items: int) -> list[str]:
    """The tutorial's database: "Learning", "Ray", repeated."""
    return [("Learning", "Ray")[i % 2] for i in range(items)]


def retrieve(index: int, words: list[str], seconds: float) -> list:
    time.sleep(seconds)  # stands in for a slow lookup
    return [index, words[index]]


def show(runtime: float, pairs: list) -> None:
    print(f"Runtime: {runtime:.2f} seconds; data:")
    for index, word in pairs:
        print((index, word))


def run_once(params: dict) -> Repetition:
    words = database(params["items"])
    start = time.perf_counter()
    pairs = [retrieve(i, words, params["seconds"]) for i in range(len(words))]
    show(time.perf_counter() - start, pairs)
    return Repetition(output=pairs, node_ips={node_ip()})


if __name__ == "__main__":
    main(WORKLOAD, run_once)
