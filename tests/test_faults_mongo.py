"""MongoDB stopped under the mongo workloads: they fail fast, name the host, never a password."""

import json

from test_faults_common import MONGO_PASSWORD

MONGO_WORKLOADS = ("mongo-sequential", "mongo-parallel", "mongo-partitioned")


def _submit_with_uri(lab, cluster: str, uri: str) -> str:
    """Submit mongo-sequential with ``uri`` in its runtime env (the URI a job would see on a
    cluster whose MongoDB needs a password), follow it, return its log."""
    from ray.job_submission import JobSubmissionClient

    url = json.loads(lab.cli("dashboard", "--cluster", cluster, "--json", check=True).stdout)["dashboard"]
    client = JobSubmissionClient(url, headers={"Authorization": f"Bearer {lab.token()}"})
    job_id = client.submit_job(entrypoint="python -m ray101_jobs.mongo_sequential",
                               runtime_env={"env_vars": {"RAY101_MONGO_URI": uri}},
                               metadata={"workload": "mongo-sequential", "test": "password-uri"},
                               entrypoint_num_cpus=0)
    follow = lab.cli("jobs", "logs", job_id, "--cluster", cluster, "--follow", timeout=120)
    status = json.loads(lab.cli("jobs", "status", job_id, "--cluster", cluster, "--json",
                                check=True).stdout)
    assert status["status"] == "FAILED", status
    return follow.stdout + follow.stderr + (status["message"] or "")


def test_mongo_down_fails_each_mongo_workload_fast_naming_the_host(lab):
    info = json.loads(lab.cli("mongo", "status", "--json", check=True).stdout)
    host, port = info["host"], info["port"]
    assert info["running"]
    lab.cli("mongo", "stop", check=True)
    try:
        proc = lab.cli("run", *MONGO_WORKLOADS, "--cluster", "local-multi", "--json", timeout=180)
        assert proc.returncode == 1
        assert "Traceback" not in proc.stderr
        entries = json.loads(proc.stdout)
        for entry in entries:
            assert entry["status"] == "FAILED"
            assert f"MongoDB at {host}:{port} is unreachable: ServerSelectionTimeoutError" \
                in entry["message"]
        err = proc.stderr.strip().splitlines()[-1]
        assert err.startswith("Error: job ray101-mongo-sequential-local-multi-")
        assert err.count(f"MongoDB at {host}:{port} is unreachable") == 3

        # The same job seeing a URI with a password: the host is named, the password is not.
        log = _submit_with_uri(lab, "local-single",
                               f"mongodb://ray101:{MONGO_PASSWORD}@{host}:{port}/sample_mflix")
        assert f"MongoDB at {host}:{port} is unreachable" in log
        assert MONGO_PASSWORD not in log
    finally:
        lab.cli("mongo", "start", "--host", host, "--port", str(port), check=True)
    assert json.loads(lab.cli("mongo", "status", "--json", check=True).stdout)["running"]


def test_a_password_the_server_rejects_is_never_printed(lab):
    info = json.loads(lab.cli("mongo", "status", "--json", check=True).stdout)
    # The lab's FerretDB has authentication on and no such user: the job fails on auth, and
    # says so: the server answered, it is not "unreachable".
    log = _submit_with_uri(lab, "local-single",
                           f"mongodb://ray101:{MONGO_PASSWORD}@{info['host']}:{info['port']}/")
    where = f"MongoDB at {info['host']}:{info['port']}"
    assert f"{where} refused the credentials (authentication failed): OperationFailure" in log
    assert f"{where} is unreachable" not in log
    assert MONGO_PASSWORD not in log


def test_the_cli_names_an_authentication_failure(lab):
    info = json.loads(lab.cli("mongo", "status", "--json", check=True).stdout)
    uri = f"mongodb://ray101:{MONGO_PASSWORD}@{info['host']}:{info['port']}/"
    # Through the environment, as users pass a URI with a password (never in argv).
    proc = lab.cli("mongo", "seed", "--movies", "1", "--comments", "0",
                   env={"RAY101_MONGO_URI": uri})
    assert proc.returncode == 1
    line = proc.stderr.strip()
    assert "\n" not in line
    assert line.startswith(
        f"Error: MongoDB at {info['host']}:{info['port']} "
        f"(mongodb://ray101:***@{info['host']}:{info['port']}/) refused the credentials "
        "(authentication failed): ")
    assert MONGO_PASSWORD not in proc.stdout + proc.stderr


def test_the_redacted_uri_hides_the_password():
    from ray101.mongo import server as mongo
    from ray101_jobs.mongouri import hosts_of

    uri = f"mongodb://ray101:{MONGO_PASSWORD}@10.1.2.3:27017/sample_mflix?authSource=admin"
    assert hosts_of(uri) == "10.1.2.3:27017"
    assert mongo.redact(uri) == "mongodb://ray101:***@10.1.2.3:27017/sample_mflix?authSource=admin"
