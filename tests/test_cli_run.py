"""`ray101 run`, `submit`, `jobs`, `serve call`, `dashboard` against the real local clusters."""

import json

import pytest

from test_faults_common import job_status, wait_for


def test_run_prints_the_job_log_and_a_result(lab):
    proc = lab.cli("run", "task-dependencies", "--cluster", "local-single", "-p", "seconds=0.2")
    assert proc.returncode == 0, proc.stderr
    assert "Aggregated result: 20" in proc.stdout  # the job's own log, echoed live
    assert "RAY101_RESULT" not in proc.stdout  # the machine line is for the CLI, not people
    assert "task-dependencies on local-single: SUCCEEDED; output 20" in proc.stdout


def test_run_json_returns_the_recorded_entry(lab):
    proc = lab.cli("run", "actor-counter", "--cluster", "local-multi", "--repeat", "3", "--json")
    assert proc.returncode == 0, proc.stderr
    [entry] = json.loads(proc.stdout)  # always a list, one entry per workload
    assert entry["status"] == "SUCCEEDED"
    assert entry["output"] == [0, 1, 3, 6, 10]
    assert len(entry["runtimes_s"]) == 3
    stored = lab.home / "runs" / entry["run_id"] / f"{entry['job_id']}.json"
    assert json.loads(stored.read_text())["output"] == [0, 1, 3, 6, 10]


def test_a_failing_job_exits_1_with_the_jobs_message(lab):
    proc = lab.cli("run", "parallel-retrieve", "--cluster", "local-multi", "-p", "fail=true",
                   "-p", "seconds=0")
    assert proc.returncode == 1
    err = proc.stderr.strip().splitlines()[-1]
    assert err.startswith("Error: job ray101-parallel-retrieve-local-multi-")
    assert "FAILED, driver exit code 1" in err
    assert "ValueError: retrieval of item 0 failed (the job was run with fail=true)" in err


def test_a_deadline_stops_the_job_and_exits_1(lab):
    proc = lab.cli("run", "sequential-retrieve", "--cluster", "local-single", "-p", "seconds=30",
                   "--timeout", "3", "-q")
    assert proc.returncode == 1
    err = proc.stderr.strip().splitlines()[-1]
    assert "STOPPED" in err and "deadline of 3 s reached" in err
    job_id = err.split("job ", 1)[1].split()[0]
    status = json.loads(lab.cli("jobs", "status", job_id, "--cluster", "local-single",
                                "--json", check=True).stdout)
    assert status["status"] == "STOPPED"


def test_submit_returns_at_once_and_jobs_commands_follow_it(lab):
    proc = lab.cli("submit", "parallel-retrieve", "--cluster", "local-multi", "-p",
                   "seconds=0.5")
    assert proc.returncode == 0, proc.stderr
    job_id = proc.stdout.split(": ", 1)[1].splitlines()[0].strip()
    assert job_id.startswith("ray101-parallel-retrieve-local-multi-")
    for verb in ("status", "logs --follow", "stop"):
        assert f"ray101 jobs {verb} {job_id} --cluster local-multi" in proc.stdout
    follow = lab.cli("jobs", "logs", job_id, "--cluster", "local-multi", "--follow")
    assert follow.returncode == 0, follow.stderr
    assert "(5, 'Ray')" in follow.stdout
    status = json.loads(lab.cli("jobs", "status", job_id, "--cluster", "local-multi", "--json",
                                check=True).stdout)
    assert status["status"] == "SUCCEEDED"
    assert status["metadata"]["workload"] == "parallel-retrieve"
    # The Ray dashboard's Name column and filter read metadata.job_name.
    assert status["metadata"]["job_name"] == \
        "parallel-retrieve on local-multi (multi-node, repeat 1)"
    deleted = lab.cli("jobs", "delete", job_id, "--cluster", "local-multi")
    assert deleted.returncode == 0 and "deleted" in deleted.stdout
    gone = lab.cli("jobs", "status", job_id, "--cluster", "local-multi")
    assert gone.returncode == 1 and "no such job" in gone.stderr


def test_stop_waits_until_the_job_has_stopped(lab):
    proc = lab.cli("submit", "sequential-retrieve", "--cluster", "local-single", "-p",
                   "seconds=20", "--json", check=True)
    job_id = json.loads(proc.stdout)["job_id"]
    wait_for_status(lab, job_id, "local-single", {"RUNNING"})
    stop = lab.cli("jobs", "stop", job_id, "--cluster", "local-single", check=True)
    assert stop.stdout.strip() == f"{job_id}: STOPPED"  # returned only once it had ended
    status = json.loads(lab.cli("jobs", "status", job_id, "--cluster", "local-single",
                                "--json", check=True).stdout)["status"]
    assert status == "STOPPED"


