"""Faults on purpose: kill a worker node, or cut one off the network for a while.

``ray101.local.chaos`` is the local clusters' side, ``ray101.kube.chaos`` the KubeRay side;
this module picks one by the kind of cluster.

Local clusters: ``kill_node`` SIGKILLs the node's whole process group and whatever runs in its
namespace, as a crashed machine would die; ``ray101 local up`` brings it back. ``partition``
takes a namespaced node's only link down for S seconds and always puts it back (Ctrl-C and
SIGTERM included; a SIGKILLed partition is repaired by ``ray101 local up``, which sets every
link up). KubeRay clusters: ``kill_node`` deletes a worker pod and KubeRay starts another.

The head is never a target: it holds the GCS and the Jobs API, so losing it loses the cluster,
which is not the fault these commands are for.
"""

from __future__ import annotations

from collections.abc import Callable

from ray101 import targets
from ray101.errors import Ray101Error
from ray101.kube import chaos as kube
from ray101.local import chaos as local
from ray101.models import K8S, LOCAL


def kill_node(cluster: str, node: str | None = None) -> dict:
    """Kill one worker node of ``cluster`` (a named one, else a random live one); never the head."""
    target = targets.resolve(cluster)
    if target.kind == K8S:
        pod = kube.kill_worker(target, node)
        return {"cluster": target.name, "kind": "k8s", "node": pod, "action": "pod deleted",
                "next": "KubeRay starts a replacement pod"}
    if target.kind != LOCAL:
        raise Ray101Error(f"chaos needs a local or KubeRay cluster, not a Jobs API URL ({target.name})")
    return local.kill_node(target.name, node)


def partition(cluster: str, node: str, seconds: float,
              progress: Callable[[str], None] = lambda msg: None) -> dict:
    """Cut ``node`` of a local namespaced cluster off the network for ``seconds``, then reconnect
    (see ``local.partition``)."""
    if not 0 < seconds < float("inf"):  # the CLI's type says so first; callers in Python too
        raise Ray101Error(f"seconds must be finite and > 0, not {seconds:g}")
    target = targets.resolve(cluster)
    if target.kind != LOCAL:
        raise Ray101Error(f"partition works on local clusters in network namespaces, not on "
                          f"{target.name} ({target.kind})")
    return local.partition(target.name, node, seconds, progress)
