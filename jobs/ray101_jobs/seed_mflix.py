"""Seed the synthetic ``sample_mflix`` into the MongoDB at ``$RAY101_MONGO_URI``.

This is how seeding runs on Kubernetes (as a Ray job whose runtime env carries the URI); it runs by
hand just as well::

    RAY101_MONGO_URI=mongodb://127.0.0.1:27017/ python -m ray101_jobs.seed_mflix --movies 100

It prints the counts and one machine-readable line, ``RAY101_RESULT {...}``. The URI is never
printed (it may hold a password); errors name the host only.
"""

from __future__ import annotations

import argparse
import json
import sys

from ray101_jobs import mflix, mongouri
from ray101_jobs.common import RESULT_PREFIX


def _count(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {value!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {n}")
    return n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ray101_jobs.seed_mflix", description=__doc__.split("\n")[0])
    parser.add_argument("--movies", type=_count, default=mflix.DEFAULT_MOVIES)
    parser.add_argument("--comments", type=_count, default=mflix.DEFAULT_COMMENTS)
    parser.add_argument("--drop", action="store_true", help="drop both collections first")
    parser.add_argument("--database", default=mflix.DATABASE)
    parser.add_argument("--timeout-ms", type=int, default=10_000)
    args = parser.parse_args(argv)

    uri = mongouri.from_env()
    if not uri:
        print(f"error: {mongouri.URI_ENV} is not set", file=sys.stderr)
        return 2

    from pymongo.errors import PyMongoError

    try:
        result = mflix.seed(uri, movies=args.movies, comments=args.comments, drop=args.drop,
                            database=args.database, timeout_ms=args.timeout_ms)  # fmt: skip
    except (PyMongoError, ValueError) as exc:
        hosts = mongouri.hosts_of(uri)
        reason = mongouri.short_reason(exc, uri)
        print(f"error: seeding MongoDB at {hosts} failed: {type(exc).__name__}: {reason}", file=sys.stderr)
        print(RESULT_PREFIX + json.dumps({"ok": False, "error": type(exc).__name__, "hosts": hosts}))
        return 1

    for name in ("movies", "comments"):
        r = result[name]
        print(f"{args.database}.{name}: {r['count']} documents "
              f"({r['inserted']} inserted, {r['existing']} already there, {r['deleted']} deleted)")  # fmt: skip
    print(f"total: {result['total']} documents in {result['seconds']:.1f}s")
    print(RESULT_PREFIX + json.dumps({"ok": True, **result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