def test_stop_no_wait_returns_once_requested(lab):
    proc = lab.cli("submit", "sequential-retrieve", "--cluster", "local-single", "-p",
                   "seconds=20", "--json", check=True)
    job_id = json.loads(proc.stdout)["job_id"]
    wait_for_status(lab, job_id, "local-single", {"RUNNING"})
    stop = json.loads(lab.cli("jobs", "stop", job_id, "--cluster", "local-single",
                              "--no-wait", "--json", check=True).stdout)
    assert stop["stop_requested"] is True and stop["job_id"] == job_id
    assert wait_for_status(lab, job_id, "local-single", {"STOPPED", "FAILED", "SUCCEEDED"}) \
        == "STOPPED"
    again = lab.cli("jobs", "stop", job_id, "--cluster", "local-single", check=True)
    assert again.stdout.strip() == f"{job_id}: already finished (STOPPED)"


def wait_for_status(lab, job_id: str, cluster: str, wanted: set[str], seconds: float = 60) -> str:
    wait_for(f"{job_id} to be {' or '.join(sorted(wanted))}",
             lambda: job_status(lab, cluster, job_id) in wanted, seconds)
    return job_status(lab, cluster, job_id)


def test_serve_call_reaches_the_echo_app_the_workload_left_up(lab):
    lab.cli("run", "serve-echo", "--cluster", "local-single", "-p", "calls=3", "-p", "keep=true",
            check=True)
    proc = lab.cli("serve", "call", "--cluster", "local-single", "--data", "ray101 rocks")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "Received data: ray101 rocks"


def test_dashboard_gives_the_url_and_the_job_list(lab):
    proc = lab.cli("dashboard", "--cluster", "local-multi", "--json", check=True)
    info = json.loads(proc.stdout)
    assert info["dashboard"].startswith("http://") and info["jobs"] == info["dashboard"] + "/#/jobs"
    assert lab.token() not in proc.stdout


def test_cluster_accepts_a_jobs_api_url_with_the_token_file(lab):
    url = json.loads(lab.cli("dashboard", "--cluster", "local-single", "--json",
                             check=True).stdout)["dashboard"]
    proc = lab.cli("run", "actor-counter", "--cluster", url, "--json",
                   env={"RAY101_TOKEN_FILE": str(lab.home / "auth_token")})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)[0]["output"] == [0, 1, 3, 6, 10]


def test_a_client_without_the_token_gets_a_clear_error(lab):
    url = json.loads(lab.cli("dashboard", "--cluster", "local-single", "--json",
                             check=True).stdout)["dashboard"]
    proc = lab.cli("run", "actor-counter", "--cluster", url)
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        f"Error: the Jobs API at {url} refused the request (HTTP 401): the cluster requires a "
        "token and none was sent (set RAY101_TOKEN_FILE for a URL)"
    )


def test_a_wrong_token_gets_a_clear_error(lab, tmp_path):
    url = json.loads(lab.cli("dashboard", "--cluster", "local-single", "--json",
                             check=True).stdout)["dashboard"]
    wrong = tmp_path / "token"
    wrong.write_text("0" * 64)
    proc = lab.cli("jobs", "list", "--cluster", url, env={"RAY101_TOKEN_FILE": str(wrong)})
    assert proc.returncode == 1
    assert "refused the request (HTTP 40" in proc.stderr
    assert "rejected ray101's token" in proc.stderr
    assert "0" * 64 not in proc.stderr + proc.stdout


def test_clusters_lists_both_with_token_file_not_token(lab):
    proc = lab.cli("clusters", "--json", "--no-k8s", check=True)
    rows = {r["name"]: r for r in json.loads(proc.stdout)}
    assert set(rows) == {"local-single", "local-multi"}
    assert rows["local-single"]["nodes"] == 1 and rows["local-multi"]["nodes"] >= 3
    assert rows["local-multi"]["cpus"] == 3 * rows["local-single"]["cpus"]
    for r in rows.values():
        assert r["auth"] == "token" and r["answers"] is True
        assert r["token_file"] == str(lab.home / "auth_token")
    assert lab.token() not in proc.stdout


KNOWN = ("sequential-retrieve, parallel-retrieve, task-dependencies, mongo-sequential, "
         "mongo-parallel, mongo-partitioned, serve-echo, actor-counter")
