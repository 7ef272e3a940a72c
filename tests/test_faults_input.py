"""Bad input that only a running cluster can judge (job ids it does not have, a Serve app it
does not run): one line, never a traceback. The checks that need no cluster are in
tests/unit/test_cli_input.py."""

import pytest

# (args, exit code, the error line)
CASES = [
    (["jobs", "status", "no-such-job", "--cluster", "local-single"], 1,
     "Error: status of no-such-job: no such job on local-single"),
    (["jobs", "logs", "no-such-job", "--cluster", "local-multi"], 1,
     "Error: logs of no-such-job: no such job on local-multi"),
    (["jobs", "stop", "no-such-job", "--cluster", "local-single"], 1,
     "Error: stop no-such-job: no such job on local-single"),
    (["jobs", "delete", "no-such-job", "--cluster", "local-single"], 1,
     "Error: delete no-such-job: no such job on local-single"),
]


@pytest.mark.parametrize("args, code, line", CASES, ids=[" ".join(c[0])[:60] for c in CASES])
def test_bad_input_is_one_error_line_never_a_traceback(lab, args, code, line):
    proc = lab.cli(*args, timeout=120)
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: ")
    if line is not None:
        assert last == line
    if code == 1:  # our own errors are exactly one line
        assert proc.stderr.strip() == last
    assert "Submitted" not in proc.stderr + proc.stdout


def test_serve_call_on_a_cluster_without_the_app_says_how_to_deploy_it(lab):
    # Deploy and delete the echo app (keep=false, the default): nothing serves /echo any more.
    lab.cli("run", "serve-echo", "--cluster", "local-single", "-p", "calls=1",
            "-p", "keep=false", "-q", check=True)
    proc = lab.cli("serve", "call", "--cluster", "local-single", "--data", "x")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    line = proc.stderr.strip()
    assert line.count("\n") == 0 and line.startswith("Error: ")
    # serve-echo removes Serve at its end, so its proxy no longer listens at all.
    assert "does not answer" in line
    assert "deploy it with `ray101 run serve-echo --cluster local-single`" in line
