"""Bad parameters, unknown names and malformed values on every command: one line, never a
traceback; and every command's help ends with an example. In-process (Click's CliRunner), with
both local clusters recorded but not running: every check here happens before ray101 would
contact a cluster."""

import click
import pytest
from click.testing import CliRunner

from ray101.main import cli

UNKNOWN = ("unknown cluster 'nowhere' (known: local-multi, local-single; k8s-* names come from "
           "the kube context; a Jobs API URL such as http://127.0.0.1:8265 also works)")

PARAM = "Error: Invalid value for '--param' / '-p':"

# (args, exit code, the error line; None = only "Error: " and the code are checked).
# Usage errors (a malformed or out-of-range value) exit 2, errors of the world 1.
CASES = [
    (["run", "parallel-retrieve", "--cluster", "local-single", "--repeat", "abc"], 2,
     "Error: Invalid value for '--repeat' / '-n': 'abc' is not a valid integer range."),
    (["run", "--cluster", "local-single"], 2, "Error: Missing argument 'WORKLOADS...'."),
    (["run", "actor-counter", "--cluster", "local-single", "-p", "seconds=-1"], 2,
     f"{PARAM} parameter 'seconds' must be >= 0, not -1"),
    (["run", "serve-echo", "--cluster", "local-single", "-p", "keep=maybe"], 2,
     f"{PARAM} parameter 'keep' must be true or false, not 'maybe'"),
    (["run", "actor-counter", "--cluster", "local-single", "-p", "node="], 2,
     f"{PARAM} parameter 'node' must not be empty"),
    (["run", "actor-counter", "--cluster", "local-single", "--timeout", "inf"], 2,
     "Error: Invalid value for '--timeout': must be a finite number of seconds > 0, not inf"),
    (["submit", "nope", "--cluster", "local-single"], 2,
     "Error: Invalid value for 'WORKLOAD': unknown workload 'nope' (known: sequential-retrieve, "
     "parallel-retrieve, task-dependencies, mongo-sequential, mongo-parallel, mongo-partitioned, "
     "serve-echo, actor-counter)"),
    (["submit", "parallel-retrieve", "--cluster", "local-single", "-p", "items=-1"], 2,
     f"{PARAM} parameter 'items' must be >= 1, not -1"),
    (["submit", "parallel-retrieve", "--cluster", "local-single", "--repeat", "-2"], 2,
     "Error: Invalid value for '--repeat' / '-n': -2 is not in the range x>=1."),
    (["submit", "parallel-retrieve", "--cluster", "nowhere"], 1, f"Error: {UNKNOWN}"),
    (["jobs", "list", "--cluster", "nowhere"], 1, f"Error: {UNKNOWN}"),
    (["jobs", "status", "--cluster", "local-single"], 2, "Error: Missing argument 'JOB_ID'."),
    (["jobs", "frobnicate"], 2, "Error: No such command 'frobnicate'."),
    (["compare", "--repeat", "0"], 2,
     "Error: Invalid value for '--repeat' / '-n': 0 is not in the range x>=1."),
    (["compare", "--clusters", ","], 2, "Error: Invalid value for '--clusters': names nothing"),
    (["compare", "--clusters", "local-single,local-single"], 2,
     "Error: Invalid value for '--clusters': repeats a name: local-single,local-single"),
    (["compare", "--workloads", ","], 2, "Error: Invalid value for '--workloads': names nothing"),
    (["compare", "--workloads", "nope"], 2,
     "Error: Invalid value for '--workloads': unknown workload 'nope' (known: "
     "sequential-retrieve, parallel-retrieve, task-dependencies, mongo-sequential, "
     "mongo-parallel, mongo-partitioned, serve-echo, actor-counter)"),
    (["compare", "--timeout", "-5"], 2,
     "Error: Invalid value for '--timeout': must be a finite number of seconds > 0, not -5"),
    (["compare", "--timeout", "nan"], 2,
     "Error: Invalid value for '--timeout': must be a finite number of seconds > 0, not nan"),
    (["compare", "--clusters", "local-single,nowhere", "--workloads", "task-dependencies"], 1,
     f"Error: {UNKNOWN}"),
    (["compare", "--out", "README.md", "--workloads", "task-dependencies"], 2,
     "Error: Invalid value for '--out': README.md exists and is not a folder"),
    (["compare", "--out", "README.md/results", "--workloads", "task-dependencies"], 2,
     "Error: Invalid value for '--out': cannot write into README.md/results: Not a directory"),
    (["local", "up", "--cpus", "0"], 2,
     "Error: Invalid value for '--cpus': must be a finite number > 0, not 0"),
    (["local", "up", "--cpus", "abc"], 2,
     "Error: Invalid value for '--cpus': 'abc' is not a finite number"),
    (["local", "up", "--workers", "1"], 2,
     "Error: Invalid value for '--workers': 1 is not in the range x>=2."),
    (["local", "up", "--subnet", "300.1.2.0/24"], 2,
     "Error: Invalid value for '--subnet': '300.1.2.0/24' is not a valid network: '300.1.2.0/24' "
     "does not appear to be an IPv4 or IPv6 network"),
    (["local", "up", "--subnet", "10.0.0.0/30"], 2,
     "Error: Invalid value for '--subnet': '10.0.0.0/30' has too few addresses for 2 workers "
     "(at least 6 hosts)"),
    (["local", "up", "--mongo-port", "70000"], 2, None),
    (["mongo", "seed", "--movies", "-5"], 2,
     "Error: Invalid value for '--movies': must be >= 0, got -5"),
    (["mongo", "seed", "--comments", "-1"], 2,
     "Error: Invalid value for '--comments': must be >= 0, got -1"),
    (["mongo", "start", "--port", "0"], 2, None),
    (["chaos", "kill-node", "--cluster", "local-multi", "--node", "nope"], 1,
     "Error: local-multi has no node 'nope' (its nodes: local-multi-head, local-multi-w1, "
     "local-multi-w2)"),
    (["chaos", "kill-node", "--cluster", "local-multi", "--node", "local-multi-head"], 1,
     "Error: local-multi-head is the head of local-multi: only worker nodes can be targeted"),
    (["chaos", "kill-node", "--cluster", "local-single"], 1,
     "Error: local-single has no worker node (only its head, which is never a target)"),
    (["chaos", "kill-node", "--cluster", "nowhere"], 1, f"Error: {UNKNOWN}"),
    (["chaos", "kill-node", "--cluster", "http://127.0.0.1:9"], 1,
     "Error: chaos needs a local or KubeRay cluster, not a Jobs API URL (http://127.0.0.1:9)"),
    (["chaos", "partition", "--cluster", "local-multi", "--node", "local-multi-head",
      "--seconds", "3"], 1,
     "Error: local-multi-head is the head of local-multi: only worker nodes can be targeted"),
    (["chaos", "partition", "--cluster", "local-multi", "--node", "local-multi-w9",
      "--seconds", "3"], 1,
     "Error: local-multi has no node 'local-multi-w9' (its nodes: local-multi-head, "
     "local-multi-w1, local-multi-w2)"),
    (["chaos", "partition", "--cluster", "local-multi", "--node", "local-multi-w1",
      "--seconds", "-1"], 2,
     "Error: Invalid value for '--seconds': must be a finite number of seconds > 0, not -1"),
    (["chaos", "partition", "--cluster", "local-multi", "--node", "local-multi-w1",
      "--seconds", "inf"], 2,
     "Error: Invalid value for '--seconds': must be a finite number of seconds > 0, not inf"),
    (["chaos", "partition", "--cluster", "local-multi", "--node", "local-multi-w1",
      "--seconds", "7200"], 2, "Error: Invalid value for '--seconds': must be at most 3600 seconds, not 7200"),
    (["jobs", "stop", "x", "--cluster", "local-single", "--timeout", "0"], 2,
     "Error: Invalid value for '--timeout': must be a finite number of seconds > 0, not 0"),
    (["runs", "show", "../x"], 2,
     "Error: Invalid value for '[RUN_ID]': '../x' is not a run id (like 20260101-120000-ab12; "
     "`ray101 runs` lists them)"),
    (["chaos", "partition", "--cluster", "local-multi", "--node", "local-multi-w1"], 2,
     "Error: Missing option '--seconds'."),
    (["chaos", "partition", "--cluster", "http://127.0.0.1:9", "--node", "x", "--seconds", "1"],
     1, "Error: partition works on local clusters in network namespaces, not on "
        "http://127.0.0.1:9 (url)"),
    (["dashboard", "--cluster", "nowhere"], 1, f"Error: {UNKNOWN}"),
    (["serve", "call", "--cluster", "nowhere", "--data", "x"], 1, f"Error: {UNKNOWN}"),
    (["serve", "call", "--cluster", "local-single"], 2, "Error: Missing option '--data'."),
    (["serve", "call", "--cluster", "http://127.0.0.1:9", "--data", "x"], 1,
     "Error: cluster http://127.0.0.1:9 has no known Serve address"),
    (["nope"], 2, "Error: No such command 'nope'."),
]


