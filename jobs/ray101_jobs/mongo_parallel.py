"""The same two aggregations through two ``Aggregator`` actors, each with its own MongoClient.

Every document still travels back through the driver, and the actors start anew each
repetition, which is why the tutorial saw this lose to the plain loop. Aggregator calls are
reads, so a restart keeps the output right: the actors restart once and retry once.
"""

import time

import ray

from ray101_jobs.common import Repetition, digest_docs, main, mongo_uri
from ray101_jobs.mongo_sequential import (
    COLLECTIONS,
    PIPELINE,
    aggregate_raw,
    check_reachable,
    mongo_output,
    show,
)
from ray101_jobs.mongouri import client as mongo_client
from ray101_jobs.registry import WORKLOADS

WORKLOAD = WORKLOADS["mongo-parallel"]


@ray.remote(max_restarts=1, max_task_retries=1)
class Aggregator:
    def __init__(self, timeout_ms: int):
        # The URI comes from this node's environment, never through task arguments.
        self.client = mongo_client(mongo_uri(), timeout_ms)

    def aggregate(self, database: str, collection: str, pipeline: list):
        return aggregate_raw(self.client, database, collection, pipeline)

    def where(self) -> str:
        return ray.util.get_node_ip_address()


def run_once(params: dict) -> Repetition:
    uri = mongo_uri()
    probe = mongo_client(uri, params["timeout_ms"])
    try:
        check_reachable(probe, uri)
    finally:
        probe.close()
    start = time.perf_counter()
    actors = [Aggregator.remote(params["timeout_ms"]) for _ in COLLECTIONS]  # type: ignore[attr-defined]  # mypy skips class decorators (@ray.remote)
    futures = [
        actor.aggregate.remote(params["database"], name, PIPELINE)
        for actor, name in zip(actors, COLLECTIONS, strict=True)
    ]
    per_collection = {name: digest_docs(ray.get(f)) for name, f in zip(COLLECTIONS, futures, strict=True)}
    output = mongo_output(per_collection)
    show(output, time.perf_counter() - start)
    ips = set(ray.get([a.where.remote() for a in actors]))
    for actor in actors:
        ray.kill(actor)
    return Repetition(output=output, node_ips=ips)


if __name__ == "__main__":
    main(WORKLOAD, run_once)
