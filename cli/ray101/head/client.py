"""One client for a Ray head's HTTP APIs: the Jobs API, the State API's node list and the version.

One keep-alive ``requests`` session per head (through a port-forward a new connection per request
would be a new stream through the API server and the kubelet), the auth header, a timeout on
every request, and retries with backoff for the calls that may safely be made twice: a reset
connection, a 5xx or a slow answer is retried for up to ``patience`` seconds
(``RAY101_HEAD_PATIENCE_S``, default 60) before it becomes :class:`HeadUnreachable`. The first
contact is not retried: a head that never answered is down, not hiccuping, and the user should
hear so at once. Errors become one readable line (unreachable, wrong token, unknown job).

Not Ray's SDK: importing it imports all of Ray, about 0.6 s of every ``ray101 run``
(docs/performance.md, section 2). The SDK is used only to upload runtime_env packages, for which
Ray has no public API (see :meth:`HeadClient.upload`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ray101 import settings
from ray101.errors import Ray101Error

if TYPE_CHECKING:
    import requests

REQUEST_TIMEOUT_S = 10.0
PATIENCE_ENV = "RAY101_HEAD_PATIENCE_S"
PATIENCE_S = 60.0
BACKOFF_S = (0.25, 0.5, 1.0, 2.0, 4.0)  # then 4 s between tries until the patience is spent
UNREACHABLE_HINT = "is the cluster up? (`ray101 clusters` shows which answer)"


def auth_header(token: str | None) -> dict:
    """The header Ray's token auth wants; nothing without a token."""
    return {"Authorization": f"Bearer {token}"} if token else {}


def patience_s() -> float:
    """How long a call is retried through a hiccup (``RAY101_HEAD_PATIENCE_S``)."""
    return settings.seconds(PATIENCE_ENV, PATIENCE_S, zero_ok=True)


class HeadUnreachable(Ray101Error):
    """The head did not answer (refused, reset, timed out, 5xx), retries included."""


