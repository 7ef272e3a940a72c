"""The local clusters' network, as root on Linux: a bridge, a namespace per Ray node and a
veth link each (``setup_network``/``teardown_network``); ``set_link`` cuts and restores a
node's link for ``ray101 chaos partition``."""

from __future__ import annotations

import ipaddress
import signal
import subprocess

from ray101 import procs
from ray101.errors import Ray101Error
from ray101.local.plan import Node, Plan, interfaces_clashing


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise Ray101Error(f"`ip {' '.join(args)}` failed: {proc.stderr.strip()}")
    return proc


def _link_exists(name: str) -> bool:
    return _ip("link", "show", name, check=False).returncode == 0


def netns_exists(name: str) -> bool:
    return name in _ip("netns", "list", check=False).stdout.split()


def _network(plan: Plan) -> tuple[ipaddress.IPv4Network, str, str]:
    """The namespaced plan's subnet, bridge and bridge address (a loopback plan has none)."""
    if not (plan.netns and plan.subnet and plan.bridge and plan.bridge_ip):
        raise Ray101Error("the local clusters run on loopback: they have no network to set up")
    return ipaddress.IPv4Network(plan.subnet), plan.bridge, plan.bridge_ip


def _namespaced(node: Node) -> tuple[str, str]:
    """The node's namespace and host-side link."""
    if not (node.netns and node.veth):
        raise Ray101Error(f"node {node.name} has no namespace of its own (loopback cluster)")
    return node.netns, node.veth


def check_subnet(plan: Plan) -> None:
    net, bridge, _ = _network(plan)
    clashes = interfaces_clashing(net, bridge)
    if clashes:
        raise Ray101Error(
            f"subnet {plan.subnet} overlaps {', '.join(clashes)}; pick another with --subnet"
        )


def setup_network(plan: Plan) -> None:
    """Bridge, namespaces and veth links; each step skipped when it is already in place."""
    net, bridge, bridge_ip = _network(plan)
    check_subnet(plan)
    if not _link_exists(bridge):
        _ip("link", "add", bridge, "type", "bridge")
    _ip("addr", "replace", f"{bridge_ip}/{net.prefixlen}", "dev", bridge)
    _ip("link", "set", bridge, "up")
    for node in plan.nodes:
        netns, veth = _namespaced(node)
        if not netns_exists(netns):
            _ip("netns", "add", netns)
        if not _link_exists(veth):
            _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns)
        _ip("link", "set", veth, "master", bridge, "up")
        _ip("-n", netns, "addr", "replace", f"{node.ip}/{net.prefixlen}", "dev", "eth0")
        _ip("-n", netns, "link", "set", "eth0", "up")
        _ip("-n", netns, "link", "set", "lo", "up")
        _ip("-n", netns, "route", "replace", "default", "via", bridge_ip)


def teardown_network(plan: Plan) -> None:
    for node in plan.nodes:
        if node.netns and netns_exists(node.netns):
            kill_netns_processes(node.netns)
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


def netns_pids(netns: str) -> list[int]:
    out = _ip("netns", "pids", netns, check=False).stdout
    return [int(p) for p in out.split() if p.isdigit()]


def kill_netns_processes(netns: str, grace: float = 5.0, first: int = signal.SIGTERM) -> None:
    """Stop whatever runs in the namespace ``netns``, TERM-then-KILL (and whatever started there
    meanwhile)."""
    procs.terminate(netns_pids(netns), grace, first)
    leftover = netns_pids(netns)
    if leftover:
        procs.terminate(leftover, 0, signal.SIGKILL)
