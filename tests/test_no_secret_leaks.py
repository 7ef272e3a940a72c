"""Runs last (marker ``suite_end``, moved to the end by conftest.py): no secret in anything the
suite made the CLI print, in any job log on either cluster, in the run store or in the state
directory.

Secrets: the clusters' auth token, the local MongoDB's password and the one test_faults_mongo
plants in a URI (plus the password of RAY101_MONGO_URI when the suite runs against an external
server).
"""

import json
import os

import pytest

from conftest import TRANSCRIPT
from test_faults_common import MONGO_PASSWORD

pytestmark = pytest.mark.suite_end

SKIP = {"auth_token", "password"}  # where the token and MongoDB's password live, on purpose (0600)


def _secrets(lab) -> dict[str, str]:
    found = {"auth token": lab.token(), "planted MongoDB password": MONGO_PASSWORD}
    local = lab.home / "mongo" / "password"
    if local.exists():
        found["the local MongoDB's password"] = local.read_text().strip()
    uri = os.environ.get("RAY101_MONGO_URI", "")
    rest = uri.partition("://")[2]
    creds = rest[: rest.rfind("@")] if "@" in rest else ""
    if ":" in creds and creds.split(":", 1)[1]:
        found["RAY101_MONGO_URI password"] = creds.split(":", 1)[1]
    return found


def _leaks(text: str, secrets: dict[str, str], where: str) -> list[str]:
    return [f"{name} in {where}" for name, value in secrets.items() if value and value in text]


def test_no_job_log_on_either_cluster_holds_a_secret(lab):
    from ray.job_submission import JobSubmissionClient

    secrets = _secrets(lab)
    leaks, seen = [], 0
    for cluster in ("local-single", "local-multi"):
        url = json.loads(lab.cli("dashboard", "--cluster", cluster, "--json",
                                 check=True).stdout)["dashboard"]
        client = JobSubmissionClient(url, headers={"Authorization": f"Bearer {lab.token()}"})
        for job in client.list_jobs():
            job_id = job.submission_id or job.job_id
            if not job.submission_id:
                continue  # drivers not submitted through the Jobs API have no log there
            seen += 1
            leaks += _leaks(client.get_job_logs(job_id), secrets, f"the log of {job_id}")
            leaks += _leaks(f"{job.entrypoint} {job.metadata} {job.message}", secrets,
                            f"the entrypoint/metadata/message of {job_id}")
    assert seen > 0
    assert not leaks, leaks


def test_nothing_the_cli_printed_holds_a_secret(lab):
    transcript = (lab.home / TRANSCRIPT).read_text()
    assert transcript.count("$ ray101 ") > 0
    assert not _leaks(transcript, _secrets(lab), "the CLI transcript")


def test_no_file_in_the_run_store_or_state_dir_holds_a_secret(lab):
    secrets = _secrets(lab)
    leaks, files = [], 0
    for path in lab.home.rglob("*"):
        if not path.is_file() or path.name in SKIP or path.suffix in (".sqlite", ".db") \
                or path.name == TRANSCRIPT:
            continue
        files += 1
        leaks += _leaks(path.read_bytes().decode(errors="replace"), secrets, str(path))
    assert files > 0 and list((lab.home / "runs").glob("*/*.json"))
    assert not leaks, leaks
