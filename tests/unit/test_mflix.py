"""The sample_mflix generator and URI redaction: pure functions, no MongoDB needed."""

from __future__ import annotations

import itertools
from datetime import datetime

import pytest
from bson import ObjectId

from ray101_jobs import mflix, mongouri

PASSWORD = "s3cr3t-Pa55"


def test_defaults_are_the_tutorials_size():
    assert (mflix.DEFAULT_MOVIES, mflix.DEFAULT_COMMENTS, mflix.DATABASE) == (23530, 21032, "sample_mflix")
    assert mflix.DEFAULT_MOVIES + mflix.DEFAULT_COMMENTS == 44562


def test_generation_is_deterministic():
    # A slice of the full set (the full tier seeds and counts all 44,562 documents).
    movies, comments = mflix.generate_movies(3000), mflix.generate_comments(3000, 3000)
    assert mflix.generate_movies(3000) == movies
    assert mflix.generate_comments(3000, 3000) == comments


def test_sizes_are_honored_and_prefixes_stable():
    movies = mflix.generate_movies(500)
    assert len(movies) == 500 and len(mflix.generate_movies(0)) == 0
    assert mflix.generate_movies(200) == movies[:200]
    assert mflix.generate_comments(300, 500) == mflix.generate_comments(1000, 500)[:300]
    with pytest.raises(ValueError):
        mflix.generate_movies(-1)
    with pytest.raises(ValueError):
        mflix.generate_comments(5, 0)


def test_ids_sort_in_generation_order_and_spread_evenly():
    movies = mflix.generate_movies(1000)
    ids = [m["_id"] for m in movies]
    assert ids == sorted(ids) and len(set(ids)) == 1000
    assert ids == [mflix.movie_id(i) for i in range(1000)]
    seconds = [int(i.generation_time.timestamp()) for i in ids]
    assert {b - a for a, b in itertools.pairwise(seconds)} == {1}
    comment_ids = {c["_id"] for c in mflix.generate_comments(1000, 1000)}
    assert not comment_ids & set(ids)


def test_comments_refer_to_generated_movies():
    movie_ids = {m["_id"] for m in mflix.generate_movies(300)}
    comments = mflix.generate_comments(2000, 300)
    assert all(c["movie_id"] in movie_ids for c in comments)
    assert len({c["movie_id"] for c in comments}) > 100


def test_field_types_match_sample_mflix():
    for m in mflix.generate_movies(300):
        assert isinstance(m["_id"], ObjectId)
        for key in ("title", "plot", "fullplot", "rated", "lastupdated"):
            assert isinstance(m[key], str) and m[key], key
        for key in ("genres", "cast", "directors", "languages", "countries"):
            assert isinstance(m[key], list) and m[key] and all(isinstance(x, str) for x in m[key]), key
        assert isinstance(m["year"], int) and isinstance(m["runtime"], int)
        assert isinstance(m["num_mflix_comments"], int)
        assert isinstance(m["released"], datetime) and m["released"].year == m["year"]
        assert isinstance(m["imdb"]["rating"], float) and isinstance(m["imdb"]["votes"], int)
        assert isinstance(m["imdb"]["id"], int)
        assert m["type"] == "movie"
        if "tomatoes" in m:
            assert isinstance(m["tomatoes"]["viewer"], dict)
    assert any("tomatoes" in m for m in mflix.generate_movies(50))
    assert any("tomatoes" not in m for m in mflix.generate_movies(50))
    for c in mflix.generate_comments(300, 50):
        assert set(c) == {"_id", "name", "email", "movie_id", "text", "date"}
        assert isinstance(c["movie_id"], ObjectId) and isinstance(c["date"], datetime)
        assert "@" in c["email"] and isinstance(c["text"], str)


def test_redact_hides_passwords():
    assert mongouri.redact(f"mongodb://bob:{PASSWORD}@h:1/db") == "mongodb://bob:***@h:1/db"
    assert mongouri.redact(f"mongodb+srv://bob:{PASSWORD}@c.example.net/?w=1") == "mongodb+srv://bob:***@c.example.net/?w=1"
    assert mongouri.redact("mongodb://h1:1,h2:2/") == "mongodb://h1:1,h2:2/"
    assert PASSWORD not in mongouri.redact(f"mongodb://bob:{PASSWORD}@x@h:1/")  # unescaped @
    assert PASSWORD not in mongouri.redact(f"mongodb://h/?password={PASSWORD}")
    assert mongouri.hosts_of(f"mongodb://bob:{PASSWORD}@h1:1,h2:2/db?x=1") == "h1:1,h2:2"
