"""`ray101 local up` / `down`: idempotent, self-repairing, and leaving nothing behind.

Uses its own state directory, subnet and MongoDB port, apart from the shared session clusters.
"""

import json
import os
import signal
import subprocess
import time

import pytest

from conftest import NEEDS_ROOT, TEST_MONGO_PORT, free_subnet, make_lab
from ray101.local.plan import can_use_netns


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().split(")")[-1].split()[0] != "Z"


def _state(lab) -> dict:
    return json.loads((lab.home / "local" / "state.json").read_text())


def _netns_names() -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def _links() -> str:
    return subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def own_lab():
    lab = make_lab("l")
    yield lab
    lab.cli("local", "down", timeout=300)


def test_up_is_idempotent_repairs_a_dead_node_and_down_leaves_nothing(own_lab):
    lab = own_lab
    nothing = lab.cli("local", "down")
    assert nothing.returncode == 0 and "nothing was running" in nothing.stdout

    args = ["local", "up", "--cpus", "1", "--subnet", free_subnet(150), "--mongo-port", str(TEST_MONGO_PORT + 1),
            "--no-seed"]
    first = lab.cli(*args, timeout=600, check=True)
    assert "started: local-single-head, local-multi-head, local-multi-w1, local-multi-w2" in first.stdout
    plan = _state(lab)["plan"]
    pids = {n["name"]: n["pid"] for n in plan["nodes"]}
    assert all(_alive(p) for p in pids.values())

    again = lab.cli(*args, timeout=600, check=True)
    assert "everything was already up" in again.stdout
    assert {n["name"]: n["pid"] for n in _state(lab)["plan"]["nodes"]} == pids

    os.killpg(pids["local-multi-w1"], signal.SIGKILL)  # a worker node dies
    deadline = time.time() + 30
    while time.time() < deadline and _alive(pids["local-multi-w1"]):
        time.sleep(0.2)
    status = json.loads(lab.cli("local", "status", "--json", check=True).stdout)
    w1 = next(n for n in status["clusters"]["local-multi"]["nodes"] if n["name"] == "local-multi-w1")
    assert w1["running"] is False

    repaired = lab.cli(*args, timeout=600, check=True)
    assert "started: local-multi-w1" in repaired.stdout
    after = {n["name"]: n["pid"] for n in _state(lab)["plan"]["nodes"]}
    assert after["local-multi-w1"] != pids["local-multi-w1"]
    assert {k: v for k, v in after.items() if k != "local-multi-w1"} == {
        k: v for k, v in pids.items() if k != "local-multi-w1"}
    status = json.loads(lab.cli("local", "status", "--json", check=True).stdout)
    assert all(n["running"] and n["in_ray"] for c in status["clusters"].values() for n in c["nodes"])

    prefix, netns = plan["prefix"], plan["netns"]
    mongo_pid = json.loads((lab.home / "mongo" / "server.json").read_text()).get("pid")
    down = lab.cli("local", "down", timeout=300, check=True)
    assert "local-multi-w1" in down.stdout and "local-single-head" in down.stdout
    assert not any(_alive(p) for p in after.values())
    if mongo_pid:
        assert not _alive(mongo_pid)
    if netns:
        assert not [n for n in _netns_names() if n.startswith(prefix)]
        assert prefix not in _links()
    assert not (lab.home / "local" / "state.json").exists()
    clusters = json.loads(lab.cli("clusters", "--json", "--no-k8s", check=True).stdout)
    assert clusters == []

    twice = lab.cli("local", "down")
    assert twice.returncode == 0 and "nothing was running" in twice.stdout


def test_up_rejects_a_subnet_that_clashes_with_an_interface(own_lab):
    if not can_use_netns():
        pytest.skip(NEEDS_ROOT)
    proc = own_lab.cli("local", "up", "--subnet", "127.0.0.0/24")
    assert proc.returncode == 1
    assert proc.stderr.startswith("Error: subnet 127.0.0.0/24 overlaps lo (127.0.0.1/8)")
    assert not (own_lab.home / "local" / "state.json").exists()
