"""The local clusters' plan: every node of ``local-single`` and ``local-multi`` with its name,
address and ports (``make_plan``), and where it is recorded (``<RAY101_HOME>/local/state.json``).

As root on Linux every node gets a network namespace and an IP of its own on a bridge
(``network`` builds them); elsewhere (not root, or ``--no-netns``) the nodes share loopback
with distinct ports.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ray101 import state
from ray101.errors import Ray101Error

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
    started: str | None = None  # procs.start_time(pid): the pid is ours only while it matches
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
    # Checked on loopback too: a malformed --subnet is an error wherever the nodes end up.
    net = _parse_subnet(subnet or DEFAULT_SUBNET, needed=len(layout) + 2)
    if use_netns:
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
         ipaddress.IPv4Network(f"{a['local']}/{a['prefixlen']}", strict=False))
        for link in links
        for a in link.get("addr_info", [])
    ]


def interfaces_clashing(net: ipaddress.IPv4Network, own_bridge: str | None) -> list[str]:
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
def state_path() -> Path:
    return state.home() / "local" / "state.json"


def load() -> dict | None:
    path = state_path()
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise Ray101Error(f"{path} is unreadable ({exc}); remove it after checking `ip netns`") from None


def save(plan: Plan, extra: dict) -> None:
    data = {"plan": asdict(plan), **extra}
    state.atomic_write(state_path(), json.dumps(data, indent=2) + "\n")


def plan_from(data: dict) -> Plan:
    p = dict(data["plan"])
    p["nodes"] = [Node(**n) for n in p["nodes"]]
    return Plan(**p)


def jobs_url(plan: Plan, cluster: str) -> str:
    head = plan.head(cluster)
    return f"http://{head.ip}:{head.dashboard_port}"


def current_plan() -> Plan:
    data = load()
    if not data:
        raise Ray101Error("no local clusters: run `ray101 local up`")
    return plan_from(data)


def save_plan(plan: Plan) -> None:
    data = load() or {}
    data.pop("plan", None)
    save(plan, data)
