"""Helpers for the fault tests (no tests here): restore the shared lab, follow a CLI in the
background, poll with a bound. Every test that breaks the shared lab restores it in a `finally`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from conftest import RAY101, REPO, TEST_MONGO_PORT

# Planted in a MongoDB URI by test_faults_mongo; test_no_secret_leaks searches for it.
MONGO_PASSWORD = "Pw-ray101-never-print-7f3a"


def plan(lab) -> dict:
    return json.loads((lab.home / "local" / "state.json").read_text())["plan"]


def node(lab, name: str) -> dict:
    return next(n for n in plan(lab)["nodes"] if n["name"] == name)


def alive_in_ray(lab, cluster: str) -> int | None:
    """How many nodes the cluster's State API lists as ALIVE (None: it does not answer)."""
    head = next(n for n in plan(lab)["nodes"] if n["cluster"] == cluster and n["role"] == "head")
    req = urllib.request.Request(f"http://{head['ip']}:{head['dashboard_port']}/api/v0/nodes"
                                 "?limit=1000&detail=false",
                                 headers={"Authorization": f"Bearer {lab.token()}"})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            rows = json.loads(resp.read())["data"]["result"]["result"]
    except (OSError, ValueError, KeyError):
        return None
    return sum(1 for r in rows if r.get("state") == "ALIVE")


def restore(lab) -> None:
    """`ray101 local up` with the lab's own settings: brings back dead nodes and MongoDB.

    Then waits until Ray has also declared the killed node's old incarnation dead (same IP, so
    `local up` may see the new one join before that): later tests see exactly the planned nodes.
    """
    subnet = plan(lab)["subnet"]  # None on loopback
    lab.cli("local", "up", *(["--subnet", subnet] if subnet else []),
            "--mongo-port", str(TEST_MONGO_PORT), "--no-seed", timeout=300, check=True)
    for cluster in ("local-single", "local-multi"):
        want = sum(1 for n in plan(lab)["nodes"] if n["cluster"] == cluster)
        wait_for(f"{cluster} to list exactly {want} alive node(s)",
                 lambda cluster=cluster, want=want: alive_in_ray(lab, cluster) == want, 120, every=1)


def wait_for(what: str, check, timeout: float, every: float = 0.3):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def interruptible() -> None:
    """In the child, before exec: SIGINT does what Ctrl-C does, even when the suite itself was
    started with SIGINT ignored (as a shell starts a background job, `make test &`); Python
    raises KeyboardInterrupt only when SIGINT is not ignored at its start."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Background:
    """`ray101 ARGS` running in a subprocess, its output going to files we can read meanwhile."""

    def __init__(self, lab, *args: str, env: dict | None = None):
        self.lab = lab
        self.args = args
        self.dir = Path(tempfile.mkdtemp(prefix="bg-", dir=lab.home))
        self._out = open(self.dir / "stdout", "w")
        self._err = open(self.dir / "stderr", "w")
        self.proc = subprocess.Popen([*RAY101, *args], stdout=self._out, stderr=self._err,
                                     stdin=subprocess.DEVNULL, env={**lab.env, **(env or {})}, cwd=REPO,
                                     preexec_fn=interruptible)
        self._recorded = False

    @property
    def stdout(self) -> str:
        return (self.dir / "stdout").read_text()

    @property
    def stderr(self) -> str:
        return (self.dir / "stderr").read_text()

    def job_id(self, timeout: float = 60) -> str:
        line = wait_for("the job to be submitted", lambda: next(
            (x for x in self.stderr.splitlines() if x.startswith("Submitted ")), None), timeout)
        return line.rsplit(" ", 1)[1]

    def wait_output(self, text: str, timeout: float = 60) -> None:
        wait_for(f"{text!r} in the output", lambda: text in self.stdout, timeout)

    def signal(self, sig: int) -> None:
        os.kill(self.proc.pid, sig)

    def wait(self, timeout: float = 300) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self._finish()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)
        self._finish()

    def _finish(self) -> None:
        if self.proc.poll() is None or self._recorded:
            return
        self._out.close()
        self._err.close()
        self.lab.record(self.args, self.stdout, self.stderr)
        self._recorded = True


def stop_jobs_of(lab, cluster: str, run_id: str) -> None:
    """Stop whatever a killed `ray101` left running, so it does not load later tests."""
    listed = lab.cli("jobs", "list", "--cluster", cluster, "--json")
    if listed.returncode != 0:
        return
    for job in json.loads(listed.stdout):
        if run_id in job["job_id"] and job["status"] in ("PENDING", "RUNNING"):
            lab.cli("jobs", "stop", job["job_id"], "--cluster", cluster)


def job_status(lab, cluster: str, job_id: str) -> str:
    proc = lab.cli("jobs", "status", job_id, "--cluster", cluster, "--json", check=True)
    return json.loads(proc.stdout)["status"]


SIGINT = signal.SIGINT
