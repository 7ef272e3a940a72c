"""Settings read from the environment, checked in one place: a bad value is one line."""

from __future__ import annotations

import math
import os

from ray101.errors import Ray101Error


def seconds(name: str, default: float, zero_ok: bool = False) -> float:
    """The environment variable ``name`` as a finite number of seconds (> 0, or >= 0 with
    ``zero_ok``); ``default`` when it is unset or empty."""
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise Ray101Error(f"{name} must be a number of seconds, not {raw!r}") from None
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero_ok):
        raise Ray101Error(f"{name} must be a finite number {'>=' if zero_ok else '>'} 0, not {raw}")
    return value
