"""The baseline: retrieve each item of a small "database" one after another, no Ray tasks.

Six items at one second each take six seconds: what the other workloads are measured against.
"""

import time

from ray101_jobs.common import Param, Repetition, Workload, main, node_ip

WORKLOAD = Workload(
    name="sequential-retrieve",
    module="ray101_jobs.sequential_retrieve",
    summary="Retrieve every item in a plain loop inside the job (the baseline).",
    retries="none needed: runs in the driver, on the head",
    params=(
        Param("items", int, 6, "items in the database", minimum=1, maximum=1000),
        Param("seconds", float, 1.0, "time to retrieve one item", minimum=0, maximum=60),
    ),
    ideal=lambda p, cpus: p["items"] * p["seconds"],
)


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
