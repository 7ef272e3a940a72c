"""Every `--json` output against its documented shape (cli/ray101/commands/shapes.py, the README's
table): the top-level type and the keys each object has, from the real commands on the lab."""

from __future__ import annotations

import json

import click
import pytest

from ray101.commands.shapes import SHAPES

SINGLE = "local-single"


def assert_shape(command: str, data) -> None:
    """``data`` is what ``ray101 COMMAND --json`` printed: check it against SHAPES."""
    kind, keys, _ = SHAPES[command]
    if kind == "list":
        assert isinstance(data, list), f"{command}: a list, not {type(data).__name__}"
        objects = data
    else:
        assert isinstance(data, dict), f"{command}: an object, not {type(data).__name__}"
        objects = [data]
    for obj in objects:
        missing = set(keys) - set(obj)
        assert not missing, f"{command} --json lacks {sorted(missing)}"


def _json(lab, *args, **kw):
    proc = lab.cli(*args, "--json", check=True, **kw)
    return json.loads(proc.stdout)


def test_every_command_with_json_is_documented():
    from ray101.main import cli

    def walk(group, path=()):
        for name, cmd in group.commands.items():
            if any(p.name == "as_json" for p in cmd.params):  # a group may print, as `runs`
                yield " ".join(path + (name,))
            if isinstance(cmd, click.Group):
                yield from walk(cmd, path + (name,))

    assert sorted(walk(cli)) == sorted(SHAPES)


def test_one_workload_or_several_run_prints_a_list(lab):
    one = _json(lab, "run", "actor-counter", "--cluster", SINGLE, "-p", "count=3")
    assert_shape("run", one)
    assert len(one) == 1
    shown = _json(lab, "runs", "show", one[0]["run_id"])
    assert_shape("runs show", shown)
    assert [e["job_id"] for e in shown["runs"]] == [e["job_id"] for e in one]
    assert_shape("runs", _json(lab, "runs"))
    two = _json(lab, "run", "actor-counter", "task-dependencies", "--cluster", SINGLE,
                "-p", "seconds=0")
    assert_shape("run", two)
    assert [e["workload"] for e in two] == ["actor-counter", "task-dependencies"]


def test_listing_commands(lab):
    assert_shape("workloads", _json(lab, "workloads"))
    assert_shape("clusters", _json(lab, "clusters", "--no-k8s"))
    assert_shape("local status", _json(lab, "local", "status"))
    assert_shape("dashboard", _json(lab, "dashboard", "--cluster", SINGLE))


def test_job_commands(lab):
    submitted = _json(lab, "submit", "actor-counter", "--cluster", SINGLE)
    assert_shape("submit", submitted)
    job_id = submitted["job_id"]
    assert_shape("jobs list", _json(lab, "jobs", "list", "--cluster", SINGLE))
    assert_shape("jobs status", _json(lab, "jobs", "status", job_id, "--cluster", SINGLE))
    stopped = _json(lab, "jobs", "stop", job_id, "--cluster", SINGLE)  # waits for the end
    assert_shape("jobs stop", stopped)
    assert stopped["status"] in ("STOPPED", "SUCCEEDED")
    assert_shape("jobs delete", _json(lab, "jobs", "delete", job_id, "--cluster", SINGLE))


def test_compare_and_serve(lab, tmp_path):
    assert_shape("compare", _json(lab, "compare", "--clusters", SINGLE, "--workloads",
                                  "actor-counter", "-n", "1", "--out", str(tmp_path)))
    # keep=true: serve-echo otherwise removes its app (and Serve) when the job ends.
    lab.cli("run", "serve-echo", "--cluster", SINGLE, "-p", "calls=1", "-p", "keep=true", "-q",
            check=True)
    try:
        assert_shape("serve call", _json(lab, "serve", "call", "--cluster", SINGLE, "--data", "x"))
    finally:  # leave the lab idle: a run without keep removes the app and Serve again
        lab.cli("run", "serve-echo", "--cluster", SINGLE, "-p", "calls=1", "-q", check=True)


def test_mongo_commands(lab):
    status = _json(lab, "mongo", "status")
    assert_shape("mongo status", status)
    if not status["managed"]:
        pytest.skip("an external MongoDB (RAY101_MONGO_URI): install/stop/start are not ours")
    assert_shape("mongo install", _json(lab, "mongo", "install"))
    assert_shape("mongo seed", _json(lab, "mongo", "seed", "--uri", status["uri"]))
    assert_shape("mongo stop", _json(lab, "mongo", "stop"))
    started = _json(lab, "mongo", "start", "--host", status["host"], "--port",
                    str(status["port"]))
    assert_shape("mongo start", started)
    assert started["running"]
