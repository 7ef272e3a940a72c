"""Local Ray clusters: ``local-single`` (one node) and ``local-multi`` (a head and workers).

As root on Linux every Ray node runs in a network namespace of its own, with its own IP on a
bridge this module creates, so nodes are separate hosts that can be killed or cut off. Elsewhere
(not root, or ``--no-netns``) the nodes share loopback with distinct ports.

Each node is one ``ray start --block`` process started in a new session; its PID (= process
group) is recorded in ``<RAY101_HOME>/local/state.json`` and ``down`` stops exactly those process
groups (plus whatever still runs inside our namespaces), then removes namespaces and bridge.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from ray101 import registry, state
from ray101.errors import Ray101Error
from ray101.models import LOCAL, Target

SINGLE = "local-single"
MULTI = "local-multi"
DEFAULT_SUBNET = "10.101.0.0/24"
GCS_PORT = 6379
DASHBOARD_PORT = 8265
SERVE_PORT = 8000
MONGO_PORT = 27017
# The address every loopback node uses. Not 127.0.0.1: `ray start` turns --node-ip-address
# 127.0.0.1 (and "localhost", "::1") into this machine's routable address on Linux
# (ray._private.services.resolve_ip_for_localhost), so nodes would advertise eth0's IP, outside
# loopback. Any other 127/8 address stays as given and is on `lo` on Linux.
LOOPBACK_IP = "127.0.0.2"
# Loopback nodes share that address, so each cluster's ports differ. Slot s (0, 1, ...) shifts
# every port by s * LOOPBACK_SLOT (agent ports by s * LOOPBACK_AGENT_SLOT): a second set of
# clusters on this machine (the tests beside `make demo`) takes the first free slot.
LOOPBACK_SLOT = 10
LOOPBACK_AGENT_SLOT = 100
LOOPBACK_SLOTS = 100
AGENT_PORT = 52365
# Kept out of Ray's worker port range (10002-19999).
CLIENT_PORT = 20001


@dataclass
class Node:
    cluster: str
    name: str  # e.g. local-multi-w1
    role: str  # head | worker
    ip: str
    netns: str | None
    veth: str | None  # host side of the namespace's link
    gcs_port: int
    dashboard_port: int
    serve_port: int
    extra_ports: dict = field(default_factory=dict)
    pid: int | None = None
    log: str | None = None


@dataclass
class Plan:
    """Every node of both clusters, with names and addresses; derived from the options."""

    prefix: str  # short, unique per RAY101_HOME: namespaces, bridge and veths carry it
    netns: bool
    subnet: str | None
    bridge: str | None
    bridge_ip: str | None
    cpus: float
    workers: int
    object_store_mb: int
    nodes: list[Node]

    def cluster_nodes(self, cluster: str) -> list[Node]:
        return [n for n in self.nodes if n.cluster == cluster]

    def head(self, cluster: str) -> Node:
        return next(n for n in self.cluster_nodes(cluster) if n.role == "head")


def _prefix() -> str:
    return "r101" + hashlib.sha1(str(state.home()).encode()).hexdigest()[:4]


def can_use_netns() -> bool:
    return sys.platform.startswith("linux") and os.geteuid() == 0 and shutil.which("ip") is not None


def port_free(port: int) -> bool:
    """Nothing listens on ``port`` on any address of this machine (Ray binds 0.0.0.0)."""
    with socket.socket() as sock:
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def _loopback_nodes(layout: list[tuple[str, str, int]], slot: int) -> list[Node]:
    """The loopback nodes' ports in port slot ``slot`` (0 = Ray's defaults for the heads)."""
    nodes = []
    for index, (cluster, role, k) in enumerate(layout):
        c = 0 if cluster == SINGLE else 1
        nodes.append(Node(
            cluster=cluster, name=f"{cluster}-{'head' if role == 'head' else f'w{k}'}", role=role,
            ip=LOOPBACK_IP, netns=None, veth=None, gcs_port=GCS_PORT + LOOPBACK_SLOT * slot + c,
            dashboard_port=DASHBOARD_PORT + LOOPBACK_SLOT * slot + c,
            serve_port=SERVE_PORT + LOOPBACK_SLOT * slot + c,
            # Fixed defaults that two nodes on one host would both claim; the client server
            # port must also stay out of the worker port range (10002-19999).
            extra_ports={
                "dashboard-agent-listen-port": AGENT_PORT + 10 * index + LOOPBACK_AGENT_SLOT * slot,
                "ray-client-server-port": CLIENT_PORT + LOOPBACK_SLOT * slot + c,
            },
        ))
    return nodes


def _plan_ports(nodes: list[Node]) -> list[int]:
    return [p for n in nodes for p in (n.gcs_port, n.dashboard_port, n.serve_port,
                                       *n.extra_ports.values())]


def make_plan(cpus: float = 2, workers: int = 2, subnet: str | None = DEFAULT_SUBNET,
              netns: bool | None = None, object_store_mb: int = 300,
              is_free: Callable[[int], bool] = port_free) -> Plan:
    """Both clusters' nodes. On loopback, the first port slot whose ports ``is_free`` (so a
    second set of clusters, e.g. the tests' beside `make demo`, gets ports of its own)."""
    if cpus <= 0:
        raise Ray101Error(f"--cpus must be > 0, not {cpus:g}")
    if workers < 2:
        raise Ray101Error(f"--workers must be >= 2 (local-multi is a head and at least two workers), not {workers}")
    use_netns = can_use_netns() if netns is None else netns
    if use_netns and not can_use_netns():
        raise Ray101Error("network namespaces need root on Linux with iproute2 (`ip`); use --no-netns")
    prefix = _prefix()
    nodes: list[Node] = []
    layout = [(SINGLE, "head", 0)] + [(MULTI, "head", 0)] + [(MULTI, "worker", i + 1) for i in range(workers)]
    if use_netns:
        net = _parse_subnet(subnet or DEFAULT_SUBNET, needed=len(layout) + 2)
        hosts = list(net.hosts())
        bridge_ip = str(hosts[0])
        for index, (cluster, role, k) in enumerate(layout):
            short = "s" if cluster == SINGLE else "m"
            tag = f"{short}{k}"
            nodes.append(Node(
                cluster=cluster, name=f"{cluster}-{'head' if role == 'head' else f'w{k}'}",
                role=role, ip=str(hosts[index + 1]), netns=f"{prefix}-{tag}",
                veth=f"{prefix}-{tag}", gcs_port=GCS_PORT, dashboard_port=DASHBOARD_PORT,
                serve_port=SERVE_PORT,
            ))
        return Plan(prefix, True, str(net), f"{prefix}br", bridge_ip, cpus, workers,
                    object_store_mb, nodes)
    # Loopback: distinct ports per cluster, and per node where Ray's defaults are fixed.
    if workers + 1 > LOOPBACK_AGENT_SLOT // 10:
        raise Ray101Error(f"--workers must be at most {LOOPBACK_AGENT_SLOT // 10 - 1} on loopback")
    for slot in range(LOOPBACK_SLOTS):
        nodes = _loopback_nodes(layout, slot)
        if all(is_free(port) for port in _plan_ports(nodes)):
            return Plan(prefix, False, None, None, None, cpus, workers, object_store_mb, nodes)
    raise Ray101Error(
        f"no free ports for loopback clusters (tried {LOOPBACK_SLOTS} sets from {GCS_PORT}): "
        "stop other Ray clusters (`ray101 local down`) or run as root with network namespaces"
    )


