"""The local lab as one thing: MongoDB and both local clusters, started and stopped together.

``local.cluster`` knows Ray nodes and ``mongo.server`` knows the MongoDB server; neither starts the
other. ``up`` composes them: the clusters' network first (MongoDB listens on its bridge), then
MongoDB (seeded), then the nodes, which find MongoDB through ``RAY101_MONGO_URI``.
"""

from __future__ import annotations

from collections.abc import Callable

from ray101.errors import Ray101Error
from ray101.local import cluster as localcluster
from ray101.local.plan import DEFAULT_SUBNET, MONGO_PORT
from ray101.mongo import server as mongo


def up(cpus: float = 2, workers: int = 2, subnet: str | None = DEFAULT_SUBNET,
       netns: bool | None = None, seed: bool = True, progress: Callable[[str], object] = print,
       mongo_port: int = MONGO_PORT, detail: Callable[[str], object] | None = None) -> dict:
    """Start (or repair) MongoDB and both clusters; starts nothing that already runs.

    ``progress(message)`` hears each step as it begins (network, MongoDB, seeding, each node,
    each cluster); ``detail(line)`` the output of a long step (a FerretDB build).
    """
    plan = localcluster.prepare(cpus, workers, subnet, netns, progress)
    host = localcluster.mongo_host(plan)
    progress(f"MongoDB: starting on {host}:{mongo_port}")
    uri = mongo.ensure_running(host=host, port=mongo_port, on_output=detail)
    if seed:
        from pymongo.errors import PyMongoError

        from ray101_jobs import mflix

        progress("MongoDB: loading sample_mflix")
        try:
            report = mflix.seed(uri)
        except PyMongoError as exc:
            raise Ray101Error(f"seeding sample_mflix failed: {mongo.failure(exc, uri)}") from None
        progress(f"MongoDB: sample_mflix seeded ({_seed_summary(report)})")
    started = localcluster.start(plan, uri, progress)
    return {"started": started, "plan": plan}


def _seed_summary(report: object) -> str:
    if isinstance(report, dict):
        return ", ".join(f"{k}={v}" for k, v in report.items() if not isinstance(v, dict)) or str(report)
    return str(report)


def down() -> list[str]:
    """Stop both clusters, then the MongoDB server ray101 started. Fine when nothing runs."""
    stopped = localcluster.down()
    mongo.stop()
    return stopped
