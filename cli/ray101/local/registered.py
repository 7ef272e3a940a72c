"""The local clusters ``ray101 local up`` registered as targets, in ``$RAY101_HOME/clusters.json``
(``targets.resolve`` reads them)."""

from __future__ import annotations

import json
from pathlib import Path

from ray101 import state
from ray101.errors import Ray101Error
from ray101.models import Target


def _registry_path() -> Path:
    return state.home() / "clusters.json"


def targets() -> dict[str, Target]:
    """Clusters registered by ``ray101 local up`` (name -> target)."""
    path = _registry_path()
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise Ray101Error(f"the cluster registry {path} is unreadable: {exc}") from None
    return {name: Target.from_dict(t) for name, t in data.items()}


def add(target: Target) -> None:
    data = {name: t.to_dict() for name, t in targets().items()}
    data[target.name] = target.to_dict()
    state.atomic_write(_registry_path(), json.dumps(data, indent=2, sort_keys=True) + "\n")


def remove(name: str) -> None:
    data = {n: t.to_dict() for n, t in targets().items() if n != name}
    state.atomic_write(_registry_path(), json.dumps(data, indent=2, sort_keys=True) + "\n")
