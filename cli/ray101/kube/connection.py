"""A KubeRay cluster made reachable: wait until it is ready, read its token, port-forward to its
head pod's dashboard/Jobs API and Serve ports (as the chart set them: ``headPorts``, read from the
RayCluster; Ray's 8265 and 8000 by default) on free ports of 127.0.0.1, closed when the ``with``
block ends. The connection carries the runtime_env its jobs need."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

from ray101.errors import Ray101Error
from ray101.kube.client import client
from ray101.kube.discovery import DASHBOARD_PORT, SERVE_PORT
from ray101.kube.portforward import Forwarder, PodStream, explain_forward_failure
from ray101.kube.readiness import ReadyProgress, wait_ready
from ray101.kube.token import read_token
from ray101.models import Connection, Target

# What the jobs import beyond Ray: ray101_jobs and pymongo (with bson, gridfs and dnspython).
JOB_PACKAGES = ("ray101_jobs", "pymongo", "bson", "gridfs", "dns")


def jobs_runtime_env() -> dict:
    """runtime_env shipping the jobs' packages, as modules, to nodes of the stock image.

    No ``pip``: a pip runtime_env made every node install pymongo on first use, inside the timed
    cold repetition, and needs the pods to reach a package index. The packages go as plain
    modules instead, without compiled extensions (``*.so``), so they import on any architecture
    and Python 3.11 (pymongo and bson fall back to their pure-Python code). Ray names an
    uploaded py_module after its folder, which is the package's own.
    """
    import importlib

    return {"py_modules": [str(Path(importlib.import_module(p).__path__[0]))
                           for p in JOB_PACKAGES],
            "excludes": ["__pycache__", "*.pyc", "*.so"]}


@contextlib.contextmanager
def connect(target: Target,
            on_wait: Callable[[ReadyProgress], None] | None = None,
            dashboard_port: int | None = None) -> Iterator[Connection]:
    """Wait for ``target``'s RayCluster, then port-forward to its head for the ``with`` block
    (the dashboard on 127.0.0.1:``dashboard_port`` when given, else on a free port)."""
    kube = client()
    head = wait_ready(kube, target, on_progress=on_wait)
    token = None
    if target.auth == "token":
        secret = target.kube.auth_secret if target.kube else None
        if not secret:
            raise Ray101Error(f"cluster {target.name} (context {kube.context}) uses token auth but "
                              "its RayCluster names no Secret (spec.authOptions.secretName)")
        token = read_token(kube, secret, target.name)
    in_image = target.kube is not None and target.kube.jobs_in_image
    runtime_env = None if in_image else jobs_runtime_env()
    pod = head["metadata"]["name"]
    via = f"port-forward to pod {kube.namespace}/{pod} in context {kube.context}"
    dashboard = target.kube.dashboard_port if target.kube else DASHBOARD_PORT
    serve = target.kube.serve_port if target.kube else SERVE_PORT
    forward = Forwarder(lambda port: PodStream(kube, pod, port), [dashboard, serve], via,
                        local_ports={dashboard: dashboard_port} if dashboard_port else None)
    try:
        yield Connection(
            target=target,
            jobs_url=f"http://127.0.0.1:{forward.local[dashboard]}",
            token=token,
            serve_url=f"http://127.0.0.1:{forward.local[serve]}/echo",
            via=via,
            runtime_env=runtime_env,
        )
    except Ray101Error as exc:
        raise Ray101Error(explain_forward_failure(exc.message, forward)) from None
    finally:
        forward.close()
