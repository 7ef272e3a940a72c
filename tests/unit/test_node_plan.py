"""The node plan of `ray101 local up`: names, addresses and ports of both clusters, in network
namespaces (one IP per node) and on loopback (one IP, ports apart), and its input checks."""

import pytest

from ray101.errors import Ray101Error
from ray101.local import plan as localplan


def ports(plan) -> list[int]:
    return localplan._plan_ports(plan.nodes)


def test_namespaced_plan_gives_every_node_its_own_ip_on_the_subnet(monkeypatch):
    monkeypatch.setattr(localplan, "can_use_netns", lambda: True)  # the plan alone needs no root
    plan = localplan.make_plan(cpus=1.5, workers=3, subnet="10.150.0.0/24", netns=True)
    assert [n.name for n in plan.nodes] == ["local-single-head", "local-multi-head",
                                            "local-multi-w1", "local-multi-w2", "local-multi-w3"]
    assert plan.bridge_ip == "10.150.0.1"
    assert [n.ip for n in plan.nodes] == [f"10.150.0.{i}" for i in range(2, 7)]
    assert len({n.netns for n in plan.nodes}) == 5 and all(
        n.netns.startswith(plan.prefix) for n in plan.nodes)
    assert {(n.gcs_port, n.dashboard_port) for n in plan.nodes} == {(6379, 8265)}
    assert plan.head("local-multi").name == "local-multi-head"
    assert [n.name for n in plan.cluster_nodes("local-single")] == ["local-single-head"]


def test_loopback_plan_keeps_one_address_and_sets_clusters_apart_by_port():
    plan = localplan.make_plan(netns=False, is_free=lambda port: True)
    assert plan.netns is False and plan.subnet is None and plan.bridge is None
    assert {n.ip for n in plan.nodes} == {localplan.LOOPBACK_IP}
    assert localplan.LOOPBACK_IP != "127.0.0.1"  # Ray rewrites 127.0.0.1 to eth0's address
    single, multi = plan.head("local-single"), plan.head("local-multi")
    assert (single.gcs_port, single.dashboard_port, single.serve_port) == (6379, 8265, 8000)
    assert (multi.gcs_port, multi.dashboard_port, multi.serve_port) == (6380, 8266, 8001)
    agents = [n.extra_ports["dashboard-agent-listen-port"] for n in plan.nodes]
    assert len(set(agents)) == len(agents)  # one per node: they share the address
    clients = {n.extra_ports["ray-client-server-port"] for n in plan.nodes}
    assert not any(10002 <= p <= 19999 for p in clients)  # outside Ray's worker ports
    assert localplan.jobs_url(plan, "local-multi") == f"http://{localplan.LOOPBACK_IP}:8266"


def test_loopback_plan_moves_to_the_first_slot_whose_ports_are_all_free():
    taken = {8266}  # say `make demo`'s local-multi dashboard
    plan = localplan.make_plan(netns=False, is_free=lambda port: port not in taken)
    assert plan.head("local-single").gcs_port == 6379 + localplan.LOOPBACK_SLOT
    assert not set(ports(plan)) & taken
    first = localplan.make_plan(netns=False, is_free=lambda port: True)
    assert not set(ports(plan)) & set(ports(first))  # apart from the default slot as a whole
    with pytest.raises(Ray101Error, match="no free ports for loopback clusters"):
        localplan.make_plan(netns=False, is_free=lambda port: False)


@pytest.mark.parametrize("kwargs, message", [
    ({"cpus": 0}, "--cpus must be > 0, not 0"),
    ({"workers": 1}, "--workers must be >= 2 (local-multi is a head and at least two workers), "
                     "not 1"),
    ({"workers": 10}, "--workers must be at most 9 on loopback"),
])
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(Ray101Error) as err:
        localplan.make_plan(netns=False, is_free=lambda port: True, **kwargs)
    assert str(err.value) == message


def test_namespaces_without_root_are_refused_with_the_way_out(monkeypatch):
    monkeypatch.setattr(localplan, "can_use_netns", lambda: False)
    with pytest.raises(Ray101Error) as err:
        localplan.make_plan(netns=True)
    assert str(err.value) == ("network namespaces need root on Linux with iproute2 (`ip`); "
                              "use --no-netns")


def test_a_plan_survives_its_state_file(loopback_lab):
    assert localplan.current_plan() == loopback_lab


@pytest.mark.parametrize("netns", [True, False])
def test_a_bad_subnet_is_refused_with_or_without_namespaces(monkeypatch, netns):
    monkeypatch.setattr(localplan, "can_use_netns", lambda: True)
    with pytest.raises(Ray101Error, match="^--subnet '10.0.0.0/30' must be an IPv4 network with "
                                          "at least 6 hosts$"):
        localplan.make_plan(subnet="10.0.0.0/30", netns=netns, is_free=lambda port: True)
