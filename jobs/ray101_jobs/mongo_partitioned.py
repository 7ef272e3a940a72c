"""MongoDB the way Ray pays off: K warm actors each read one ``_id`` range of both collections.

The driver splits each collection into K contiguous ``_id`` ranges (min/max bounds, as Ray
Data's MongoDB reader does); each actor aggregates its ranges on its own connection and sends
back two numbers per range (count and digest) instead of every document. The actor pool and the
split points are made in the first (cold) repetition and reused by the warm ones. The output
equals ``mongo-sequential``'s. Reads are idempotent, so actors restart and retry on node loss.

On MongoDB an ``_id`` range reads only its part of the index. FerretDB v1's SQLite backend as
released pushes down no range, so every range would cost the server the whole collection; the
FerretDB that ray101 builds carries a patch (ray101/mongo/scripts/ferretdb-patches/sqlite-id-range.patch)
that pushes ``_id`` ranges on ObjectIDs into SQL, so each range costs only its share: see
docs/performance.md.
"""

import itertools
import time

import ray

from ray101_jobs.common import (
    Repetition,
    digest_docs,
    main,
    merge_digests,
    mongo_uri,
)
from ray101_jobs.mongo_sequential import (
    COLLECTIONS,
    aggregate_raw,
    check_reachable,
    mongo_output,
    show,
)
from ray101_jobs.mongouri import client as mongo_client
from ray101_jobs.registry import WORKLOADS

WORKLOAD = WORKLOADS["mongo-partitioned"]


@ray.remote(max_restarts=2, max_task_retries=2)
class RangeReader:
    def __init__(self, timeout_ms: int):
        self.client = mongo_client(mongo_uri(), timeout_ms)

    def bounds(self, database: str, collection: str) -> tuple:
        return id_bounds(self.client, database, collection)

    def read(self, database: str, collection: str, lo, hi):
        """Count and digest the documents with lo <= _id < hi (None: unbounded)."""
        pipeline = range_pipeline(lo, hi)
        count, digest = digest_docs(aggregate_raw(self.client, database, collection, pipeline))
        return count, digest, ray.util.get_node_ip_address()


def range_pipeline(lo, hi) -> list:
    """The aggregation for lo <= _id < hi (None: unbounded): the tutorial's ``$match``, bounded."""
    match = {}
    if lo is not None:
        match["$gte"] = lo
    if hi is not None:
        match["$lt"] = hi
    return [{"$match": {"_id": match} if match else {}}]


def id_bounds(client, database: str, collection: str) -> tuple:
    """The smallest and largest ``_id``, from one pass over the ids.

    Two sorted ``limit(1)`` finds would be index reads on MongoDB, but FerretDB v1 pushes no
    ``_id`` sort down: each is a full read and a sort, and ``$group``'s ``$min``/``$max`` are
    not implemented there. One projected pass costs it one read; the ids alone cross the wire.
    """
    lo = hi = None
    for doc in client[database][collection].find({}, {"_id": 1}, batch_size=10_000):
        oid = doc["_id"]
        if lo is None or oid < lo:
            lo = oid
        if hi is None or oid > hi:
            hi = oid
    return lo, hi


def split_points(lo, hi, parts: int) -> list:
    """K+1 bounds (None = open end) cutting [lo, hi] into K equal-width ``_id`` ranges.

    The outer ranges are open, so every document lands in exactly one range whatever the
    bounds: they only decide the balance. Ranges hold about equal counts when ids are spread
    evenly, as ObjectIds made in a steady stream (and the generated sample_mflix) are.
    """
    if lo is None or parts == 1:
        return [None, None]
    return [None, *_interpolate(lo, hi, parts), None]


def _interpolate(lo, hi, parts: int) -> list:
    from bson import ObjectId

    if isinstance(lo, ObjectId) and isinstance(hi, ObjectId):
        a, b = int.from_bytes(lo.binary, "big"), int.from_bytes(hi.binary, "big")
        cuts = [a + (b - a) * k // parts for k in range(1, parts)]
        return sorted({ObjectId(c.to_bytes(12, "big")) for c in cuts if a < c <= b})
    if isinstance(lo, int) and isinstance(hi, int) and not isinstance(lo, bool):
        return sorted({lo + (hi - lo) * k // parts for k in range(1, parts)} - {lo})
    return []


_pool: list = []  # the warm actor pool, kept between repetitions of one job
_bounds: dict = {}  # (database, collection, K) -> split points, planned once per job


def pool(size: int, timeout_ms: int) -> list:
    if len(_pool) != size:
        _pool[:] = [
            RangeReader.options(scheduling_strategy="SPREAD").remote(timeout_ms)  # type: ignore[attr-defined]  # mypy skips class decorators (@ray.remote)
            for _ in range(size)
        ]
    return _pool


def run_once(params: dict) -> Repetition:
    uri = mongo_uri()
    db = params["database"]
    start = time.perf_counter()
    client = mongo_client(uri, params["timeout_ms"])
    try:
        check_reachable(client, uri)
    finally:
        client.close()
    readers = pool(params["actors"], params["timeout_ms"])
    missing = [name for name in COLLECTIONS if (db, name, params["actors"]) not in _bounds]
    # Plan the ranges on the actors, one collection each, at the same time.
    found = ray.get([readers[i % len(readers)].bounds.remote(db, name)
                     for i, name in enumerate(missing)])
    for name, (lo, hi) in zip(missing, found, strict=True):
        _bounds[(db, name, params["actors"])] = split_points(lo, hi, params["actors"])
    ranges = [
        (name, lo, hi)
        for name in COLLECTIONS
        for lo, hi in _pairs(_bounds[(db, name, params["actors"])])
    ]
    futures = [
        (name, readers[i % len(readers)].read.remote(db, name, lo, hi))
        for i, (name, lo, hi) in enumerate(ranges)
    ]
    per_collection: dict[str, list] = {name: [] for name in COLLECTIONS}
    ips = set()
    for name, future in futures:
        count, digest, ip = ray.get(future)
        per_collection[name].append((count, digest))
        ips.add(ip)
    output = mongo_output({name: merge_digests(parts) for name, parts in per_collection.items()})
    show(output, time.perf_counter() - start)
    return Repetition(output=output, node_ips=ips, extra={"ranges": len(ranges)})


def _pairs(bounds: list) -> list:
    return list(itertools.pairwise(bounds))


if __name__ == "__main__":
    main(WORKLOAD, run_once)
