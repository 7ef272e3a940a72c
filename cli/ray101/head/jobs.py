"""Jobs on a Ray head, as ray101 uses them: submit a workload, follow it, stop it, read its result.

Everything goes through the one :class:`~ray101.head.client.HeadClient`. One poll loop,
:meth:`JobsAPI.poll`, serves following a job (``run``, ``compare``, ``jobs logs --follow``),
waiting for its end (``jobs stop``) and the benchmarks; polling notices the end of a job at once
instead of waiting for a log stream to close. A head that stops answering for longer than the
client's patience ends the follow with status ``UNKNOWN`` and the job's id, not a traceback:
the job may still be running, and ``ray101 jobs status`` can ask again later.
"""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ray101 import __version__
from ray101.head.client import HeadClient, HeadUnreachable, warn_on_version_mismatch
from ray101.models import Connection

if TYPE_CHECKING:
    from ray101_jobs.common import Workload

TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}
UNKNOWN = "UNKNOWN"  # ray101 lost contact with the head: the job's end is not known
POLL_S = 0.2
# Through a port-forward every new TCP connection is a new stream through the API server and the
# kubelet: poll less often there (the end of a job is still seen within a second).
POLL_FORWARDED_S = 1.0
STOP_WAIT_S = 15.0  # after stopping a job at its deadline, how long to wait for its end

OnStatus = Callable[[str, str, float], None]  # (job id, status, seconds since started)


@dataclass(frozen=True)
class JobInfo:
    """One job as ``GET /api/jobs/<id>`` describes it (the fields ray101 reads)."""

    job_id: str | None
    submission_id: str | None
    status: str
    entrypoint: str | None = None
    message: str | None = None
    metadata: dict = field(default_factory=dict)
    driver_exit_code: int | None = None
    start_time: int | None = None
    end_time: int | None = None

    @classmethod
    def from_json(cls, d: dict) -> JobInfo:
        return cls(job_id=d.get("job_id"), submission_id=d.get("submission_id"),
                   status=str(d.get("status")), entrypoint=d.get("entrypoint"),
                   message=d.get("message"), metadata=d.get("metadata") or {},
                   driver_exit_code=d.get("driver_exit_code"), start_time=d.get("start_time"),
                   end_time=d.get("end_time"))

    def details(self) -> dict:
        """What ``ray101 jobs list|status --json`` prints."""
        return {"job_id": self.submission_id or self.job_id, "status": self.status,
                "entrypoint": self.entrypoint, "metadata": self.metadata, "message": self.message,
                "driver_exit_code": self.driver_exit_code, "start_time": self.start_time,
                "end_time": self.end_time}


@dataclass
class JobOutcome:
    job_id: str
    status: str
    message: str | None
    driver_exit_code: int | None
    logs: str
    result: dict | None  # the job's RAY101_RESULT record (or its RAY101_ERROR record)
    seconds: float = 0.0  # submission to terminal state, as the CLI saw it
    deadline_hit: bool = False  # stopped by ray101 at its deadline

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"

    def error_line(self) -> str:
        """One line saying why the job did not succeed."""
        if self.result and "error" in self.result:
            reason = self.result["error"]
        else:
            reason = (self.message or "no message").strip().splitlines()[0]
        code = "" if self.driver_exit_code is None else f", driver exit code {self.driver_exit_code}"
        return f"job {self.job_id} {self.status}{code}: {reason}"


@dataclass
class Polled:
    """Where :meth:`JobsAPI.poll` stopped: the job's last info, and whether time ran out."""

    info: JobInfo
    timed_out: bool
    shown: int  # characters of log passed to on_log


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "cluster"


def job_name(workload: str, cluster: str, topology: str, repeat: str | None = None) -> str:
    """The name the Ray dashboard shows in its jobs list (its Name column and filter)."""
    shape = f"{topology}-node" if topology in ("single", "multi") else topology
    name = f"{workload} on {cluster} ({shape}"
    return name + (f", repeat {repeat})" if repeat else ")")


def submission_id(name: str, cluster: str, run_id: str, index: int = 0) -> str:
    """The id ray101 gives a job before submitting it (so a lost answer loses nothing)."""
    return f"ray101-{name}-{slug(cluster)}-{run_id}-{index}"