PARAM = "Error: Invalid value for '--param' / '-p':"


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["run", "nope", "--cluster", "local-single"], 2,
         f"Error: Invalid value for 'WORKLOADS...': unknown workload 'nope' (known: {KNOWN})"),
        (["run", "parallel-retrieve", "--cluster", "nowhere"], 1,
         "Error: unknown cluster 'nowhere' (known: local-multi, local-single; k8s-* names come "
         "from the kube context; a Jobs API URL such as http://127.0.0.1:8265 also works)"),
        (["run", "parallel-retrieve", "--cluster", "local-single", "-p", "items=many"], 2,
         f"{PARAM} parameter 'items' must be an integer, not 'many'"),
        (["run", "parallel-retrieve", "--cluster", "local-single", "-p", "color=red"], 2,
         f"{PARAM} unknown parameter 'color' for workload 'parallel-retrieve' (known: fail, "
         "items, seconds)"),
        (["run", "parallel-retrieve", "--cluster", "local-single", "-p", "items"], 2,
         f"{PARAM} parameter 'items' is not in key=value form"),
        (["run", "parallel-retrieve", "--cluster", "local-single", "-p", "items=0"], 2,
         f"{PARAM} parameter 'items' must be >= 1, not 0"),
        (["run", "parallel-retrieve", "--cluster", "local-single", "-p", "seconds=nan"], 2,
         f"{PARAM} parameter 'seconds' must be a finite number, not 'nan'"),
        (["run", "parallel-retrieve", "--cluster", "local-single", "--repeat", "0"], 2,
         "Error: Invalid value for '--repeat' / '-n': 0 is not in the range x>=1."),
        (["run", "parallel-retrieve", "--cluster", "local-single", "--timeout", "-1"], 2,
         "Error: Invalid value for '--timeout': must be a finite number of seconds > 0, not -1"),
        (["compare", "--workloads", "parallel-retrieve,bogus"], 2,
         f"Error: Invalid value for '--workloads': unknown workload 'bogus' (known: {KNOWN})"),
        (["compare", "--clusters", "local-single,local-single"], 2,
         "Error: Invalid value for '--clusters': repeats a name: local-single,local-single"),
    ],
)
def test_bad_input_gets_one_exact_line_and_its_exit_code(lab, args, code, message):
    proc = lab.cli(*args)
    assert proc.returncode == code
    if code == 1:  # an error of the world: exactly one line
        assert proc.stderr.strip() == message
    else:  # a usage error: Click's usage lines, then the one error line
        assert proc.stderr.strip().splitlines()[-1] == message
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "Submitted" not in proc.stderr  # checked before anything is submitted


def test_dashboard_port_holds_its_forward_until_ctrl_c(lab):
    import signal
    import socket
    import urllib.request

    from test_faults_common import Background, wait_for

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dash = Background(lab, "dashboard", "--cluster", "local-multi", "--port", str(port), "--json")
    try:
        wait_for("the port-forward", lambda: "Port-forward open" in dash.stderr, 60)
        info = json.loads(dash.stdout)
        assert info["dashboard"] == f"http://127.0.0.1:{port}" and info["port_forward"] is True
        assert info["token"] is None and lab.token() not in dash.stdout + dash.stderr
        request = urllib.request.Request(f"{info['dashboard']}/api/version",
                                         headers={"Authorization": f"Bearer {lab.token()}"})
        with urllib.request.urlopen(request, timeout=10) as resp:
            assert json.loads(resp.read())["ray_version"]
        busy = lab.cli("dashboard", "--cluster", "local-multi", "--port", str(port))
        assert busy.returncode == 1
        assert busy.stderr.count("\n") == 1 and busy.stderr.endswith(
            "Address already in use (choose another --port)\n"), busy.stderr
        dash.signal(signal.SIGINT)
        assert dash.wait(30) == 0
    finally:
        dash.kill()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/version", timeout=5)


def test_dashboard_says_how_to_log_in_and_shows_the_token_only_when_asked(lab):
    plain = lab.cli("dashboard", "--cluster", "local-multi", check=True)
    token_file = str(lab.home / "auth_token")
    assert f"Log in: paste the token from {token_file}" in plain.stdout
    assert lab.token() not in plain.stdout + plain.stderr
    # Not through lab.cli: its transcript is searched for leaked tokens at the end.
    import subprocess

    from bench.harness import RAY101, REPO

    asked = subprocess.run([*RAY101, "dashboard", "--cluster", "local-multi", "--json",
                            "--show-token"], capture_output=True, text=True, env=lab.env,
                           cwd=REPO, timeout=60, check=True)
    shown = json.loads(asked.stdout)
    assert shown["token"] == lab.token() and shown["token_file"] == token_file
