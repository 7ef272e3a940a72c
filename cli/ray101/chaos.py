"""Faults on purpose: kill a worker node, or cut one off the network for a while.

Local clusters: ``kill_node`` SIGKILLs the node's whole process group and whatever runs in its
namespace, as a crashed machine would die; ``ray101 local up`` brings it back. ``partition``
takes a namespaced node's only link down for S seconds and always puts it back (Ctrl-C and
SIGTERM included; a SIGKILLed partition is repaired by ``ray101 local up``, which sets every
link up). KubeRay clusters: ``kill_node`` deletes a worker pod and KubeRay starts another.

The head is never a target: it holds the GCS and the Jobs API, so losing it loses the cluster,
which is not the fault these commands are for.
"""

from __future__ import annotations

import random
import signal
import time
from typing import Callable

from ray101 import targets
from ray101.errors import Ray101Error
from ray101.models import K8S, LOCAL


def _local_node(cluster: str, name: str | None):
    """The plan and the worker node ``name`` of a local cluster (a random worker without name)."""
    from ray101 import localcluster

    plan = localcluster.current_plan()
    nodes = plan.cluster_nodes(cluster)
    if not nodes:
        raise Ray101Error(f"cluster {cluster} has no nodes in the local plan; run `ray101 local up`")
    if name is None:
        workers = [n for n in nodes if n.role == "worker"]
        if not workers:
            raise Ray101Error(f"{cluster} has no worker node (only its head, which is never a target)")
        alive = [n for n in workers if localcluster.node_alive(n)]
        if not alive:
            raise Ray101Error(f"every worker node of {cluster} is already down; "
                              "`ray101 local up` brings them back")
        return plan, random.choice(alive)
    by_name = {n.name: n for n in nodes}
    node = by_name.get(name)
    if node is None:
        raise Ray101Error(f"{cluster} has no node '{name}' (its nodes: {', '.join(by_name)})")
    if node.role == "head":
        raise Ray101Error(f"{name} is the head of {cluster}: only worker nodes can be targeted")
    return plan, node


def kill_node(cluster: str, node: str | None = None) -> dict:
    """Kill one worker node of ``cluster`` (a named one, else a random live one); never the head."""
    target = targets.resolve(cluster)
    if target.kind == K8S:
        from ray101.kube.chaos import kill_worker

        pod = kill_worker(target, node)
        return {"cluster": target.name, "kind": "k8s", "node": pod, "action": "pod deleted",
                "next": "KubeRay starts a replacement pod"}
    if target.kind != LOCAL:
        raise Ray101Error(f"chaos needs a local or KubeRay cluster, not a Jobs API URL ({target.name})")
    from ray101 import localcluster

    _, chosen = _local_node(target.name, node)
    if not localcluster.node_alive(chosen):
        raise Ray101Error(f"{chosen.name} is not running; `ray101 local up` brings it back")
    pid = chosen.pid
    localcluster.kill_node(chosen)
    return {"cluster": target.name, "kind": "local", "node": chosen.name, "ip": chosen.ip,
            "pid": pid, "action": "SIGKILL", "next": "ray101 local up"}


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def partition(cluster: str, node: str, seconds: float,
              progress: Callable[[str], None] = lambda msg: None) -> dict:
    """Cut ``node`` of a local namespaced cluster off the network for ``seconds``, then reconnect.

    The link comes back even when interrupted (Ctrl-C, SIGTERM). Returns what Ray thought of the
    node just after: still alive, or already declared dead (then `ray101 local up` restarts it).
    """
    from ray101 import localcluster

    if not seconds > 0:
        raise Ray101Error(f"--seconds must be > 0, not {seconds:g}")
    target = targets.resolve(cluster)
    if target.kind != LOCAL:
        raise Ray101Error(f"partition works on local clusters in network namespaces, not on "
                          f"{target.name} ({target.kind})")
    plan, chosen = _local_node(target.name, node)
    if not plan.netns or not chosen.veth:
        raise Ray101Error(f"{target.name} runs on loopback (no network namespaces): a node "
                          "cannot be cut off there; start the clusters as root with --netns")
    if not localcluster.node_alive(chosen):
        raise Ray101Error(f"{chosen.name} is not running; `ray101 local up` brings it back")
    token = localcluster.token_file().read_text().strip()
    url = localcluster.jobs_url(plan, target.name)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    interrupted = False
    started = time.monotonic()
    try:
        localcluster.set_link(chosen, False)
        progress(f"{chosen.name} ({chosen.ip}) cut off for {seconds:g} s")
        time.sleep(seconds)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        localcluster.set_link(chosen, True)
        signal.signal(signal.SIGTERM, previous)
    cut = time.monotonic() - started
    progress(f"{chosen.name} reconnected after {cut:.1f} s")
    alive = localcluster.alive_nodes(url, token)
    return {"cluster": target.name, "node": chosen.name, "ip": chosen.ip,
            "seconds": round(cut, 1), "interrupted": interrupted,
            "in_ray_after": None if alive is None else chosen.ip in alive}
