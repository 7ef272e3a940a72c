"""The local clusters' side of ``ray101 chaos``: SIGKILL a node's processes, or take its
namespace's only link down for a while."""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Callable
from types import FrameType

from ray101.errors import Ray101Error
from ray101.head.client import HeadClient
from ray101.local import cluster as localcluster
from ray101.local import network
from ray101.local import plan as localplan
from ray101.local.plan import Node, Plan


def _local_node(cluster: str, name: str | None) -> tuple[Plan, Node]:
    """The plan and the worker node ``name`` of a local cluster (a random worker without name)."""
    plan = localplan.current_plan()
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
    """SIGKILL one worker node of the local ``cluster`` (``node``, else a random live one)."""
    _, chosen = _local_node(cluster, node)
    if not localcluster.node_alive(chosen):
        raise Ray101Error(f"{chosen.name} is not running; `ray101 local up` brings it back")
    pid = chosen.pid
    localcluster.kill_node(chosen)
    return {"cluster": cluster, "kind": "local", "node": chosen.name, "ip": chosen.ip,
            "pid": pid, "action": "SIGKILL", "next": "ray101 local up"}


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def partition(cluster: str, node: str, seconds: float,
              progress: Callable[[str], None] = lambda msg: None) -> dict:
    """Cut ``node`` of the local ``cluster`` off the network for ``seconds``, then reconnect.

    The link comes back even when interrupted (Ctrl-C, SIGTERM, SIGHUP). Returns what Ray thought of the
    node just after: still alive, or already declared dead (then `ray101 local up` restarts it).
    """
    plan, chosen = _local_node(cluster, node)
    if not plan.netns or not chosen.veth:
        raise Ray101Error(f"{cluster} runs on loopback (no network namespaces): a node "
                          "cannot be cut off there; start the clusters as root with --netns")
    if not localcluster.node_alive(chosen):
        raise Ray101Error(f"{chosen.name} is not running; `ray101 local up` brings it back")
    token = localcluster.read_token()
    url = localplan.jobs_url(plan, cluster)
    # Whatever ends this process early must not leave the link down: Ctrl-C, SIGTERM, and SIGHUP
    # (the terminal closed) all become KeyboardInterrupt here.
    previous = {sig: signal.signal(sig, _raise_interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    interrupted = False
    started = time.monotonic()
    try:
        network.set_link(chosen, False)
        progress(f"{chosen.name} ({chosen.ip}) cut off for {seconds:g} s")
        time.sleep(seconds)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        network.set_link(chosen, True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    cut = time.monotonic() - started
    progress(f"{chosen.name} reconnected after {cut:.1f} s")
    alive = HeadClient(url, token).alive_nodes()
    return {"cluster": cluster, "node": chosen.name, "ip": chosen.ip,
            "seconds": round(cut, 1), "interrupted": interrupted,
            "in_ray_after": None if alive is None else chosen.ip in alive}