class HeadClient:
    """One Ray head, reached at ``url`` (``cluster`` names it in errors)."""

    def __init__(self, url: str, token: str | None = None, cluster: str | None = None,
                 patience: float | None = None, timeout: float = REQUEST_TIMEOUT_S):
        import requests

        self.url = url.rstrip("/")
        self.token = token
        self.cluster = cluster or self.url
        self.timeout = timeout
        self.patience = patience_s() if patience is None else patience
        self.session = requests.Session()
        self.session.headers.update(auth_header(token))
        self.contacted = False  # retries start once the head has answered once
        self.on_retry: Callable[[str, float], None] | None = None  # (why, seconds left)
        self._sdk: Any = None

    # -- the one way a request is made ----------------------------------------------------------
    def request(self, method: str, path: str, what: str, body: Any = None,
                retry: bool = True, timeout: float | None = None) -> Any:
        """One call; its JSON answer. ``retry``: the call may safely be repeated (every call
        here but the first contact). Raises :class:`HeadUnreachable` or :class:`Ray101Error`."""
        import requests

        retry = retry and self.contacted
        deadline = time.monotonic() + (self.patience if retry else 0.0)
        tries = 0
        while True:
            try:
                response = self.session.request(method, self.url + path, json=body,
                                                timeout=timeout or self.timeout)
            except requests.exceptions.Timeout:
                why = (f"the Jobs API at {self.url} did not answer within "
                       f"{timeout or self.timeout:.0f} s ({what})")
            except requests.exceptions.ConnectionError:
                why = f"cannot reach the Jobs API at {self.url} ({what}): {UNREACHABLE_HINT}"
            else:
                if response.status_code < 500:
                    self.contacted = True
                    return self._answer(response, what)
                why = self._refusal(response.status_code, response.text, what)
            wait = BACKOFF_S[min(tries, len(BACKOFF_S) - 1)]
            left = deadline - time.monotonic()
            if left < wait:
                if tries:
                    why += f"; retried for {self.patience:.0f} s"
                raise HeadUnreachable(why)
            if self.on_retry is not None:
                self.on_retry(why, left)
            time.sleep(wait)
            tries += 1

    def _answer(self, response: requests.Response, what: str) -> Any:
        if response.status_code != 200:
            raise Ray101Error(self._refusal(response.status_code, response.text, what))
        try:
            return response.json()
        except ValueError:
            raise Ray101Error(f"{what} failed: the answer from {self.url} is not JSON") from None

    def _refusal(self, code: int, text: str, what: str) -> str:
        """One line for an HTTP error answer."""
        if code in (401, 403):
            if self.token:
                why = "the cluster rejected ray101's token (it belongs to another cluster?)"
            else:
                why = "the cluster requires a token and none was sent (set RAY101_TOKEN_FILE for a URL)"
            return f"the Jobs API at {self.url} refused the request (HTTP {code}): {why}"
        body = text.strip().rstrip(".")
        if code == 404 or "does not exist" in body:
            return f"{what}: no such job on {self.cluster}"
        first = body.splitlines()[0][:300] if body else "no details"
        return f"{what} failed (HTTP {code}): {first}"

    # -- the head ------------------------------------------------------------------------------
    def version(self) -> dict:
        """``/api/version``; the first contact (not retried)."""
        return self.request("GET", "/api/version", "connect", retry=False)

    def answers(self, timeout: float = 2.0) -> bool:
        """Does the head answer ``/api/version`` within ``timeout``? (one try)"""
        try:
            self.request("GET", "/api/version", "probe", retry=False, timeout=timeout)
            return True
        except Ray101Error:
            return False

    def alive_node_rows(self, timeout: float = 3.0) -> list[dict] | None:
        """The cluster's alive nodes (``node_id``, ``node_ip``) per its State API, or None when
        it does not answer (one try: the callers poll)."""
        try:
            body = self.request("GET", "/api/v0/nodes?limit=1000&detail=false", "list nodes",
                                retry=False, timeout=timeout)
        except Ray101Error:
            return None
        rows = ((body.get("data") or {}).get("result") or {}).get("result") or []
        return [r for r in rows if r.get("state") == "ALIVE"]

    def state_rows(self, resource: str, filters: tuple[tuple[str, str], ...] = (),
                   timeout: float = 5.0) -> list[dict] | None:
        """Rows of the State API's ``resource`` (``nodes``, ``tasks``) in detail, each filter
        ``(key, value)`` an equality; None when the head does not answer (one try)."""
        from urllib.parse import urlencode

        query = [("limit", "1000"), ("detail", "true")]
        for key, value in filters:
            query += [("filter_keys", key), ("filter_predicates", "="), ("filter_values", value)]
        try:
            body = self.request("GET", f"/api/v0/{resource}?{urlencode(query)}",
                                f"list {resource}", retry=False, timeout=timeout)
        except Ray101Error:
            return None
        return ((body.get("data") or {}).get("result") or {}).get("result") or []

    def alive_nodes(self, timeout: float = 3.0) -> list[str] | None:
        """IPs of the cluster's alive nodes, or None when it does not answer."""
        rows = self.alive_node_rows(timeout)
        return None if rows is None else sorted(r["node_ip"] for r in rows)

    # -- the Jobs API --------------------------------------------------------------------------
    def submit_job(self, body: dict) -> str:
        """POST a job. Retried like a read: the body carries its ``submission_id``, so a retry
        after a lost answer finds the job already there, and that counts as submitted."""
        submission_id = body["submission_id"]
        if body.get("runtime_env"):
            body = {**body, "runtime_env": self.upload(body["runtime_env"])}
        try:
            return self.request("POST", "/api/jobs/", f"submit {submission_id}", body)["submission_id"]
        except HeadUnreachable:
            raise
        except Ray101Error as exc:
            if "already exists" in exc.message and self.exists(submission_id):
                return submission_id
            raise

    def exists(self, job_id: str) -> bool:
        try:
            self.get_job(job_id)
            return True
        except Ray101Error:
            return False

    def upload(self, runtime_env: dict) -> dict:
        """``runtime_env`` with its local working_dir/py_modules uploaded as packages.

        Private SDK calls, on purpose: Ray has no public API to upload a package (its
        ``submit_job`` does it inside), and the package's name is the hash of its content that
        only the SDK's code computes. Ray is imported only here, for clusters whose image lacks
        the jobs' packages.
        """
        import copy

        if self._sdk is None:
            from ray.job_submission import JobSubmissionClient

            self._sdk = JobSubmissionClient(self.url, headers=dict(self.session.headers))
        env = copy.deepcopy(runtime_env)
        self._sdk._upload_working_dir_if_needed(env)
        self._sdk._upload_py_modules_if_needed(env)
        return env

    def get_job(self, job_id: str) -> dict:
        return self.request("GET", f"/api/jobs/{_id(job_id)}", f"status of {job_id}")

    def get_logs(self, job_id: str) -> str:
        return self.request("GET", f"/api/jobs/{_id(job_id)}/logs", f"logs of {job_id}")["logs"]

    def stop_job(self, job_id: str) -> bool:
        """Ask the job to stop (asking twice is harmless: the second answer is False)."""
        return bool(self.request("POST", f"/api/jobs/{_id(job_id)}/stop", f"stop {job_id}")["stopped"])

    def delete_job(self, job_id: str) -> bool:
        return bool(self.request("DELETE", f"/api/jobs/{_id(job_id)}", f"delete {job_id}")["deleted"])

    def list_jobs(self) -> list[dict]:
        return self.request("GET", "/api/jobs/", "list jobs")


def _id(job_id: str) -> str:
    """A job id as one path segment: ``../version`` must not reach another endpoint."""
    return quote(job_id, safe="")


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


def token_in_clear(url: str, own_hosts: Collection[str] = ()) -> str | None:
    """One line when a token sent to ``url`` would cross the network unencrypted: plain HTTP to
    a host that is neither loopback nor one of ``own_hosts`` (the local lab's heads, on this
    machine's own bridge)."""
    import ipaddress
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme != "http" or host == "localhost" or host in own_hosts:
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass  # a name: it may resolve anywhere
    return (f"Warning: the token goes to {host} over plain HTTP, readable by anyone on the way; "
            "use https://, an SSH tunnel or a port-forward to 127.0.0.1")


def warn_on_token_in_clear(url: str, own_hosts: Collection[str] = ()) -> None:
    """Print :func:`token_in_clear` on stderr, once per URL and process."""
    line = token_in_clear(url, own_hosts)
    if line and url not in _warned:
        import click

        _warned.add(url)
        click.echo(line, err=True)