def _parse_subnet(text: str, needed: int) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        raise Ray101Error(f"--subnet '{text}' is not a valid network: {exc}") from None
    if net.version != 4 or net.num_addresses - 2 < needed:
        raise Ray101Error(f"--subnet '{text}' must be an IPv4 network with at least {needed} hosts")
    return net


def _interface_networks() -> list[tuple[str, str, ipaddress.IPv4Network]]:
    """(interface, address/prefix, network) for every IPv4 address of this machine."""
    try:
        out = subprocess.run(["ip", "-j", "-4", "addr"], capture_output=True, text=True).stdout
        links = json.loads(out or "[]")
    except (OSError, ValueError):
        return []
    return [
        (link["ifname"], f"{a['local']}/{a['prefixlen']}",
         ipaddress.ip_network(f"{a['local']}/{a['prefixlen']}", strict=False))
        for link in links
        for a in link.get("addr_info", [])
    ]


def _interfaces_clashing(net: ipaddress.IPv4Network, own_bridge: str | None) -> list[str]:
    return [f"{name} ({addr})" for name, addr, other in _interface_networks()
            if name != own_bridge and other.overlaps(net)]


def free_subnet(start: int = 101) -> str:
    """The first 10.x.0.0/24, from x = start, that no interface of this machine uses (the
    tests and the benchmarks run their own clusters beside yours this way)."""
    used = [other for _, _, other in _interface_networks()]
    for second in list(range(start, 255)) + list(range(100, start)):
        net = ipaddress.ip_network(f"10.{second}.0.0/24")
        if not any(net.overlaps(u) for u in used):
            return str(net)
    raise Ray101Error("no free 10.x.0.0/24 subnet for the clusters' namespaces; pass --subnet")


