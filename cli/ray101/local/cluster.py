"""Local Ray clusters: ``local-single`` (one node) and ``local-multi`` (a head and workers).

``plan`` says which nodes there are and where; ``network`` builds their network
namespaces. Here: each node is one ``ray start --block`` process started in a new session; its
PID (= process group) is recorded in ``<RAY101_HOME>/local/state.json`` and ``down`` stops
exactly those process groups (plus whatever still runs inside our namespaces), then removes
namespaces and bridge.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ray101 import procs, state
from ray101.errors import Ray101Error
from ray101.head.client import HeadClient
from ray101.local import network, registered
from ray101.local.plan import (
    DEFAULT_SUBNET,
    MULTI,
    SINGLE,
    Node,
    Plan,
    jobs_url,
    load,
    make_plan,
    plan_from,
    port_free,
    save,
    state_path,
)
from ray101.models import LOCAL, Target


# --- Ray nodes ----------------------------------------------------------------------------------
def token_file() -> Path:
    """The clusters' auth token, created once (random, 0600)."""
    path = state.home() / "auth_token"
    if not path.exists() or not path.read_text().strip():
        state.atomic_write(path, secrets.token_hex(32) + "\n", mode=0o600)
    os.chmod(path, 0o600)
    return path


def read_token() -> str:
    """The clusters' auth token, for ray101's own requests (never printed or logged)."""
    return token_file().read_text().strip()


def temp_root(plan: Plan) -> Path:
    """Where the nodes' Ray directories go: ``/tmp/<prefix>``, short because Ray puts Unix
    sockets under it (sun_path holds 107 bytes). Ray makes its session, socket and runtime_env
    directories world-writable (0777, ``ray._common.utils.try_make_directory_shared``), so this
    parent is ours and 0700: nobody else can reach into them."""
    return Path("/tmp") / plan.prefix


def _temp_dir(plan: Plan, node: Node) -> str:
    return str(temp_root(plan) / node.cluster.replace("local-", ""))


def _node_env(plan: Plan, node: Node, mongo_uri: str | None) -> dict:
    env = dict(os.environ)
    for key in ("RAY_ADDRESS", "RAY_AUTH_TOKEN"):
        env.pop(key, None)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env.update({
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN_PATH": str(token_file()),
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY101_SERVE_PORT": str(node.serve_port),
        "RAY101_SERVE_HOST": node.ip,  # not 0.0.0.0: on loopback that would open it to the network
        "RAY101_CLUSTER": node.cluster,
        "PYTHONUNBUFFERED": "1",
    })
    # Raylets share their free resources every 100 ms by default, so a task spilled to a worker
    # node right after another one waits for the next report: ~80 ms on 1-second tasks (8%).
    # Every 10 ms brings warm parallel-retrieve to within 2% of the ideal (docs/performance.md).
    env.setdefault("RAY_raylet_report_resources_period_milliseconds", "10")
    # An idle lab should leave the machine's cores to the measurements. Nothing here scrapes
    # Ray's metrics (no Prometheus), so the processes do not record them; the dashboard agents
    # sample the nodes every 15 s instead of every 5 s (`make bench` records the idle load).
    env.setdefault("RAY_enable_metrics_collection", "false")
    env.setdefault("REPORTER_UPDATE_INTERVAL_MS", "15000")
    # Each node's log monitor looks for new log files every 0.1 s while the logs folder holds
    # fewer than 1000 of them, the largest share of an idle lab's CPU; with the threshold at 0 it
    # looks every 0.5 s and still streams every line (a new worker's first output reaches the
    # driver up to 0.5 s later; ray101's jobs print from the driver).
    env.setdefault("RAY_LOG_MONITOR_MANY_FILES_THRESHOLD", "0")
    # Each node keeps one started worker process per CPU that belongs to no job yet: Ray starts
    # them with the node, each ray101 job tops them up as it ends (ray101_jobs.warm), and the
    # next job's first tasks run on them instead of waiting for new ones (six at once took
    # parallel-retrieve's first repetition from 1 s to 3.5 s on two cores; docs/performance.md).
    env.setdefault("RAY_enable_worker_prestart", "1")
    # ... and each of those workers imports what Ray's serializer needs for a job's first task as
    # it starts, not when that task is waiting for it (ray101_jobs.warm.PRELOAD_MODULES).
    from ray101_jobs.warm import PRELOAD_MODULES

    env.setdefault("RAY_preload_python_modules", ",".join(PRELOAD_MODULES))
    if mongo_uri:
        env["RAY101_MONGO_URI"] = mongo_uri
    return env


def _ray_start_command(plan: Plan, node: Node) -> list[str]:
    ray = str(Path(sys.executable).parent / "ray")
    cmd = [ray, "start", "--block", "--disable-usage-stats",
           f"--node-ip-address={node.ip}", f"--num-cpus={plan.cpus:g}",
           f"--object-store-memory={plan.object_store_mb * 1024 * 1024}",
           f"--temp-dir={_temp_dir(plan, node)}",
           f"--resources={json.dumps({node.name: 1})}"]
    if node.role == "head":
        cmd += ["--head", f"--port={node.gcs_port}", "--include-dashboard=true",
                f"--dashboard-host={'0.0.0.0' if node.netns else node.ip}",
                f"--dashboard-port={node.dashboard_port}"]
    else:
        head = plan.head(node.cluster)
        cmd += [f"--address={head.ip}:{head.gcs_port}"]
    cmd += [f"--{k}={v}" for k, v in node.extra_ports.items()]
    if node.netns:
        cmd = ["ip", "netns", "exec", node.netns] + cmd
    return cmd


