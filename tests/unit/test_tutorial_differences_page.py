"""docs/tutorial-differences.md: every difference it states names tests that exist, its figures
are those of the last `make bench` (docs/performance.json), the claims hold for those figures,
and the README links the page."""

from __future__ import annotations

import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "tutorial-differences.md"
TEST_REF = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")
ROW = re.compile(r"^\| (local-\w+) \| ([\w-]+) \| ([0-9.]+) \| ([0-9.]+) \|$", re.M)


def sections() -> dict[str, str]:
    parts = re.split(r"^## (.+)$", PAGE.read_text(), flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def bench() -> dict[tuple[str, str], dict]:
    data = json.loads((REPO / "docs" / "performance.json").read_text())["compare"]["data"]
    return {(cluster, row["workload"]): run for row in data["rows"]
            for cluster, run in row["clusters"].items()}


def test_should_name_existing_tests_as_evidence_for_every_difference():
    found = sections()
    assert len(found) == 5, list(found)
    for title, text in found.items():
        refs = TEST_REF.findall(text)
        assert refs and "Evidence:" in text, f"section {title!r} names no test"
        for path, name in refs:
            source = REPO / path
            assert source.is_file(), f"{title!r}: {path} does not exist"
            assert re.search(rf"^def {name}\(", source.read_text(), re.M), f"{title!r}: no {name} in {path}"


def test_should_quote_the_last_bench_and_hold_the_claims():
    measured = bench()
    text = PAGE.read_text()
    rows = ROW.findall(text)
    quoted = {(cluster, workload) for cluster, workload, _, _ in rows}
    for workload in ("mongo-sequential", "mongo-parallel", "mongo-partitioned", "parallel-retrieve"):
        for cluster in ("local-single", "local-multi"):
            assert (cluster, workload) in quoted, (cluster, workload)
    for cluster, workload, cold, warm in rows:
        run = measured[cluster, workload]
        assert (cold, warm) == (f"{run['cold_s']:.2f}", f"{run['warm_s']:.2f}"), (cluster, workload)

    def warm(cluster, workload):
        return measured[cluster, workload]["warm_s"]

    # "slower than one client on the single-node cluster, no faster on three nodes"
    assert warm("local-single", "mongo-parallel") > warm("local-single", "mongo-sequential")
    assert warm("local-multi", "mongo-parallel") > 0.95 * warm("local-multi", "mongo-sequential")
    # "what does pay is splitting the reads into ranges"
    for cluster in ("local-single", "local-multi"):
        assert warm(cluster, "mongo-partitioned") < warm(cluster, "mongo-sequential")
    # "a job's first repetition takes longer"; warm within a few percent of the ideal 1 s
    for cluster in ("local-single", "local-multi"):
        run = measured[cluster, "parallel-retrieve"]
        assert run["cold_s"] > run["warm_s"]
    assert measured["local-multi", "parallel-retrieve"]["warm_s"] < 1.05


def test_should_be_linked_from_the_readme():
    assert "(docs/tutorial-differences.md)" in (REPO / "README.md").read_text()