# --- persisted state --------------------------------------------------------------------------
def _state_path() -> Path:
    return state.home() / "local" / "state.json"


def load() -> dict | None:
    path = _state_path()
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise Ray101Error(f"{path} is unreadable ({exc}); remove it after checking `ip netns`") from None


def _save(plan: Plan, extra: dict) -> None:
    data = {"plan": asdict(plan), **extra}
    state.atomic_write(_state_path(), json.dumps(data, indent=2) + "\n")


def _plan_from(data: dict) -> Plan:
    p = dict(data["plan"])
    p["nodes"] = [Node(**n) for n in p["nodes"]]
    return Plan(**p)


# --- the network ------------------------------------------------------------------------------
def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise Ray101Error(f"`ip {' '.join(args)}` failed: {proc.stderr.strip()}")
    return proc


def _link_exists(name: str) -> bool:
    return _ip("link", "show", name, check=False).returncode == 0


def _netns_exists(name: str) -> bool:
    return name in _ip("netns", "list", check=False).stdout.split()


def check_subnet(plan: Plan) -> None:
    clashes = _interfaces_clashing(ipaddress.ip_network(plan.subnet), plan.bridge)
    if clashes:
        raise Ray101Error(
            f"subnet {plan.subnet} overlaps {', '.join(clashes)}; pick another with --subnet"
        )


def setup_network(plan: Plan) -> None:
    """Bridge, namespaces and veth links; each step skipped when it is already in place."""
    net = ipaddress.ip_network(plan.subnet)
    check_subnet(plan)
    if not _link_exists(plan.bridge):
        _ip("link", "add", plan.bridge, "type", "bridge")
    _ip("addr", "replace", f"{plan.bridge_ip}/{net.prefixlen}", "dev", plan.bridge)
    _ip("link", "set", plan.bridge, "up")
    for node in plan.nodes:
        if not _netns_exists(node.netns):
            _ip("netns", "add", node.netns)
        if not _link_exists(node.veth):
            _ip("link", "add", node.veth, "type", "veth", "peer", "name", "eth0", "netns", node.netns)
        _ip("link", "set", node.veth, "master", plan.bridge, "up")
        _ip("-n", node.netns, "addr", "replace", f"{node.ip}/{net.prefixlen}", "dev", "eth0")
        _ip("-n", node.netns, "link", "set", "eth0", "up")
        _ip("-n", node.netns, "link", "set", "lo", "up")
        _ip("-n", node.netns, "route", "replace", "default", "via", plan.bridge_ip)


def teardown_network(plan: Plan) -> None:
    for node in plan.nodes:
        if node.netns and _netns_exists(node.netns):
            _kill_netns_processes(node.netns)
            _ip("netns", "del", node.netns, check=False)
        if node.veth and _link_exists(node.veth):
            _ip("link", "del", node.veth, check=False)
    if plan.bridge and _link_exists(plan.bridge):
        _ip("link", "del", plan.bridge, check=False)


def set_link(node: Node, up: bool) -> None:
    """Connect or cut a namespaced node's only link (used by `ray101 chaos partition`)."""
    if not node.veth:
        raise Ray101Error(f"node {node.name} has no link of its own (loopback cluster)")
    _ip("link", "set", node.veth, "up" if up else "down")


def _netns_pids(netns: str) -> list[int]:
    out = _ip("netns", "pids", netns, check=False).stdout
    return [int(p) for p in out.split() if p.isdigit()]


def _kill_netns_processes(netns: str, grace: float = 5.0) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = _netns_pids(netns)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.time() + grace
        while time.time() < deadline and _netns_pids(netns):
            time.sleep(0.1)


# --- Ray nodes ----------------------------------------------------------------------------------
def token_file() -> Path:
    """The clusters' auth token, created once (random, 0600)."""
    path = state.home() / "auth_token"
    if not path.exists() or not path.read_text().strip():
        state.atomic_write(path, secrets.token_hex(32) + "\n", mode=0o600)
    os.chmod(path, 0o600)
    return path


def _temp_dir(plan: Plan, node: Node) -> str:
    # Ray puts Unix sockets under it: keep it short (sun_path holds 107 bytes).
    return f"/tmp/{plan.prefix}/{node.cluster.replace('local-', '')}"


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
        "RAY101_CLUSTER": node.cluster,
        "PYTHONUNBUFFERED": "1",
    })
    # Raylets share their free resources every 100 ms by default, so a task spilled to a worker
    # node right after another one waits for the next report: ~80 ms on 1-second tasks (8%).
    # Every 10 ms brings warm parallel-retrieve to within 2% of the ideal (docs/performance.md).
    env.setdefault("RAY_raylet_report_resources_period_milliseconds", "10")
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


