"""The local clusters' network, as root on Linux: a bridge, a namespace per Ray node and a
veth link each (``setup_network``/``teardown_network``); ``set_link`` cuts and restores a
node's link for ``ray101 chaos partition``."""

from __future__ import annotations

import ipaddress
import signal
import subprocess

from ray101 import procs
from ray101.errors import Ray101Error
from ray101.localplan import Node, Plan, interfaces_clashing


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise Ray101Error(f"`ip {' '.join(args)}` failed: {proc.stderr.strip()}")
    return proc


def _link_exists(name: str) -> bool:
    return _ip("link", "show", name, check=False).returncode == 0


def netns_exists(name: str) -> bool:
    return name in _ip("netns", "list", check=False).stdout.split()


def check_subnet(plan: Plan) -> None:
    clashes = interfaces_clashing(ipaddress.ip_network(plan.subnet), plan.bridge)
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
        if not netns_exists(node.netns):
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
