"""How ray101 explains what went wrong: the Jobs API's errors, a job's failure line and
pymongo's errors, each one line with no secret in it."""

import pytest
from pymongo.errors import ServerSelectionTimeoutError

from ray101.errors import Ray101Error
from ray101.jobsapi import JobOutcome, JobsAPI
from ray101.models import Connection, Target
from ray101_jobs import mongouri

URL = "http://10.1.2.3:8265"
TOKEN = "t0k3n" * 8


def api(token: str | None = TOKEN) -> JobsAPI:
    target = Target(name="local-multi", kind="local", jobs_url=URL)
    return JobsAPI(Connection(target=target, jobs_url=URL, token=token, serve_url=None))


class AuthenticationError(Exception):
    """Named like the Ray SDK's exception, which is what ray101 recognises."""


@pytest.mark.parametrize("exc, token, message", [
    (AuthenticationError("Authentication failed"), TOKEN,
     f"the Jobs API at {URL} refused the request (HTTP 401): the cluster rejected ray101's "
     "token (it belongs to another cluster?)"),
    (RuntimeError("Request failed with status code 403: Forbidden"), None,
     f"the Jobs API at {URL} refused the request (HTTP 403): the cluster requires a token and "
     "none was sent (set RAY101_TOKEN_FILE for a URL)"),
    (RuntimeError("Request failed with status code 404: Job raysubmit_x does not exist."), TOKEN,
     "status of x: no such job on local-multi"),
    (RuntimeError("Request failed with status code 500: Internal error.\nstack..."), TOKEN,
     "status of x failed (HTTP 500): Internal error."),
    (RuntimeError("something odd\nmore"), TOKEN, "status of x failed: something odd"),
    (RuntimeError(""), TOKEN, "status of x failed: RuntimeError"),
])
def test_sdk_errors_become_one_line(exc, token, message):
    assert api(token)._explain(exc, "status of x") == message


def test_calls_turn_connection_errors_and_timeouts_into_ray101_errors():
    import requests

    def refused():
        raise requests.exceptions.ConnectionError("Max retries exceeded")

    def slow():
        raise requests.exceptions.ReadTimeout("read timed out")

    with pytest.raises(Ray101Error, match=r"^cannot reach the Jobs API at http://10\.1\.2\.3:8265 "
                                          r"\(list jobs\): is the cluster up\?"):
        api()._call(refused, "list jobs")
    with pytest.raises(Ray101Error, match=r"^the Jobs API at http://10\.1\.2\.3:8265 did not "
                                          r"answer within \d+ s \(list jobs\)$"):
        api()._call(slow, "list jobs")
    assert api()._call(lambda: 42, "list jobs") == 42


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
