"""k8s-auto, the autoscaling RayCluster, as the CLI sees it, against the FAKE Kubernetes API server
(tests/fake_kube_api.py) serving the RayCluster the chart renders with clusters.auto.enabled=true.
Scale-up and scale-down for real: tests/k8s/kuberay_native.py."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import fake_kube_api as fk
from chartlib import render
from ray101.kube import readiness
from ray101.kube.autoscale import epoch
from ray101.kube.client import client
from ray101.kube.discovery import find
from ray101.main import cli

TOKEN = "tok-auto-0a1b2c3d4e5f60718293a4b5c6d7e8f9"


def auto_raycluster(status: dict) -> dict:
    rc = render(None, "clusters.auto.enabled=true").rayclusters()["auto"]
    rc["status"] = status
    return rc


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """What `make deploy` leaves (fk.deployed) plus k8s-auto, ready with its head and no worker."""
    with fk.deployed(tmp_path, monkeypatch, TOKEN) as api:
        api.add(auto_raycluster(fk.ready_status(0)))
        api.add(fk.pod("ray101-auto-head-q8z2m", "ray101-auto", "head"))
        yield api


def test_clusters_lists_k8s_auto_with_its_range_of_workers(fake):
    result = CliRunner().invoke(cli, ["clusters", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)}
    auto = rows["k8s-auto"]
    assert auto["topology"] == "auto" and auto["nodes"] == 1 and auto["cpus"] == 2
    assert (auto["min_workers"], auto["max_workers"], auto["idle_timeout_s"]) == (0, 2, 30)
    assert rows["k8s-multi"]["max_workers"] is None and rows["k8s-multi"]["topology"] == "multi"
    table = CliRunner().invoke(cli, ["clusters", "--no-k8s"], catch_exceptions=False)
    assert "k8s-auto" not in table.output
    text = CliRunner(env={"COLUMNS": "200"}).invoke(cli, ["clusters"], catch_exceptions=False).output
    line = next(line for line in text.splitlines() if "k8s-auto" in line)
    assert "1-3" in line and "idle workers go after 30 s" in line, line


def test_an_autoscaling_cluster_is_ready_with_its_head_while_a_worker_waits_for_cpus(fake, monkeypatch):
    """The autoscaler asked for a worker that no node can take yet: for k8s-multi that is an
    error after a grace; for k8s-auto it is the autoscaler's business, and jobs can start."""
    key = ("ray101", "ray101-auto")
    fake.rayclusters[key]["status"] = {**fk.ready_status(1), "readyWorkerReplicas": 0,
                                       "availableWorkerReplicas": 0}
    fake.add(fk.pod("ray101-auto-workers-worker-7xk2p", "ray101-auto", "worker", ready=False,
                    unschedulable="0/1 nodes are available: 1 Insufficient cpu."))
    monkeypatch.setattr(readiness, "UNSCHEDULABLE_GRACE_S", 0.0)
    head = readiness.wait_ready(client(), find("k8s-auto"), timeout=5)
    assert head["metadata"]["name"] == "ray101-auto-head-q8z2m"
    # the same Pending worker in a fixed-size cluster is an error at once
    fake.add(fk.pod("ray101-multi-workers-worker-zz9qq", "ray101-multi", "worker", ready=False,
                    unschedulable="0/1 nodes are available: 1 Insufficient cpu."))
    with pytest.raises(Exception, match="not enough cpu"):
        readiness.wait_ready(client(), find("k8s-multi"), timeout=5)


def test_kubernetes_timestamps_read_as_epoch_seconds():
    assert epoch("1970-01-01T00:01:40Z") == 100.0
    assert epoch(None) is None
