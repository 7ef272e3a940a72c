"""The Ray Jobs API as ray101 uses it: submit a workload, follow it, stop it, read its result.

Speaks the Jobs API's REST endpoints (``/api/jobs/``, the ones ``ray.job_submission.
JobSubmissionClient`` calls) with one keep-alive ``requests`` session, adding what a user needs
from a CLI: a request timeout (the SDK has none), errors turned into one readable line
(unreachable, wrong token, unknown job), and following by polling, which notices the end of a job
at once instead of waiting for a log stream to close. Not the SDK itself: importing it imports
all of Ray, about 0.6 s of every ``ray101 run`` (docs/performance.md, section 2).
"""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ray101 import __version__
from ray101.errors import Ray101Error
from ray101.models import Connection

if TYPE_CHECKING:
    from ray101_jobs.common import Workload

TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}
REQUEST_TIMEOUT_S = 10.0
POLL_S = 0.2
# Through a port-forward every new TCP connection is a new stream through the API server and the
# kubelet: poll less often there (the end of a job is still seen within a second).
POLL_FORWARDED_S = 1.0


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


class JobsClient:
    """The Jobs API's REST endpoints over one keep-alive session (through a port-forward a new
    connection per request would be a new stream each time); every request gives up after
    ``REQUEST_TIMEOUT_S``. Errors read as the SDK's: ``Request failed with status code N: ...``."""

    def __init__(self, url: str, headers: dict | None = None):
        import requests

        self.url = url.rstrip("/")
        self.session = requests.Session()
        self.session.headers.update(headers or {})
        self._sdk: Any = None  # Ray's JobSubmissionClient, made the first time a package is uploaded
        version = self._request("GET", "/api/version")
        self.server_ray_version = version.get("ray_version")

    def _request(self, method: str, path: str, json_body: Any = None) -> Any:
        response = self.session.request(method, self.url + path, json=json_body,
                                         timeout=REQUEST_TIMEOUT_S)
        if response.status_code != 200:
            raise RuntimeError(f"Request failed with status code {response.status_code}: {response.text}.")
        return response.json()

    def submit_job(self, **body: Any) -> str:
        if body.get("runtime_env"):
            body["runtime_env"] = self._uploaded(body["runtime_env"])
        return self._request("POST", "/api/jobs/", body)["submission_id"]

    def _uploaded(self, runtime_env: dict) -> dict:
        """``runtime_env`` with its local working_dir/py_modules uploaded to the cluster as
        packages, by the SDK's own code (only then is Ray imported: clusters whose image lacks
        the jobs' packages)."""
        import copy

        if self._sdk is None:
            from ray.job_submission import JobSubmissionClient

            self._sdk = JobSubmissionClient(self.url, headers=dict(self.session.headers))
        env = copy.deepcopy(runtime_env)
        self._sdk._upload_working_dir_if_needed(env)
        self._sdk._upload_py_modules_if_needed(env)
        return env

    def get_job_info(self, job_id: str) -> JobInfo:
        return JobInfo.from_json(self._request("GET", f"/api/jobs/{job_id}"))

    def get_job_logs(self, job_id: str) -> str:
        return self._request("GET", f"/api/jobs/{job_id}/logs")["logs"]

    def stop_job(self, job_id: str) -> bool:
        return bool(self._request("POST", f"/api/jobs/{job_id}/stop")["stopped"])

    def delete_job(self, job_id: str) -> bool:
        return bool(self._request("DELETE", f"/api/jobs/{job_id}")["deleted"])

    def list_jobs(self) -> list[JobInfo]:
        return [JobInfo.from_json(d) for d in self._request("GET", "/api/jobs/")]


@dataclass
class JobOutcome:
    job_id: str
    status: str
    message: str | None
    driver_exit_code: int | None
    logs: str
    result: dict | None  # the job's RAY101_RESULT record (or its RAY101_ERROR record)
    seconds: float = 0.0  # submission to terminal state, as the CLI saw it
    deadline_hit: bool = False  # stopped by ray101 at --timeout

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


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "cluster"


