"""The figures ray101 reports for a run, computed in one place for ``run``, ``compare`` and
``runs``: cold and warm runtime, the distance to the ideal, the multi-node speedup."""

from __future__ import annotations

import statistics


def cold_warm(runtimes: list[float]) -> tuple[float | None, float | None]:
    """The first repetition is cold; the median of the rest is warm (the cold one if alone)."""
    if not runtimes:
        return None, None
    return runtimes[0], statistics.median(runtimes[1:]) if len(runtimes) > 1 else runtimes[0]


def overhead_pct(warm: float | None, ideal: float | None) -> float | None:
    """How far the warm runtime is above the ideal, in percent (one decimal)."""
    return round(100 * (warm / ideal - 1), 1) if warm and ideal else None


def speedup(single_warm: float | None, multi_warm: float | None) -> float | None:
    """Warm runtime on the single-node cluster over the multi-node one (two decimals)."""
    return round(single_warm / multi_warm, 2) if single_warm and multi_warm else None