@pytest.mark.parametrize("args, code, line", CASES, ids=[" ".join(c[0])[:60] for c in CASES])
def test_bad_input_is_one_error_line_never_a_traceback(loopback_lab, args, code, line):
    result = CliRunner().invoke(cli, args)
    out = result.output
    assert result.exit_code == code, out
    assert "Traceback" not in out, out
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    last = out.strip().splitlines()[-1]
    assert last.startswith("Error: ")
    if line is not None:
        assert last == line
    if code == 1:  # our own errors are exactly one line
        assert out.strip() == last
    assert "Submitted" not in out


def test_partition_on_a_loopback_cluster_is_refused(loopback_lab):
    result = CliRunner().invoke(cli, ["chaos", "partition", "--cluster", "local-multi",
                                      "--node", "local-multi-w1", "--seconds", "1"])
    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: local-multi runs on loopback (no network namespaces): a node cannot be cut off "
        "there; start the clusters as root with --netns")


def _walk(group: click.Group, path: list[str]):
    yield path, group
    if isinstance(group, click.Group):
        for name, sub in group.commands.items():
            yield from _walk(sub, path + [name])


def test_every_command_and_group_has_help_ending_with_an_example():
    runner = CliRunner()
    missing = []
    for path, _ in _walk(cli, []):
        result = runner.invoke(cli, [*path, "--help"], terminal_width=200)
        assert result.exit_code == 0, (path, result.output)
        doc = result.output.split("\nOptions:")[0].split("\nCommands:")[0].strip()
        lines = [line.strip() for line in doc.splitlines() if line.strip()]
        # "Example: ray101 ...", or an "Example:"/"Quick start:" heading over ray101 lines.
        tail = lines[-4:]
        ends_with_example = lines[-1].startswith("Example: ray101 ") or (
            lines[-1].startswith("ray101 ")
            and any(line.startswith(("Example", "Quick start")) for line in tail))
        if not ends_with_example:
            missing.append(" ".join(["ray101", *path]))
    assert not missing, f"help without an example at the end: {missing}"
