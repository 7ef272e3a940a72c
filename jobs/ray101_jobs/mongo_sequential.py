"""Two MongoDB aggregations, ``movies`` then ``comments`` of ``sample_mflix``, in the driver.

The output is the combined count and a content digest (see ``common.digest_docs``), so runs on
different clusters, and the Ray versions of this workload, can be checked for the same answer.
The server is found through ``RAY101_MONGO_URI`` in the Ray node's environment.
"""

import time

from ray101_jobs.common import (
    Repetition,
    digest_docs,
    digest_hex,
    main,
    merge_digests,
    mongo_uri,
    node_ip,
)
from ray101_jobs.mongouri import client as mongo_client
from ray101_jobs.mongouri import failure
from ray101_jobs.registry import WORKLOADS

COLLECTIONS = ("movies", "comments")
PIPELINE: list[dict] = [{"$match": {}}]

WORKLOAD = WORKLOADS["mongo-sequential"]


def raw_collection(client, database: str, name: str):
    """A collection handle that yields raw BSON bytes: no decoding, exact content hashing."""
    from bson.codec_options import CodecOptions
    from bson.raw_bson import RawBSONDocument

    return client[database].get_collection(
        name, codec_options=CodecOptions(document_class=RawBSONDocument)
    )


def aggregate_raw(client, database: str, name: str, pipeline=PIPELINE) -> list[bytes]:
    return [doc.raw for doc in raw_collection(client, database, name).aggregate(pipeline)]


def check_reachable(client, uri: str) -> None:
    """Fail fast, naming the host (never the password), when MongoDB does not answer or refuses
    the credentials."""
    import pymongo.errors

    try:
        client.admin.command("ping")
    except pymongo.errors.PyMongoError as exc:
        raise RuntimeError(failure(exc, uri)) from None


def mongo_output(per_collection: dict[str, tuple[int, int]]) -> dict:
    count, digest = merge_digests(per_collection.values())
    if count == 0:
        raise RuntimeError("the collections are empty: seed them with `ray101 mongo seed`")
    out = {"count": count, "digest": digest_hex(digest)}
    out.update({name: c for name, (c, _) in per_collection.items()})
    return out


def show(output: dict, seconds: float) -> None:
    print(f"Number of results: {output['count']}")
    print(f"Execution time: {seconds:.2f} seconds")


def run_once(params: dict) -> Repetition:
    uri = mongo_uri()
    start = time.perf_counter()
    client = mongo_client(uri, params["timeout_ms"])
    try:
        check_reachable(client, uri)
        per_collection = {
            name: digest_docs(aggregate_raw(client, params["database"], name))
            for name in COLLECTIONS
        }
    finally:
        client.close()
    output = mongo_output(per_collection)
    show(output, time.perf_counter() - start)
    return Repetition(output=output, node_ips={node_ip()})


if __name__ == "__main__":
    main(WORKLOAD, run_once)
