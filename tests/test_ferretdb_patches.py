"""The FerretDB ray101 builds (cli/ray101/mongo/scripts/ferretdb-patches/): every document reads back
exactly as it was generated, and an ``_id`` range is pushed down to SQLite yet returns exactly
the documents in it."""

from __future__ import annotations

from bson import ObjectId
from pymongo import MongoClient

from mongo_support import ferret, mflix_uri  # noqa: F401  (fixtures)
from ray101.mongo import ferretdb
from ray101_jobs import mflix


def test_the_server_is_the_patched_build(ferret):
    build = (ferretdb.path().parent / "ferretdb.build").read_text().strip()
    assert build == ferretdb.build_id()
    assert ferretdb.patch_names() == ["leak-tracker-off", "sjson-one-pass", "sqlite-id-range"]


def test_every_seeded_document_reads_back_as_generated(mflix_uri):
    """The one-pass decoder against the generator: same fields, same order, same values."""
    mflix.seed(mflix_uri)
    with MongoClient(mflix_uri) as client:
        db = client[mflix.DATABASE]
        for name, expected in (("movies", mflix.generate_movies()), ("comments", mflix.generate_comments())):
            stored = {d["_id"]: d for d in db[name].aggregate([{"$match": {}}])}
            assert len(stored) == len(expected), name
            for doc in expected:
                got = stored[doc["_id"]]
                assert list(got.items()) == list(doc.items()), (name, doc["_id"])


def _explain(db, name: str, flt: dict) -> dict:
    return db.command({"explain": {"find": name, "filter": flt}})


def test_an_id_range_is_pushed_down_and_reads_exactly_its_documents(mflix_uri):
    mflix.seed(mflix_uri)
    ids = sorted(mflix.movie_id(i) for i in range(mflix.DEFAULT_MOVIES))
    lo, hi = ids[len(ids) // 3], ids[2 * len(ids) // 3]
    with MongoClient(mflix_uri) as client:
        db = client[mflix.DATABASE]
        for flt, want in (
            ({"_id": {"$gte": lo, "$lt": hi}}, [i for i in ids if lo <= i < hi]),
            ({"_id": {"$gt": lo, "$lte": hi}}, [i for i in ids if lo < i <= hi]),
            ({"_id": {"$lt": lo}}, [i for i in ids if i < lo]),
        ):
            assert _explain(db, "movies", flt)["filterPushdown"] is True, flt
            got = [d["_id"] for d in db.movies.aggregate([{"$match": flt}, {"$project": {"_id": 1}}])]
            assert sorted(got) == want, flt
        # A bound of another type is not pushed down and still matches by MongoDB's rules:
        # an ObjectId range never matches strings, a string range never matches ObjectIds.
        assert _explain(db, "movies", {"_id": {"$gte": "a"}})["filterPushdown"] is False
        assert list(db.movies.find({"_id": {"$gte": ""}}, {"_id": 1})) == []
        assert db.movies.count_documents({"_id": {"$gte": ObjectId("0" * 24)}}) == len(ids)