def node_alive(node: Node) -> bool:
    return bool(node.pid) and _pid_alive(node.pid)


def start_node(plan: Plan, node: Node, mongo_uri: str | None) -> None:
    logdir = state.home() / "local" / "logs"
    logdir.mkdir(parents=True, exist_ok=True)
    node.log = str(logdir / f"{node.name}.log")
    with open(node.log, "ab") as log:
        proc = subprocess.Popen(
            _ray_start_command(plan, node), stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env=_node_env(plan, node, mongo_uri),
            start_new_session=True,
        )
    node.pid = proc.pid


def stop_node(node: Node, grace: float = 10.0) -> None:
    """Stop the node's process group, then anything left in its namespace."""
    if node.pid:
        _kill_group(node.pid, grace)
    if node.netns and _netns_exists(node.netns):
        _kill_netns_processes(node.netns)
    node.pid = None


def kill_node(node: Node) -> None:
    """SIGKILL a node at once, as a crashed machine would die (`ray101 chaos kill-node`)."""
    if node.pid:
        _kill_group(node.pid, grace=0, first=signal.SIGKILL)
    if node.netns and _netns_exists(node.netns):
        _kill_netns_processes(node.netns, grace=2)


def _kill_group(pgid: int, grace: float, first: int = signal.SIGTERM) -> None:
    """Signal the process group and each of its descendants (a child may have left the group),
    escalating to SIGKILL after ``grace`` seconds."""
    try:
        import psutil

        members = [pgid] + [c.pid for c in psutil.Process(pgid).children(recursive=True)]
    except Exception:
        members = [pgid]
    for sig in (first, signal.SIGKILL):
        for send, target in [(os.killpg, pgid)] + [(os.kill, pid) for pid in members]:
            try:
                send(target, sig)
            except ProcessLookupError:
                pass
        deadline = time.time() + grace
        while time.time() < deadline and any(_pid_alive(p) for p in members):
            time.sleep(0.1)
        if not any(_pid_alive(p) for p in members):
            break
    _reap(members)


def _pid_alive(pid: int) -> bool:
    """Running, and not a zombie (exited, not yet reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _reap(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass


# --- readiness ---------------------------------------------------------------------------------
def jobs_url(plan: Plan, cluster: str) -> str:
    head = plan.head(cluster)
    return f"http://{head.ip}:{head.dashboard_port}"


def alive_node_rows(url: str, token: str, timeout: float = 3.0) -> list[dict] | None:
    """The cluster's alive nodes (``node_id``, ``node_ip``) per its State API, or None when it
    does not answer."""
    req = urllib.request.Request(
        f"{url}/api/v0/nodes?limit=1000&detail=false",
        headers={"Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = json.loads(resp.read())
    except (OSError, ValueError, urllib.error.URLError):
        return None
    rows = body.get("data", {}).get("result", {}).get("result", [])
    return [r for r in rows if r.get("state") == "ALIVE"]


def alive_nodes(url: str, token: str, timeout: float = 3.0) -> list[str] | None:
    """IPs of the cluster's alive nodes, or None when it does not answer."""
    rows = alive_node_rows(url, token, timeout)
    return None if rows is None else sorted(r["node_ip"] for r in rows)