def _ours(node: Node) -> bool:
    """Is ``node.pid`` still the process we started? A pid from before a reboot, or one the
    kernel gave to another program since, is not: it is never signalled."""
    if node.started is not None:
        return procs.alive(node.pid, started=node.started)
    # Recorded before start times were: its command line must still be this node's `ray start`.
    try:
        argv = Path(f"/proc/{node.pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except (OSError, TypeError):
        return False
    return (procs.alive(node.pid) and f"--node-ip-address={node.ip}" in argv
            and f"--resources={json.dumps({node.name: 1})}" in argv)


def node_alive(node: Node) -> bool:
    return _ours(node)


def start_node(plan: Plan, node: Node, mongo_uri: str | None) -> None:
    logdir = state.private_dir(state.private_dir(state.home() / "local") / "logs")
    node.log = str(logdir / f"{node.name}.log")
    with open(node.log, "ab") as log:
        proc = subprocess.Popen(
            _ray_start_command(plan, node), stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env=_node_env(plan, node, mongo_uri),
            start_new_session=True,
        )
    node.pid = proc.pid
    node.started = procs.start_time(proc.pid)


def stop_node(node: Node, grace: float = 10.0) -> None:
    """Stop the node's process group (when its pid is still ours), then anything left in its
    namespace."""
    if _ours(node) and node.pid:
        procs.stop_group(node.pid, grace)
    if node.netns and network.netns_exists(node.netns):
        network.kill_netns_processes(node.netns)
    node.pid = node.started = None


def kill_node(node: Node) -> None:
    """SIGKILL a node at once, as a crashed machine would die (`ray101 chaos kill-node`)."""
    if _ours(node) and node.pid:
        procs.stop_group(node.pid, grace=0, first=signal.SIGKILL)
    if node.netns and network.netns_exists(node.netns):
        network.kill_netns_processes(node.netns, grace=2)


# --- readiness ---------------------------------------------------------------------------------
def wait_ready(plan: Plan, cluster: str, token: str, timeout: float = 120.0) -> None:
    want = len(plan.cluster_nodes(cluster))
    url = jobs_url(plan, cluster)
    deadline = time.time() + timeout
    seen = None
    while time.time() < deadline:
        for node in plan.cluster_nodes(cluster):
            if not node_alive(node):
                raise Ray101Error(
                    f"Ray node {node.name} exited during start-up; see its log: {node.log}: "
                    f"{procs.log_tail(node.log, 2)}"
                )
        seen = HeadClient(url, token).alive_nodes()
        if seen is not None and len(seen) >= want:
            return
        time.sleep(0.5)
    raise Ray101Error(
        f"{cluster} did not come up within {timeout:.0f} s ({len(seen or [])} of {want} nodes "
        f"alive at {url}); see logs in {state.home() / 'local' / 'logs'}"
    )


def target_for(plan: Plan, cluster: str) -> Target:
    head = plan.head(cluster)
    return Target(
        name=cluster, kind=LOCAL, jobs_url=jobs_url(plan, cluster),
        topology="single" if cluster == SINGLE else "multi",
        nodes=len(plan.cluster_nodes(cluster)),
        cpus=plan.cpus * len(plan.cluster_nodes(cluster)),
        auth="token", token_file=str(token_file()),
        serve_url=f"http://{head.ip}:{head.serve_port}/echo",
    )


# --- the commands' work ------------------------------------------------------------------------
def prepare(cpus: float = 2, workers: int = 2, subnet: str | None = DEFAULT_SUBNET,
            netns: bool | None = None, progress: Callable[[str], object] = print) -> Plan:
    """The plan for both clusters (the recorded one when they exist), its network in place."""
    current = load()
    # With clusters recorded, their ports are ours (busy): keep the recorded nodes instead.
    plan = make_plan(cpus, workers, subnet, netns,
                     is_free=(lambda port: True) if current else port_free)
    if current:
        old = plan_from(current)
        if (old.netns, old.subnet, old.cpus, old.workers) != (plan.netns, plan.subnet, plan.cpus, plan.workers):
            raise Ray101Error(
                "local clusters already exist with other settings "
                f"(netns={old.netns}, subnet={old.subnet}, cpus={old.cpus:g}, "
                f"workers={old.workers}); run `ray101 local down` first"
            )
        # Same nodes, addresses and ports as recorded; a node to (re)start rejoins there.
        plan.nodes = old.nodes
    if plan.netns:
        network.check_subnet(plan)  # before saying anything: a clash is the one line the user sees
    # Before anything starts: a path someone else made first is refused here. A fresh start
    # begins with an empty one (an old one may have been open to others before it was ours).
    if not current:
        _remove_temp_root(plan)
    state.private_dir(temp_root(plan))
    if plan.netns:
        progress(f"network: bridge {plan.bridge} {plan.bridge_ip} on {plan.subnet}")
        network.setup_network(plan)
    return plan


def mongo_host(plan: Plan) -> str:
    """Where the nodes reach a MongoDB server on this machine: the bridge, else loopback."""
    return plan.bridge_ip if plan.netns and plan.bridge_ip else "127.0.0.1"


def start(plan: Plan, mongo_uri: str | None, progress: Callable[[str], object] = print) -> list[str]:
    """Start (or repair) both clusters of ``plan``, their nodes given ``mongo_uri``; starts
    nothing that already runs. Returns the names of the nodes it started.

    ``progress(message)`` hears each node as it starts, and each cluster once it is ready."""
    token = read_token()
    # Which MongoDB URI the running nodes have in their environment (a digest, not the URI):
    # when it changed (a new password), they are restarted to get the new one.
    extra = {"mongo": hashlib.sha256(mongo_uri.encode()).hexdigest()[:16] if mongo_uri else None}
    stale = (load() or {}).get("mongo") != extra["mongo"]
    save(plan, extra)
    started = []
    for cluster in (SINGLE, MULTI):
        nodes = plan.cluster_nodes(cluster)
        head = nodes[0]
        if stale and node_alive(head):
            progress(f"{cluster}: restarting, for MongoDB's new address or password")
            for node in nodes:
                stop_node(node)
        if not node_alive(head):
            for node in nodes:  # a cluster without its head is restarted whole
                if node.pid:
                    stop_node(node)
        for i, node in enumerate(nodes, 1):
            if not node_alive(node):
                # One node at a time: nodes of a cluster share its temp dir, and raylets that
                # start together race for the same socket names there.
                progress(f"{cluster}: starting {node.name} ({node.role}, node {i} of "
                         f"{len(nodes)}) at {node.ip}")
                start_node(plan, node, mongo_uri)
                started.append(node.name)
                save(plan, extra)
                wait_for_node(plan, node, token)
    for cluster in (SINGLE, MULTI):
        wait_ready(plan, cluster, token)
        registered.add(target_for(plan, cluster))
        progress(f"{cluster}: {len(plan.cluster_nodes(cluster))} node(s) ready at {jobs_url(plan, cluster)}")
    return started


def wait_for_node(plan: Plan, node: Node, token: str, timeout: float = 90.0) -> None:
    """Wait until the cluster lists a node it did not list before, with ``node``'s IP.

    Node ids, not IPs: a node that just died is still listed as alive, under the same IP,
    until Ray's health checks give up on it.
    """
    url = jobs_url(plan, node.cluster)
    before = {r["node_id"] for r in HeadClient(url, token).alive_node_rows() or []} if node.role != "head" else set()
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not node_alive(node):
            raise Ray101Error(f"Ray node {node.name} exited during start-up; see {node.log}: "
                              f"{procs.log_tail(node.log, 2)}")
        rows = HeadClient(url, token).alive_node_rows() or []
        if any(r["node_id"] not in before and r["node_ip"] == node.ip for r in rows):
            return
        time.sleep(0.3)
    raise Ray101Error(f"Ray node {node.name} did not join within {timeout:.0f} s; see {node.log}")


def _remove_temp_root(plan: Plan) -> None:
    """Remove the nodes' Ray directories, only when the root is a directory of ours."""
    root = temp_root(plan)
    try:
        info = os.lstat(root)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid():
        shutil.rmtree(root, ignore_errors=True)


def down() -> list[str]:
    """Stop exactly the nodes `start` started, remove namespaces and bridge. Fine when nothing
    runs. Returns the names of the nodes that were running."""
    data = load()
    stopped = []
    if data:
        plan = plan_from(data)
        for node in reversed(plan.nodes):  # workers before heads
            in_netns = node.netns and network.netns_exists(node.netns) and network.netns_pids(node.netns)
            if node_alive(node) or in_netns:
                stopped.append(node.name)
            stop_node(node)
        if plan.netns:
            network.teardown_network(plan)
        _remove_temp_root(plan)
    for name in (SINGLE, MULTI):
        registered.remove(name)
    state_path().unlink(missing_ok=True)
    return stopped


def status() -> dict:
    data = load()
    if not data:
        return {"running": False, "clusters": {}}
    plan = plan_from(data)
    token = read_token()
    clusters = {}
    for cluster in (SINGLE, MULTI):
        url = jobs_url(plan, cluster)
        alive = HeadClient(url, token).alive_nodes()
        clusters[cluster] = {
            "jobs_url": url,
            "answers": alive is not None,
            "nodes": [
                {"name": n.name, "role": n.role, "ip": n.ip, "netns": n.netns, "pid": n.pid,
                 "running": node_alive(n), "in_ray": alive is not None and n.ip in alive}
                for n in plan.cluster_nodes(cluster)
            ],
        }
    return {"running": True, "netns": plan.netns, "subnet": plan.subnet, "bridge": plan.bridge,
            "cpus_per_node": plan.cpus, "clusters": clusters}