def job_name(workload: str, cluster: str, topology: str, repeat: str | None = None) -> str:
    """The name the Ray dashboard shows in its jobs list (its Name column and filter)."""
    shape = f"{topology}-node" if topology in ("single", "multi") else topology
    name = f"{workload} on {cluster} ({shape}"
    return name + (f", repeat {repeat})" if repeat else ")")


_warned: set[str] = set()


def version_mismatch(cluster: str, cluster_ray: str | None) -> str | None:
    """One line when the cluster runs another Ray than this client (the classic KubeRay trap)."""
    from importlib.metadata import version

    ours = version("ray")  # not `import ray`: the CLI never needs Ray itself
    if not cluster_ray or cluster_ray == ours:
        return None
    return (f"Warning: cluster {cluster} runs Ray {cluster_ray}, this client Ray {ours}; "
            "jobs and the dashboard may misbehave (use the same Ray on both)")


def warn_on_version_mismatch(cluster: str, cluster_ray: str | None) -> None:
    """Print :func:`version_mismatch` on stderr, once per cluster and process."""
    line = version_mismatch(cluster, cluster_ray)
    if line and cluster not in _warned:
        import click

        _warned.add(cluster)
        click.echo(line, err=True)


class JobsAPI:
    """One cluster's Jobs API, reached through ``conn``."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self.url = conn.jobs_url
        self._client: JobsClient | None = None
        self.poll_s = POLL_FORWARDED_S if conn.via else POLL_S

    # -- plumbing ----------------------------------------------------------------------------
    @property
    def client(self) -> JobsClient:
        if self._client is None:
            self._client = self._call(lambda: JobsClient(self.url, headers=self.conn.headers), "connect")
            warn_on_version_mismatch(self.conn.target.name, self._client.server_ray_version)
        return self._client

    def _call(self, fn: Callable[[], Any], what: str) -> Any:
        import requests

        try:
            return fn()
        except Ray101Error:
            raise
        except requests.exceptions.Timeout:
            raise Ray101Error(
                f"the Jobs API at {self.url} did not answer within {REQUEST_TIMEOUT_S:.0f} s ({what})"
            ) from None
        except (ConnectionError, requests.exceptions.ConnectionError):
            raise Ray101Error(
                f"cannot reach the Jobs API at {self.url} ({what}): is the cluster up? "
                "(`ray101 clusters` shows which answer)"
            ) from None
        except Exception as exc:  # RuntimeError("Request failed with status code N: ...")
            raise Ray101Error(self._explain(exc, what)) from None

    def _explain(self, exc: Exception, what: str) -> str:
        text = str(exc)
        name = type(exc).__name__
        if name == "AuthenticationError" or re.search(r"status code 40[13]", text):
            code = "403" if "403" in text else "401"
            if self.conn.token:
                why = "the cluster rejected ray101's token (it belongs to another cluster?)"
            else:
                why = "the cluster requires a token and none was sent (set RAY101_TOKEN_FILE for a URL)"
            return f"the Jobs API at {self.url} refused the request (HTTP {code}): {why}"
        match = re.search(r"status code (\d+): (.*)", text, re.S)
        if match:
            body = match.group(2).strip().rstrip(".")
            if "does not exist" in body or match.group(1) == "404":
                return f"{what}: no such job on {self.conn.target.name}"
            return f"{what} failed (HTTP {match.group(1)}): {body.splitlines()[0][:300]}"
        first = text.strip().splitlines()[0] if text.strip() else name
        return f"{what} failed: {first[:300]}"

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
        entrypoint = shlex.join(["python", "-m", module, *argv])
        submission_id = f"ray101-{name}-{slug(target.name)}-{run_id}-{index}"
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
        kwargs = {}
        if self.conn.runtime_env:
            kwargs["runtime_env"] = self.conn.runtime_env
        try:
            return self._call(
                lambda: self.client.submit_job(
                    entrypoint=entrypoint,
                    submission_id=submission_id,
                    metadata=tags,
                    entrypoint_num_cpus=0,
                    **kwargs,
                ),
                f"submit {name}",
            )
        except KeyboardInterrupt:
            # Interrupted mid-request: the job may exist already; its id is known, so stop it.
            try:
                self.client.stop_job(submission_id)
            except Exception:
                pass
            raise

    def info(self, job_id: str) -> JobInfo:
        return self._call(lambda: self.client.get_job_info(job_id), f"status of {job_id}")

    def logs(self, job_id: str) -> str:
        return self._call(lambda: self.client.get_job_logs(job_id), f"logs of {job_id}")

    def stop(self, job_id: str) -> bool:
        return self._call(lambda: self.client.stop_job(job_id), f"stop {job_id}")

    def delete(self, job_id: str, settle_s: float = 3.0) -> bool:
        """Delete a finished job, and keep it deleted.

        Right after a job ends, Ray's job monitor may still be watching its supervisor actor;
        when that actor exits it can write the job back (as FAILED, "supervisor actor died")
        after our delete. So watch for ``settle_s`` seconds and delete a record that reappears.
        """
        deleted = self._call(lambda: self.client.delete_job(job_id), f"delete {job_id}")
        end = time.monotonic() + settle_s
        while time.monotonic() < end:
            time.sleep(self.poll_s)
            try:
                self.client.get_job_info(job_id)
            except Exception:
                continue  # gone, as it should be
            self._call(lambda: self.client.delete_job(job_id), f"delete {job_id}")
        return deleted

    def list(self) -> list[JobInfo]:
        return self._call(lambda: self.client.list_jobs(), "list jobs")

    def follow(
        self,
        job_id: str,
        on_log: Callable[[str], None] | None = None,
        timeout: float | None = None,
        started: float | None = None,
        on_status: Callable[[str, str, float], None] | None = None,
    ) -> JobOutcome:
        """Poll until the job ends, passing new log text to ``on_log`` and, on every poll,
        ``(job_id, status, seconds since started)`` to ``on_status``.

        At ``timeout`` seconds the job is stopped and reported STOPPED (deadline reached).
        """
        from ray101_jobs.common import parse_result

        started = started or time.monotonic()
        shown = 0
        deadline_hit = False
        while True:
            info = self.info(job_id)
            status = str(getattr(info.status, "value", info.status))
            if on_status is not None:
                on_status(job_id, status, time.monotonic() - started)
            if on_log is not None:
                text = self.logs(job_id)
                if len(text) > shown:
                    on_log(text[shown:])
                    shown = len(text)
            if status in TERMINAL:
                break
            if timeout is not None and time.monotonic() - started > timeout and not deadline_hit:
                deadline_hit = True
                self.stop(job_id)
                self.wait_terminal(job_id, 15.0)
                continue
            time.sleep(self.poll_s)
        logs = self.logs(job_id)
        if on_log is not None and len(logs) > shown:
            on_log(logs[shown:])
        message = info.message
        if deadline_hit:
            message = f"deadline of {timeout:g} s reached; the job was stopped"
        return JobOutcome(
            job_id=job_id,
            status=status,
            message=message,
            driver_exit_code=getattr(info, "driver_exit_code", None),
            logs=logs,
            result=parse_result(logs),
            seconds=time.monotonic() - started,
            deadline_hit=deadline_hit,
        )

    def wait_terminal(self, job_id: str, seconds: float,
                      on_status: Callable[[str, str, float], None] | None = None) -> str:
        """Poll until the job ends or ``seconds`` pass; returns its last status."""
        started = time.monotonic()
        status = ""
        while True:
            info = self.info(job_id)
            status = str(getattr(info.status, "value", info.status))
            if on_status is not None:
                on_status(job_id, status, time.monotonic() - started)
            if status in TERMINAL or time.monotonic() - started >= seconds:
                return status
            time.sleep(self.poll_s)