def wait_ready(plan: Plan, cluster: str, token: str, timeout: float = 120.0) -> None:
    want = len(plan.cluster_nodes(cluster))
    url = jobs_url(plan, cluster)
    deadline = time.time() + timeout
    seen = None
    while time.time() < deadline:
        for node in plan.cluster_nodes(cluster):
            if not node_alive(node):
                raise Ray101Error(
                    f"Ray node {node.name} exited during start-up; see its log: {node.log}"
                )
        seen = alive_nodes(url, token)
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
def up(cpus: float = 2, workers: int = 2, subnet: str | None = DEFAULT_SUBNET,
       netns: bool | None = None, seed: bool = True, progress=print,
       mongo_port: int = MONGO_PORT) -> dict:
    """Start (or repair) MongoDB and both clusters; starts nothing that already runs."""
    from ray101 import mongo

    current = load()
    # With clusters recorded, their ports are ours (busy): keep the recorded nodes instead.
    plan = make_plan(cpus, workers, subnet, netns,
                     is_free=(lambda port: True) if current else port_free)
    if current:
        old = _plan_from(current)
        if (old.netns, old.subnet, old.cpus, old.workers) != (plan.netns, plan.subnet, plan.cpus, plan.workers):
            raise Ray101Error(
                "local clusters already exist with other settings "
                f"(netns={old.netns}, subnet={old.subnet}, cpus={old.cpus:g}, "
                f"workers={old.workers}); run `ray101 local down` first"
            )
        # Same nodes, addresses and ports as recorded; a node to (re)start rejoins there.
        plan.nodes = old.nodes
    if plan.netns:
        check_subnet(plan)  # before saying anything: a clash is the one line the user sees
        progress(f"network: bridge {plan.bridge} {plan.bridge_ip} on {plan.subnet}")
        setup_network(plan)
    mongo_host = plan.bridge_ip if plan.netns else "127.0.0.1"
    progress(f"MongoDB: starting on {mongo_host}:{mongo_port}")
    uri = mongo.ensure_running(host=mongo_host, port=mongo_port)
    if seed:
        from ray101_jobs import mflix

        report = mflix.seed(uri)
        progress(f"MongoDB: sample_mflix seeded ({_seed_summary(report)})")
    token = token_file().read_text().strip()
    _save(plan, {"mongo_uri_host": mongo_host})
    started = []
    for cluster in (SINGLE, MULTI):
        nodes = plan.cluster_nodes(cluster)
        head = nodes[0]
        if not node_alive(head):
            for node in nodes:  # a cluster without its head is restarted whole
                if node.pid:
                    stop_node(node)
        for node in nodes:
            if not node_alive(node):
                # One node at a time: nodes of a cluster share its temp dir, and raylets that
                # start together race for the same socket names there.
                start_node(plan, node, uri)
                started.append(node.name)
                _save(plan, {"mongo_uri_host": mongo_host})
                wait_for_node(plan, node, token)
    for cluster in (SINGLE, MULTI):
        wait_ready(plan, cluster, token)
        registry.register(target_for(plan, cluster))
        progress(f"{cluster}: {len(plan.cluster_nodes(cluster))} node(s) ready at {jobs_url(plan, cluster)}")
    return {"started": started, "plan": plan}


def _seed_summary(report) -> str:
    if isinstance(report, dict):
        return ", ".join(f"{k}={v}" for k, v in report.items() if not isinstance(v, dict)) or str(report)
    return str(report)


def wait_for_node(plan: Plan, node: Node, token: str, timeout: float = 90.0) -> None:
    """Wait until the cluster lists a node it did not list before, with ``node``'s IP.

    Node ids, not IPs: a node that just died is still listed as alive, under the same IP,
    until Ray's health checks give up on it.
    """
    url = jobs_url(plan, node.cluster)
    before = {r["node_id"] for r in alive_node_rows(url, token) or []} if node.role != "head" else set()
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not node_alive(node):
            raise Ray101Error(f"Ray node {node.name} exited during start-up; see {node.log}")
        rows = alive_node_rows(url, token) or []
        if any(r["node_id"] not in before and r["node_ip"] == node.ip for r in rows):
            return
        time.sleep(0.3)
    raise Ray101Error(f"Ray node {node.name} did not join within {timeout:.0f} s; see {node.log}")


def down(progress=print) -> list[str]:
    """Stop exactly what `up` started, remove namespaces and bridge. Fine when nothing runs."""
    from ray101 import mongo

    data = load()
    stopped = []
    if data:
        plan = _plan_from(data)
        for node in reversed(plan.nodes):  # workers before heads
            if node_alive(node) or (node.netns and _netns_exists(node.netns) and _netns_pids(node.netns)):
                stopped.append(node.name)
            stop_node(node)
        if plan.netns:
            teardown_network(plan)
        shutil.rmtree(f"/tmp/{plan.prefix}", ignore_errors=True)
    mongo.stop()
    for name in (SINGLE, MULTI):
        registry.unregister(name)
    _state_path().unlink(missing_ok=True)
    return stopped


def status() -> dict:
    data = load()
    if not data:
        return {"running": False, "clusters": {}}
    plan = _plan_from(data)
    token = token_file().read_text().strip()
    clusters = {}
    for cluster in (SINGLE, MULTI):
        url = jobs_url(plan, cluster)
        alive = alive_nodes(url, token)
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


def current_plan() -> Plan:
    data = load()
    if not data:
        raise Ray101Error("no local clusters: run `ray101 local up`")
    return _plan_from(data)


def save_plan(plan: Plan) -> None:
    data = load() or {}
    data.pop("plan", None)
    _save(plan, data)
