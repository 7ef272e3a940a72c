"""Runs survive a hiccup of the Jobs API: real local clusters, reached through a TCP proxy the
test controls (tests/tcp_proxy.py), which resets or stalls every connection for a few seconds.

A short hiccup is retried and the run succeeds; one longer than the client's patience
(RAY101_HEAD_PATIENCE_S) ends `run` with the job recorded as UNKNOWN under its id, and
`compare` goes on with the other jobs and writes its report, saying what is missing.
"""

from __future__ import annotations

import json
import re

import pytest

from tcp_proxy import DROP, STALL, TcpProxy
from test_faults_common import Background, job_status, stop_jobs_of, wait_for


def _head(lab, cluster: str) -> tuple[str, int]:
    rows = json.loads(lab.cli("clusters", "--json", "--no-k8s", check=True).stdout)
    url = next(r["jobs_url"] for r in rows if r["name"] == cluster)
    host, port = url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


@pytest.fixture
def proxy(lab):
    proxy = TcpProxy(*_head(lab, "local-single"))
    yield proxy
    proxy.close()


def _env(lab, **extra) -> dict:
    return {"RAY101_TOKEN_FILE": str(lab.token_file()), **extra}


def _running(lab, cluster: str, job_id: str) -> bool:
    return job_status(lab, cluster, job_id) == "RUNNING"


@pytest.mark.parametrize("mode, seconds", [(DROP, 5), (STALL, 12)])
def test_a_short_hiccup_during_run_is_retried_and_the_run_succeeds(lab, proxy, mode, seconds):
    run = Background(lab, "run", "sequential-retrieve", "--cluster", proxy.url, "-q",
                     "-p", "seconds=2", env=_env(lab))
    try:
        job_id = run.job_id()
        wait_for("the job to run", lambda: _running(lab, "local-single", job_id), 60)
        proxy.hiccup(mode, seconds)  # a stall longer than the 10 s request timeout
        assert run.wait(120) == 0, run.stderr
        assert "retrying (up to" in run.stderr
        assert f"job {job_id}" in run.stdout
        assert "Traceback" not in run.stderr
    finally:
        run.kill()


def test_a_hiccup_past_the_patience_records_the_run_as_unknown(lab, proxy):
    run = Background(lab, "run", "sequential-retrieve", "--cluster", proxy.url, "-q",
                     "-p", "seconds=2", env=_env(lab, RAY101_HEAD_PATIENCE_S="3"))
    try:
        job_id = run.job_id()
        wait_for("the job to run", lambda: _running(lab, "local-single", job_id), 60)
        proxy.set(DROP)
        assert run.wait(60) == 1
    finally:
        proxy.set("pass")
        run.kill()
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith(f"Error: job {job_id} UNKNOWN: cannot reach the Jobs API at {proxy.url}")
    assert last.endswith(f"retried for 3 s; the job may still be running: `ray101 jobs status "
                         f"{job_id} --cluster {proxy.url}`")
    assert "Traceback" not in run.stderr
    run_id = re.search(r"\d{8}-\d{6}-[0-9a-f]{4}", job_id).group(0)
    shown = json.loads(lab.cli("runs", "show", run_id, "--json", check=True).stdout)
    [entry] = shown["runs"]
    assert (entry["job_id"], entry["status"]) == (job_id, "UNKNOWN")
    # The job itself went on, unseen, and ended well: `jobs status` can tell later.
    assert wait_for("the job to end", lambda: job_status(lab, "local-single", job_id)
                    in ("SUCCEEDED", "FAILED", "STOPPED"), 60, every=1)
    assert job_status(lab, "local-single", job_id) == "SUCCEEDED"


def test_compare_goes_on_past_a_lost_cluster_and_writes_its_report(lab, proxy, tmp_path):
    out = tmp_path / "results"
    run = Background(lab, "compare", "--clusters", f"{proxy.url},local-multi",
                     "--workloads", "sequential-retrieve,task-dependencies", "--repeat", "1",
                     "--out", str(out), "--json",
                     env=_env(lab, RAY101_HEAD_PATIENCE_S="2"))
    try:
        def first_job_running() -> bool:
            listed = lab.cli("jobs", "list", "--cluster", "local-single", "--json")
            return any(j["status"] == "RUNNING" and j["metadata"].get("cluster") == proxy.url
                       for j in json.loads(listed.stdout or "[]"))

        wait_for("the first job to run", first_job_running, 90, every=0.5)
        proxy.set(DROP)  # lost for the rest of that cluster's jobs
        assert run.wait(300) == 1
    finally:
        proxy.set("pass")
        run.kill()
    data = json.loads(run.stdout)
    assert json.loads((out / "compare.json").read_text())["run_id"] == data["run_id"]
    by = {(r["workload"], r["cluster"]): r for r in data["runs"]}
    assert by[("sequential-retrieve", proxy.url)]["status"] == "UNKNOWN"
    assert by[("task-dependencies", proxy.url)]["status"] == "UNKNOWN"
    assert by[("sequential-retrieve", "local-multi")]["status"] == "SUCCEEDED"
    assert by[("task-dependencies", "local-multi")]["status"] == "SUCCEEDED"
    assert {m["workload"] for m in data["incomplete"]} == {"sequential-retrieve", "task-dependencies"}
    assert data["consistent"] is False
    assert "Incomplete: 2 job(s) ended UNKNOWN" in (out / "compare.md").read_text()
    assert run.stderr.strip().splitlines()[-1].startswith("Error: 2 run(s) did not succeed: ")
    stop_jobs_of(lab, "local-single", data["run_id"])
