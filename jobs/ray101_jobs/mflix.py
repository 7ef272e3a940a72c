"""A synthetic, deterministic ``sample_mflix``: the ``movies`` and ``comments`` collections.

The Ray 101 tutorial reads MongoDB Atlas's sample database (23,530 movies + 21,032 comments =
44,562 documents). We cannot ship that data, so this module makes look-alike documents with the
real field names and types, from a seeded ``random.Random``: the same sizes always give the same
documents, byte for byte.

``_id``s are built, not random: a fixed timestamp plus the document's index (one second apart),
a 5-byte collection tag and the index as the counter. So they sort in generation order, spread
evenly over time (range-splitting by ``_id`` gives even shards), and the first ``k`` documents are
the same whatever size is asked for. ``seed`` relies on that to be idempotent: it inserts only the
missing ids and deletes the generated ids beyond the requested size.

Pure Python + ``bson`` (pymongo); no Ray import, so the seeding job runs anywhere.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId

DATABASE = "sample_mflix"
DEFAULT_MOVIES = 23530
DEFAULT_COMMENTS = 21032
DEFAULT_DOCUMENTS = DEFAULT_MOVIES + DEFAULT_COMMENTS  # the tutorial's 44,562
SEED = 101
MAX_DOCS = 1 << 24  # the ObjectId counter is 3 bytes

# Per-collection _id layout: 4-byte timestamp (base + index), 5-byte tag, 3-byte counter (index).
_MOVIES_TS = 0x573A1390  # 2016-05-16, like the real sample_mflix movie ids (573a1390...)
_COMMENTS_TS = 0x5A9427D0  # 2018-02-26, like the real comment ids (5a9427648b0beebeb69...)
_MOVIES_TAG = b"movie"
_COMMENTS_TAG = b"comnt"


def _oid(ts_base: int, tag: bytes, i: int) -> ObjectId:
    return ObjectId((ts_base + i).to_bytes(4, "big") + tag + i.to_bytes(3, "big"))


def movie_id(i: int) -> ObjectId:
    """The ``_id`` of the ``i``-th generated movie (0-based)."""
    return _oid(_MOVIES_TS, _MOVIES_TAG, i)


def comment_id(j: int) -> ObjectId:
    """The ``_id`` of the ``j``-th generated comment (0-based)."""
    return _oid(_COMMENTS_TS, _COMMENTS_TAG, j)


def _check_size(n: int, what: str) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ValueError(f"{what} must be a non-negative integer, got {n!r}")
    if n >= MAX_DOCS:
        raise ValueError(f"{what} must be less than {MAX_DOCS}, got {n}")


# -- vocabulary -------------------------------------------------------------------------------

_FIRST = (
    "Mary James John Patricia Robert Jennifer Michael Linda William Elizabeth David Barbara Richard "
    "Susan Joseph Jessica Thomas Sarah Charles Karen Daniel Nancy Matthew Lisa Anthony Betty Mark "
    "Margaret Donald Sandra Steven Ashley Paul Kimberly Andrew Emily Joshua Donna Kenneth Michelle "
    "Kevin Dorothy Brian Carol George Amanda Edward Melissa Ronald Deborah Timothy Stephanie Jason "
    "Rebecca Jeffrey Sharon Ryan Laura Jacob Cynthia Gary Kathleen Nicholas Amy Eric Shirley Jonathan "
    "Angela Stephen Helen Larry Anna Justin Brenda Scott Pamela Brandon Nicole Benjamin Emma Samuel "
    "Samantha Gregory Katherine Frank Christine Alexander Debra Raymond Rachel Patrick Catherine Jack "
    "Carolyn Dennis Janet Jerry Ruth Tyler Maria Aaron Heather Jose Diane Adam Virginia Henry Julie"
).split()
_LAST = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris "
    "Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill "
    "Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips "
    "Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers "
    "Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson "
    "Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo Sanders"
).split()
_WORDS = (
    "a young man woman family town city war love story life death secret past future night day "
    "journey home world friend enemy brother sister father mother son daughter king queen soldier "
    "detective killer thief doctor lawyer teacher student farmer sailor pilot spy agent reporter "
    "must find save escape discover face fight return learn lose win protect hide chase betray "
    "marry leave join stop uncover survive after before during when while against across through "
    "into the of and with his her their an old new small great dark strange lonely dangerous "
    "mysterious powerful wealthy poor brave desperate ambitious gold money treasure island river "
    "mountain desert ship train house hotel school prison army gang band circus ranch village "
    "empire planet forest ocean storm fire winter summer revenge justice freedom truth dream"
).split()
_TITLE_WORDS = (
    "The Last First Dark Night Day Love War Blood Gold Silent Lost Secret Great Little Big Red "
    "Black White Blue Wild Broken Hidden Golden Iron Stone Fire Ice Storm River City Road House "
    "Man Woman Girl Boy King Queen Heart Shadow Dream Star Sun Moon Sea Ship Train Island Empire "
    "Return Escape Journey Story Song Dance Game Kiss Promise Summer Winter Spring Autumn Paradise"
).split()
_GENRES = (
    "Drama Comedy Romance Crime Thriller Action Adventure Documentary Horror Mystery Biography "
    "Family Fantasy Sci-Fi History Animation War Music Short Western Musical Sport Film-Noir News"
).split()
_GENRE_WEIGHTS = (40, 25, 13, 11, 9, 9, 7, 6, 5, 4, 4, 3, 3, 3, 3, 2, 2, 2, 2, 1.5, 1.5, 1, 0.5, 0.1)
_RATED = ("R", "PG-13", "PG", "NOT RATED", "APPROVED", "G", "UNRATED", "PASSED", "TV-MA", "TV-14")
_RATED_WEIGHTS = (30, 18, 14, 10, 8, 5, 5, 4, 3, 3)
_LANGUAGES = (
    "English French Spanish German Italian Japanese Russian Mandarin Hindi Korean Portuguese "
    "Swedish Cantonese Arabic Danish Polish Dutch Turkish Greek Persian"
).split()
_COUNTRIES = (
    "USA|UK|France|Germany|Canada|Italy|Japan|Spain|India|Australia|Sweden|Hong Kong|Denmark|"
    "Russia|Belgium|South Korea|Mexico|Netherlands|Brazil|China|Poland|Argentina|Ireland|Norway"
).split("|")
_AWARD_TEXT = ("Won {w} awards.", "Nominated for {n} awards.", "{w} wins & {n} nominations.")

_EPOCH = datetime(1910, 1, 1)
_RELEASE_SPAN = (datetime(2016, 1, 1) - _EPOCH).days
_COMMENT_EPOCH = datetime(1970, 1, 1)
_COMMENT_SPAN = int((datetime(2017, 9, 1) - _COMMENT_EPOCH).total_seconds())


def _sentence(rng: random.Random, lo: int, hi: int) -> str:
    words = rng.choices(_WORDS, k=rng.randint(lo, hi))
    words[0] = words[0].capitalize()
    return " ".join(words) + "."


def _name(rng: random.Random) -> str:
    return f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"


def iter_movies(n: int = DEFAULT_MOVIES, seed: int = SEED) -> Iterator[dict]:
    """Yield the ``n`` generated movies in ``_id`` order (see :func:`generate_movies`)."""
    _check_size(n, "movies")
    rng = random.Random(seed)
    r, ri, ch, chs = rng.random, rng.randint, rng.choice, rng.choices
    sample = rng.sample
    for i in range(n):
        released = _EPOCH + timedelta(days=int(r() * _RELEASE_SPAN))
        title_words = chs(_TITLE_WORDS, k=ri(1, 4))
        plot = _sentence(rng, 12, 30)
        wins, noms = ri(0, 12), ri(0, 20)
        doc = {
            "_id": movie_id(i),
            "plot": plot,
            "genres": sorted(set(chs(_GENRES, weights=_GENRE_WEIGHTS, k=ri(1, 3))), key=_GENRES.index),
            "runtime": ri(60, 180),
            "cast": [_name(rng) for _ in range(ri(2, 5))],
            "num_mflix_comments": ri(0, 6) if r() < 0.6 else 0,
            "title": " ".join(title_words),
            "fullplot": " ".join([plot] + [_sentence(rng, 10, 30) for _ in range(ri(1, 4))]),
            "languages": sample(_LANGUAGES[:6], 1) if r() < 0.8 else sample(_LANGUAGES, ri(1, 3)),
            "released": released,
            "directors": [_name(rng) for _ in range(1 if r() < 0.9 else 2)],
            "writers": [_name(rng) for _ in range(ri(1, 3))],
            "awards": {
                "wins": wins,
                "nominations": noms,
                "text": ch(_AWARD_TEXT).format(w=wins, n=noms),
            },
            "lastupdated": f"2015-{ri(8, 9):02d}-{ri(1, 28):02d} {ri(0, 23):02d}:{ri(0, 59):02d}:"
            f"{ri(0, 59):02d}.{ri(0, 999):03d}000000",
            "year": released.year,
            "imdb": {"rating": round(1 + r() * 8.9, 1), "votes": ri(5, 1_500_000), "id": 1000 + i * 97},
            "countries": sample(_COUNTRIES[:4], 1) if r() < 0.7 else sample(_COUNTRIES, ri(1, 3)),
            "rated": chs(_RATED, weights=_RATED_WEIGHTS)[0],
            "type": "movie",
        }
        if r() < 0.7:  # like the real data, not every movie has Rotten Tomatoes scores
            tomatoes: dict[str, Any] = {
                "viewer": {"rating": round(r() * 5, 1), "numReviews": ri(0, 300_000), "meter": ri(0, 100)},
                "lastUpdated": datetime(2015, 1, 1) + timedelta(seconds=ri(0, 300 * 86400)),
            }
            if r() < 0.5:
                tomatoes["critic"] = {"rating": round(r() * 10, 1), "numReviews": ri(1, 300),
                                      "meter": ri(0, 100)}
            doc["tomatoes"] = tomatoes
        yield doc


def generate_movies(n: int = DEFAULT_MOVIES, seed: int = SEED) -> list[dict]:
    """The first ``n`` synthetic movies; the same ``n`` (and ``seed``) always gives the same list.

    Movie ``i`` does not depend on ``n``: ``generate_movies(10)`` is ``generate_movies(20)[:10]``.
    """
    return list(iter_movies(n, seed))


def iter_comments(m: int = DEFAULT_COMMENTS, n_movies: int = DEFAULT_MOVIES, seed: int = SEED) -> Iterator[dict]:
    """Yield the ``m`` generated comments in ``_id`` order (see :func:`generate_comments`)."""
    _check_size(m, "comments")
    _check_size(n_movies, "n_movies")
    if m and not n_movies:
        raise ValueError("comments need at least one movie to refer to (n_movies=0)")
    rng = random.Random(seed + 1)
    r, ri, ch = rng.random, rng.randint, rng.choice
    for j in range(m):
        first, last = ch(_FIRST), ch(_LAST)
        # One r() call whatever n_movies is, so the rest of the stream does not depend on it.
        # Squaring skews comments toward the older movies, as in the real data.
        u = r()
        yield {
            "_id": comment_id(j),
            "name": f"{first} {last}",
            "email": f"{first.lower()}_{last.lower()}@fakegmail.com",
            "movie_id": movie_id(int(u * u * n_movies)),
            "text": " ".join(_sentence(rng, 6, 20) for _ in range(ri(1, 4))),
            "date": _COMMENT_EPOCH + timedelta(seconds=int(r() * _COMMENT_SPAN)),
        }


def generate_comments(m: int = DEFAULT_COMMENTS, n_movies: int = DEFAULT_MOVIES, seed: int = SEED) -> list[dict]:
    """The first ``m`` synthetic comments, each referring to one of the first ``n_movies`` movies."""
    return list(iter_comments(m, n_movies, seed))


# -- seeding ----------------------------------------------------------------------------------

Progress = Callable[[str, int, int], None]  # (collection, done, total)


def _client(client_or_uri, timeout_ms: int):
    if isinstance(client_or_uri, str):
        from ray101_jobs import mongouri

        return mongouri.client(client_or_uri, timeout_ms), True
    return client_or_uri, False


def _insert(coll, docs: list[dict], batch: int, name: str, progress: Progress | None) -> int:
    """Insert ``docs`` in batches, ignoring duplicate keys (a concurrent seeder got there first)."""
    from pymongo.errors import BulkWriteError

    inserted = 0
    total = len(docs)
    for start in range(0, total, batch):
        chunk = docs[start : start + batch]
        try:
            inserted += len(coll.insert_many(chunk, ordered=False).inserted_ids)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != 11000 for e in errors):
                raise
            inserted += exc.details.get("nInserted", len(chunk) - len(errors))
        if progress:
            progress(name, min(start + batch, total), total)
    return inserted


def _stored(coll) -> int:
    """The collection's document count, cheaply: ``collStats`` where it works (FerretDB's
    ``count`` scans every document: ~4 s for 23,530 movies), else ``count``."""
    from pymongo.errors import OperationFailure

    try:
        return int(coll.database.command("collStats", coll.name).get("count", 0))
    except OperationFailure:  # e.g. a user allowed to read but not to run collStats
        return coll.count_documents({})


DELETE_WINDOW = 10_000


def _has(coll, oid) -> bool:
    return coll.find_one({"_id": oid}, {"_id": 1}) is not None


def _seed_collection(coll, want: int, oid, make, batch: int, progress, regenerate: bool = False) -> dict:
    name = coll.name
    # Range filters and counts are full scans on FerretDB/SQLite while `_id` equality is cheap, so
    # the common case (already seeded) checks the count and the first and last ids only.
    stored = _stored(coll)
    if not regenerate and stored == want and (not want or (_has(coll, oid(0)) and _has(coll, oid(want - 1)))):
        if progress:
            progress(name, want, want)
        return {"inserted": 0, "existing": want, "deleted": 0, "count": stored}
    deleted, have = 0, set()
    if stored:
        # Generated ids beyond ``want`` (an earlier, larger seed) go, so the count is exactly
        # ``want``; with ``regenerate`` all generated ids go (their content depended on another size).
        # In windows of DELETE_WINDOW ids: FerretDB's SQLite backend deletes with one SQL variable
        # per document, at most 32,766 in one statement. Generated ids present are a prefix of
        # 0, 1, 2, ... after any seed, so windows up to the stored count reach them all.
        first = 0 if regenerate else want
        last = max(stored, first)
        for k in range(first, last, DELETE_WINDOW):
            window = {"$gte": oid(k), "$lte": oid(min(k + DELETE_WINDOW, MAX_DOCS) - 1)}
            deleted += coll.delete_many({"_id": window}).deleted_count
        if last < MAX_DOCS:
            deleted += coll.delete_many({"_id": {"$gte": oid(last), "$lte": oid(MAX_DOCS - 1)}}).deleted_count
        if not regenerate and want:
            have = {d["_id"] for d in coll.find({"_id": {"$gte": oid(0), "$lt": oid(want)}}, {"_id": 1})}
    missing = [d for d in make() if d["_id"] not in have] if len(have) < want else []
    inserted = _insert(coll, missing, batch, name, progress)
    if progress and not missing:
        progress(name, want, want)
    return {"inserted": inserted, "existing": len(have), "deleted": deleted, "count": _stored(coll)}


def seed(
    client_or_uri,
    movies: int = DEFAULT_MOVIES,
    comments: int = DEFAULT_COMMENTS,
    drop: bool = False,
    database: str = DATABASE,
    batch: int = 1000,
    progress: Progress | None = None,
    timeout_ms: int = 10_000,
) -> dict:
    """Make ``database`` hold exactly the first ``movies`` movies and ``comments`` comments.

    Idempotent: a second call finds every id present and inserts nothing; a smaller size deletes
    the surplus generated documents; ``drop=True`` drops both collections first. Documents that
    were not generated here are left alone (and counted in ``count``).

    Returns ``{"database", "movies": {"inserted", "existing", "deleted", "count"}, "comments":
    {...}, "total", "seconds"}``. ``client_or_uri`` is a ``MongoClient`` or a MongoDB URI.
    """
    _check_size(movies, "movies")
    _check_size(comments, "comments")
    if comments and not movies:
        raise ValueError("comments need at least one movie to refer to (movies=0)")
    if batch < 1:
        raise ValueError(f"batch must be positive, got {batch}")
    started = time.perf_counter()
    client, owned = _client(client_or_uri, timeout_ms)
    try:
        db = client[database]
        if drop:
            db.drop_collection("movies")
            db.drop_collection("comments")
        result: dict[str, Any] = {"database": database}
        result["movies"] = _seed_collection(db["movies"], movies, movie_id,
                                            lambda: generate_movies(movies), batch, progress)
        result["comments"] = _seed_collection(
            db["comments"], comments, comment_id, lambda: generate_comments(comments, movies), batch, progress,
            # Comments point at movies by index scaled to the movie count: when the movies changed,
            # stored comments may point at the wrong (or a deleted) movie, so make them afresh.
            regenerate=bool(result["movies"]["inserted"] or result["movies"]["deleted"]),
        )
        result["total"] = result["movies"]["count"] + result["comments"]["count"]
        result["seconds"] = round(time.perf_counter() - started, 3)
        return result
    finally:
        if owned:
            client.close()
