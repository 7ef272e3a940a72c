"""Worker nodes killed or cut off while workloads run on the real local-multi cluster.

Each test that breaks a node brings it back with `ray101 local up` in a `finally`.
"""

import json
import os

import pytest

from conftest import needs_netns
from test_faults_common import Background, node, restore, wait_for
from test_json_shapes import assert_shape

MULTI = "local-multi"


def _alive_workers(lab) -> list[dict]:
    status = json.loads(lab.cli("local", "status", "--json", check=True).stdout)
    return [n for n in status["clusters"][MULTI]["nodes"]
            if n["role"] == "worker" and n["running"] and n["in_ray"]]


def _entry(lab, job_id: str) -> dict:
    [path] = list((lab.home / "runs").glob(f"*/{job_id}.json"))
    return json.loads(path.read_text())


def test_a_worker_killed_during_parallel_retrieve_costs_time_not_the_result(lab):
    clean = lab.cli("run", "parallel-retrieve", "--cluster", MULTI, "-p", "items=12",
                    "-p", "seconds=0", "--json", check=True)
    expected = json.loads(clean.stdout)[0]["output"]
    run = Background(lab, "run", "parallel-retrieve", "--cluster", MULTI, "-p", "items=12",
                     "-p", "seconds=4", "--repeat", "2")
    try:
        job_id = run.job_id()
        run.wait_output("== parallel-retrieve on 3 node(s)")
        kill = lab.cli("chaos", "kill-node", "--cluster", MULTI, "--json", check=True)
        killed = json.loads(kill.stdout)
        assert_shape("chaos kill-node", killed)
        assert killed["node"].startswith("local-multi-w") and killed["action"] == "SIGKILL"
        assert run.wait(240) == 0, run.stderr
        entry = _entry(lab, job_id)
        assert entry["status"] == "SUCCEEDED"
        assert entry["output"] == expected  # exactly the clean run's output
    finally:
        run.kill()
        restore(lab)
    assert len(_alive_workers(lab)) == 2  # `local up` brought the node back


@needs_netns  # the actor is placed by node IP
def test_actor_counter_fails_clearly_when_its_node_dies(lab):
    worker = node(lab, "local-multi-w2")
    run = Background(lab, "run", "actor-counter", "--cluster", MULTI, "-p", "count=40",
                     "-p", "seconds=1", "-p", f"node={worker['ip']}")
    try:
        run.job_id()
        run.wait_output("== actor-counter on")
        lab.cli("chaos", "kill-node", "--cluster", MULTI, "--node", worker["name"], check=True)
        assert run.wait(120) == 1
        err = run.stderr.strip().splitlines()[-1]
        assert err.startswith("Error: job ray101-actor-counter-local-multi-")
        assert "FAILED, driver exit code 1: RuntimeError: the Counter actor died (its node was " \
               "lost?); it is not restarted, because a restarted counter would restart from " \
               "zero" in err
        assert "Traceback" not in run.stderr
    finally:
        run.kill()
        restore(lab)
    assert len(_alive_workers(lab)) == 2


def test_actor_counter_placed_on_an_unknown_node_fails_with_the_known_ones(lab):
    proc = lab.cli("run", "actor-counter", "--cluster", MULTI, "-p", "node=10.255.255.254", "-q")
    assert proc.returncode == 1
    assert "ValueError: no alive Ray node has IP 10.255.255.254 (alive: " in proc.stderr


@needs_netns
def test_a_short_partition_is_harmless(lab):
    worker = node(lab, "local-multi-w1")
    try:
        proc = lab.cli("chaos", "partition", "--cluster", MULTI, "--node", worker["name"],
                       "--seconds", "5", "--json", check=True)
        info = json.loads(proc.stdout)
        assert_shape("chaos partition", info)
        assert info["in_ray_after"] is True and info["interrupted"] is False
        after = lab.cli("run", "task-dependencies", "--cluster", MULTI, "-p", "tasks=6",
                        "-p", "seconds=0.5", "--json", check=True)
        assert json.loads(after.stdout)[0]["output"] == 30
        assert worker["name"] in [n["name"] for n in _alive_workers(lab)]
    finally:
        restore(lab)


@needs_netns
def test_a_partition_interrupted_by_sigint_restores_the_link(lab):
    worker = node(lab, "local-multi-w2")
    part = Background(lab, "chaos", "partition", "--cluster", MULTI, "--node", worker["name"],
                      "--seconds", "120")
    try:
        wait_for("the cut", lambda: "cut off for" in part.stderr, 30)
        part.signal(2)
        assert part.wait(30) == 130
        assert "Interrupted: the link is back up." in part.stderr
        link = os.popen(f"ip -o link show {worker['veth']}").read()
        assert "state DOWN" not in link and ",UP" in link
    finally:
        part.kill()
        restore(lab)


@needs_netns
@pytest.mark.skipif(not os.environ.get("RAY101_SLOW_FAULTS"),
                    reason="takes ~90 s: set RAY101_SLOW_FAULTS=1 (docs/reliability.md has numbers)")
def test_a_partition_longer_than_the_health_checks_gets_the_node_declared_dead(lab):
    worker = node(lab, "local-multi-w1")
    try:
        proc = lab.cli("chaos", "partition", "--cluster", MULTI, "--node", worker["name"],
                       "--seconds", "75", "--json", check=True)
        assert json.loads(proc.stdout)["in_ray_after"] is False
    finally:
        restore(lab)
    assert len(_alive_workers(lab)) == 2
