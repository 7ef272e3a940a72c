"""The Jobs API unreachable or refusing us, and Ctrl-C while `ray101 run` follows a job."""

import ipaddress
import json
import socket

import pytest

from conftest import NEEDS_ROOT
from test_faults_common import Background, job_status, plan, wait_for


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # free once the socket closes: nothing listens there


def _unused_ip_in_our_subnet(lab) -> str:
    used = {n["ip"] for n in plan(lab)["nodes"]} | {plan(lab)["bridge_ip"]}
    hosts = list(ipaddress.ip_network(plan(lab)["subnet"]).hosts())
    return next(str(h) for h in reversed(hosts) if str(h) not in used)


@pytest.mark.parametrize("where", ["refused on loopback", "no host in our namespace subnet"])
def test_an_unreachable_jobs_api_is_a_clear_error(lab, where):
    if where.startswith("refused"):
        url = f"http://127.0.0.1:{_closed_port()}"
    else:
        if not plan(lab)["netns"]:
            pytest.skip(NEEDS_ROOT)
        url = f"http://{_unused_ip_in_our_subnet(lab)}:8265"
    # A silent address: the CLI's connect timeout turns it into the error below, not a hang.
    proc = lab.cli("run", "task-dependencies", "--cluster", url, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        f"Error: cannot reach the Jobs API at {url} (connect): is the cluster up? "
        "(`ray101 clusters` shows which answer)"
    )


@pytest.mark.parametrize("args", [
    ["submit", "task-dependencies"],
    ["jobs", "status", "some-job"],
    ["jobs", "logs", "some-job"],
    ["jobs", "stop", "some-job"],
    ["jobs", "delete", "some-job"],
])
def test_every_jobs_api_command_explains_a_wrong_token(lab, tmp_path, args):
    url = json.loads(lab.cli("dashboard", "--cluster", "local-single", "--json",
                             check=True).stdout)["dashboard"]
    wrong = tmp_path / "token"
    wrong.write_text("f" * 64)
    proc = lab.cli(*args, "--cluster", url, env={"RAY101_TOKEN_FILE": str(wrong)})
    assert proc.returncode == 1
    line = proc.stderr.strip()
    assert line.startswith(f"Error: the Jobs API at {url} refused the request (HTTP 40")
    assert line.endswith("the cluster rejected ray101's token (it belongs to another cluster?)")
    assert "f" * 64 not in proc.stdout + proc.stderr


def test_ctrl_c_during_run_stops_the_job_and_exits_130(lab):
    run = Background(lab, "run", "sequential-retrieve", "--cluster", "local-single",
                     "-p", "seconds=30")
    try:
        job_id = run.job_id()
        run.wait_output("== sequential-retrieve on")
        run.signal(2)  # what Ctrl-C sends
        assert run.wait(60) == 130
        assert f"Interrupted: stopped job {job_id}." in run.stderr
        assert "Traceback" not in run.stderr
        assert wait_for("the job to end", lambda: job_status(lab, "local-single", job_id)
                        in ("STOPPED", "FAILED", "SUCCEEDED"), 60, every=1)
        assert job_status(lab, "local-single", job_id) == "STOPPED"
    finally:
        run.kill()