class JobsAPI:
    """One cluster's Jobs API, reached through ``conn``."""

    via = "jobs-api"  # how jobs are submitted (kube.rayjob.RayJobSubmitter: "rayjob")

    def __init__(self, conn: Connection, client: HeadClient | None = None):
        self.conn = conn
        self.url = conn.jobs_url
        self._client = client
        self.poll_s = POLL_FORWARDED_S if conn.via else POLL_S

    @property
    def client(self) -> HeadClient:
        """The head's client, connected (and its Ray version checked) on first use."""
        if self._client is None:
            client = HeadClient(self.url, self.conn.token, cluster=self.conn.target.name)
            version = client.version()
            warn_on_version_mismatch(self.conn.target.name, version.get("ray_version"))
            self._client = client
        return self._client

    # -- jobs ----------------------------------------------------------------------------------
    def submit(self, workload: Workload, params: dict, repeat: int, run_id: str, index: int = 0) -> str:
        """Submit one workload; returns its submission id. Secrets never go into it."""
        return self.submit_module(
            workload.name, workload.module, workload.argv(params, repeat), run_id, index,
            {"repeat": str(repeat)},
        )

    def submit_module(self, name: str, module: str, argv: list[str], run_id: str,
                      index: int = 0, metadata: dict | None = None) -> str:
        """Submit ``python -m module argv...`` tagged as ``name`` (a workload or a chore)."""
        target = self.conn.target
        topology = target.topology or "unknown"
        tags = {
            "job_name": job_name(name, target.name, topology, (metadata or {}).get("repeat")),
            "workload": name,
            "cluster": target.name,
            "topology": topology,
            "run_id": run_id,
            "ray101_version": __version__,
            **(metadata or {}),
        }
        return self.submit_entrypoint(shlex.join(["python", "-m", module, *argv]),
                                      submission_id(name, target.name, run_id, index), tags,
                                      self.conn.runtime_env)

    def submit_entrypoint(self, entrypoint: str, job_id: str, metadata: dict | None = None,
                          runtime_env: dict | None = None) -> str:
        """Submit any entrypoint as ``job_id`` (the benchmarks submit their own scripts)."""
        body: dict = {"entrypoint": entrypoint, "submission_id": job_id,
                      "entrypoint_num_cpus": 0, "metadata": metadata or {}}
        if runtime_env:
            body["runtime_env"] = runtime_env
        try:
            return self.client.submit_job(body)
        except KeyboardInterrupt:
            # Interrupted mid-request: the job may exist already; its id is known, so stop it.
            try:
                self.client.stop_job(job_id)
            except Exception:
                pass
            raise

    def info(self, job_id: str) -> JobInfo:
        return JobInfo.from_json(self.client.get_job(job_id))

    def logs(self, job_id: str) -> str:
        return self.client.get_logs(job_id)

    def stop(self, job_id: str) -> bool:
        return self.client.stop_job(job_id)

    def facts(self, job_id: str) -> dict:
        """What this way in adds to the job's record (a RayJob's own cluster: its start)."""
        return {}

    def delete(self, job_id: str, settle_s: float = 3.0) -> bool:
        """Delete a finished job, and keep it deleted.

        Right after a job ends, Ray's job monitor may still be watching its supervisor actor;
        when that actor exits it can write the job back (as FAILED, "supervisor actor died")
        after our delete. So watch for ``settle_s`` seconds and delete a record that reappears.
        """
        deleted = self.client.delete_job(job_id)
        end = time.monotonic() + settle_s
        while time.monotonic() < end:
            time.sleep(self.poll_s)
            if self.client.exists(job_id):
                self.client.delete_job(job_id)
        return deleted

    def list(self) -> list[JobInfo]:
        return [JobInfo.from_json(d) for d in self.client.list_jobs()]

    # -- the one poll loop ---------------------------------------------------------------------
    def poll(self, job_id: str, timeout: float | None = None, started: float | None = None,
             on_status: OnStatus | None = None, on_log: Callable[[str], None] | None = None,
             every: float | None = None, shown: int = 0) -> Polled:
        """Poll the job every ``every`` seconds (default: this connection's pace) until it ends
        or ``timeout`` seconds pass since ``started``. On every poll ``on_status`` hears
        ``(job_id, status, seconds since started)`` and ``on_log`` the log text not passed yet
        (from character ``shown`` on). Raises :class:`HeadUnreachable` past the patience."""
        started = time.monotonic() if started is None else started
        every = self.poll_s if every is None else every
        while True:
            info = self.info(job_id)
            if on_status is not None:
                on_status(job_id, info.status, time.monotonic() - started)
            if on_log is not None:
                text = self.logs(job_id)
                if len(text) > shown:
                    on_log(text[shown:])
                    shown = len(text)
            if info.status in TERMINAL:
                return Polled(info, False, shown)
            if timeout is not None and time.monotonic() - started >= timeout:
                return Polled(info, True, shown)
            time.sleep(every)

    def follow(self, job_id: str, on_log: Callable[[str], None] | None = None,
               timeout: float | None = None, started: float | None = None,
               on_status: OnStatus | None = None) -> JobOutcome:
        """Poll until the job ends (passing new log text to ``on_log``); at ``timeout`` seconds
        stop it and report it STOPPED (deadline reached). A head that stays silent past the
        client's patience makes the outcome ``UNKNOWN``, with what was seen until then."""
        from ray101_jobs.common import parse_result

        started = time.monotonic() if started is None else started
        seen = {"logs": ""}

        def keep(chunk: str) -> None:
            seen["logs"] += chunk
            if on_log is not None:
                on_log(chunk)

        tail = keep if on_log is not None else None  # logs read on every poll only when shown
        deadline_hit = False
        try:
            polled = self.poll(job_id, timeout, started, on_status, tail)
            if polled.timed_out:
                deadline_hit = True
                self.stop(job_id)
                polled = self.poll(job_id, STOP_WAIT_S, None, None, tail, shown=polled.shown)
            logs = self.logs(job_id)
            if len(logs) > polled.shown:
                keep(logs[polled.shown:])
        except HeadUnreachable as exc:
            return JobOutcome(
                job_id=job_id, status=UNKNOWN, driver_exit_code=None, logs=seen["logs"],
                message=(f"{exc.message}; the job may still be running: "
                         f"`ray101 jobs status {job_id} --cluster {self.conn.target.name}`"),
                result=None, seconds=time.monotonic() - started)
        info = polled.info
        message = info.message
        if deadline_hit:
            message = f"deadline of {timeout:g} s reached; the job was stopped"
        return JobOutcome(
            job_id=job_id, status=info.status, message=message,
            driver_exit_code=info.driver_exit_code, logs=logs, result=parse_result(logs),
            seconds=time.monotonic() - started, deadline_hit=deadline_hit,
        )

    def wait_terminal(self, job_id: str, seconds: float, on_status: OnStatus | None = None) -> str:
        """Poll until the job ends or ``seconds`` pass; returns its last status."""
        return self.poll(job_id, seconds, on_status=on_status).info.status
