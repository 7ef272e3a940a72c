"""How ray101 explains what went wrong: the Jobs API's errors, a job's failure line and
pymongo's errors, each one line with no secret in it."""

import pytest
import requests
from pymongo.errors import ServerSelectionTimeoutError

from ray101.head.client import HeadClient, HeadUnreachable
from ray101.head.jobs import JobOutcome
from ray101_jobs import mongouri

URL = "http://10.1.2.3:8265"
TOKEN = "t0k3n" * 8


def head(token: str | None = TOKEN, patience: float = 0.0) -> HeadClient:
    return HeadClient(URL, token, cluster="local-multi", patience=patience)


@pytest.mark.parametrize("code, body, token, message", [
    (401, "Authentication failed", TOKEN,
     f"the Jobs API at {URL} refused the request (HTTP 401): the cluster rejected ray101's "
     "token (it belongs to another cluster?)"),
    (403, "Forbidden", None,
     f"the Jobs API at {URL} refused the request (HTTP 403): the cluster requires a token and "
     "none was sent (set RAY101_TOKEN_FILE for a URL)"),
    (404, "Job raysubmit_x does not exist.", TOKEN, "status of x: no such job on local-multi"),
    (500, "Internal error.\nstack...", TOKEN, "status of x failed (HTTP 500): Internal error."),
    (400, "", TOKEN, "status of x failed (HTTP 400): no details"),
])
def test_http_errors_become_one_line(code, body, token, message):
    assert head(token)._refusal(code, body, "status of x") == message


class Flaky:
    """Stands in for the session's ``request``: raises each of ``failures``, then answers."""

    def __init__(self, *failures: Exception):
        self.failures = list(failures)
        self.calls = 0

    def __call__(self, method, url, **kwargs):
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        response = requests.Response()
        response.status_code = 200
        response._content = b'{"ray_version": "2.60.0"}'
        return response


def test_connection_errors_and_timeouts_become_one_line_at_first_contact():
    client = head()
    client.session.request = Flaky(requests.exceptions.ConnectionError("Max retries exceeded"))
    with pytest.raises(HeadUnreachable, match=r"^cannot reach the Jobs API at http://10\.1\.2\.3:8265 "
                                              r"\(connect\): is the cluster up\?"):
        client.version()
    client.session.request = Flaky(requests.exceptions.ReadTimeout("read timed out"))
    with pytest.raises(HeadUnreachable, match=r"^the Jobs API at http://10\.1\.2\.3:8265 did not "
                                              r"answer within \d+ s \(connect\)$"):
        client.version()
    assert client.session.request.calls == 1  # the first contact is not retried


def test_after_the_first_contact_a_hiccup_is_retried_within_the_patience():
    client = head(patience=5)
    client.session.request = Flaky()
    client.version()
    seen = []
    client.on_retry = lambda why, left: seen.append(why)
    client.session.request = Flaky(requests.exceptions.ConnectionError("reset"),
                                   requests.exceptions.ReadTimeout("slow"))
    assert client.get_job("x") == {"ray_version": "2.60.0"}
    assert client.session.request.calls == 3
    assert [w.split(" (")[0] for w in seen] == ["cannot reach the Jobs API at " + URL,
                                               f"the Jobs API at {URL} did not answer within 10 s"]


def test_a_hiccup_longer_than_the_patience_is_head_unreachable():
    client = head(patience=0.3)
    client.session.request = Flaky()
    client.version()
    client.session.request = Flaky(*[requests.exceptions.ConnectionError("down")] * 50)
    with pytest.raises(HeadUnreachable, match=r"\(status of x\): is the cluster up\? .*; retried "
                                              r"for 0 s$"):
        client.get_job("x")


def test_a_job_id_is_one_path_segment():
    client = head()
    urls = []

    def record(method, url, **kwargs):
        urls.append(url)
        return Flaky()(method, url)

    client.session.request = record
    client.get_job("../version")
    assert urls == [f"{URL}/api/jobs/..%2Fversion"]


def test_a_failed_job_is_explained_by_its_error_record_else_its_message():
    failed = JobOutcome(job_id="j1", status="FAILED", message="Job entrypoint command failed",
                        driver_exit_code=1, logs="",
                        result={"error": "ValueError: no alive Ray node has IP 10.0.0.9"})
    assert failed.error_line() == (
        "job j1 FAILED, driver exit code 1: ValueError: no alive Ray node has IP 10.0.0.9")
    stopped = JobOutcome(job_id="j2", status="STOPPED", message="Job was intentionally stopped.\n"
                         "details", driver_exit_code=None, logs="", result=None)
    assert stopped.error_line() == "job j2 STOPPED: Job was intentionally stopped."
    assert not stopped.succeeded
    silent = JobOutcome(job_id="j3", status="FAILED", message=None, driver_exit_code=None,
                        logs="", result=None)
    assert silent.error_line() == "job j3 FAILED: no message"


def test_pymongo_errors_are_shortened_and_lose_the_password():
    uri = "mongodb://bob:s3cr3t@10.1.2.3:27017/?authSource=admin"
    exc = ServerSelectionTimeoutError(
        "10.1.2.3:27017: [Errno 111] Connection refused (configured timeouts: 5.0s), "
        "Timeout: 5.0s, Topology Description: <TopologyDescription id: 1, ...>")
    reason = mongouri.short_reason(exc, uri)
    assert reason == ("10.1.2.3:27017: [Errno 111] Connection refused (configured timeouts: "
                      "5.0s)")
    leaky = ValueError(f"bad option in {uri}: s3cr3t")
    explained = mongouri.short_reason(leaky, uri)
    assert "s3cr3t" not in explained and "bob:***@10.1.2.3" in explained
