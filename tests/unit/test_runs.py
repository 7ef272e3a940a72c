"""`ray101 runs`: the run store read back. A comparison recorded by `compare` renders again from
the store alone, byte for byte (no cluster here: the report is made from hand-made job records,
the way `ray101 compare` makes it; tests/test_workloads_local.py does it after a real compare)."""

import json

import pytest
from click.testing import CliRunner

from ray101 import comparison, render, store
from ray101.commands.output import print_json
from ray101.errors import Ray101Error
from ray101.main import cli


def _record_comparison(run_id: str) -> dict:
    runs = [
        # Clusters in the order compare ran them, not sorted: the re-render must keep it.
        {"workload": "parallel-retrieve", "cluster": "local-single", "status": "SUCCEEDED",
         "runtimes_s": [3.2, 3.0, 3.1], "ideal_s": 3.0, "output": [1], "job_id": "ray101-a",
         "node_ips": ["10.0.0.2"], "end_to_end_s": 12.5, "recorded_at": "2026-01-01T00:00:01"},
        {"workload": "parallel-retrieve", "cluster": "local-multi", "status": "SUCCEEDED",
         "runtimes_s": [2.6, 1.02, 1.07], "ideal_s": 1.0, "output": [1], "job_id": "ray101-b",
         "node_ips": ["10.0.0.3", "10.0.0.4"], "end_to_end_s": 8.25,
         "recorded_at": "2026-01-01T00:00:02"},
    ]
    facts = {"local-single": {"kind": "local", "topology": "single", "nodes": 1, "cpus": 2.0},
             "local-multi": {"kind": "local", "topology": "multi", "nodes": 3, "cpus": 6.0}}
    for entry in runs:
        store.record(run_id, {**entry, "run_id": run_id})
    data = comparison.report(runs, facts, run_id, 3, 33.3)
    store.record_comparison(data)
    return data


def test_show_renders_the_last_comparison_byte_for_byte(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RAY101_HOME", str(tmp_path / "home"))
    store.record("20250101-000000-aaaa", {"job_id": "ray101-old", "workload": "actor-counter",
                                          "cluster": "local-single", "status": "SUCCEEDED"})
    data = _record_comparison("20260101-000000-beef")
    render.write(data, tmp_path / "first")  # what `compare --out first` wrote
    print_json(data)
    compare_json = capsys.readouterr().out

    result = CliRunner().invoke(cli, ["runs", "show", "--out", str(tmp_path / "again")])
    assert result.exit_code == 0, result.output
    for name in ("compare.json", "compare.md", "compare.png", "compare.html"):
        assert (tmp_path / "again" / name).read_bytes() == (tmp_path / "first" / name).read_bytes(), name
    shown = CliRunner().invoke(cli, ["runs", "show", "20260101-000000-beef", "--json"])
    assert shown.output == compare_json
    md = CliRunner().invoke(cli, ["runs", "show", "--markdown"])
    assert md.output == (tmp_path / "first" / "compare.md").read_text()
    assert "local-single` 1 node(s) / 2 CPUs, `local-multi`" in md.output  # compare's order


def test_runs_lists_runs_and_comparisons(tmp_path, monkeypatch):
    monkeypatch.setenv("RAY101_HOME", str(tmp_path))
    store.record("20250101-000000-aaaa", {"job_id": "ray101-old", "workload": "actor-counter",
                                          "cluster": "local-single", "status": "FAILED"})
    _record_comparison("20260101-000000-beef")
    result = CliRunner().invoke(cli, ["runs", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [
        {"run_id": "20250101-000000-aaaa", "kind": "run", "jobs": 1, "succeeded": 0,
         "workloads": ["actor-counter"], "clusters": ["local-single"], "consistent": None},
        {"run_id": "20260101-000000-beef", "kind": "compare", "jobs": 2, "succeeded": 2,
         "workloads": ["parallel-retrieve"], "clusters": ["local-multi", "local-single"],
         "consistent": True},
    ]


def test_show_of_a_plain_run_prints_what_run_printed(tmp_path, monkeypatch):
    monkeypatch.setenv("RAY101_HOME", str(tmp_path))
    entry = {"job_id": "ray101-x", "workload": "parallel-retrieve", "cluster": "local-multi",
             "status": "SUCCEEDED", "output": [1], "runtimes_s": [3.2, 3.0, 3.1], "ideal_s": 3.0,
             "node_ips": ["10.0.0.3"], "end_to_end_s": 9.0}
    store.record("20260101-000000-cafe", entry)
    result = CliRunner().invoke(cli, ["runs", "show", "20260101-000000-cafe"])
    assert result.exit_code == 0, result.output
    assert "runtimes 3.20, 3.00, 3.10 s, warm 3.05 s, +2% vs ideal 3.00 s" in result.output


def test_show_errors_are_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("RAY101_HOME", str(tmp_path))
    none = CliRunner().invoke(cli, ["runs", "show"])
    assert none.exit_code == 1
    assert none.output.strip().splitlines() == [
        f"Error: no comparison recorded in {tmp_path / 'runs'}: run `ray101 compare` first"]
    _record_comparison("20260101-000000-beef")
    unknown = CliRunner().invoke(cli, ["runs", "show", "20260101-000000-dead"])
    assert unknown.exit_code == 1
    assert unknown.output.strip() == (
        f"Error: no run 20260101-000000-dead in {tmp_path / 'runs'} (the latest is "
        "20260101-000000-beef; `ray101 runs` lists them)")
    for bad in ("nope", "../x", "../../etc", "20260101-000000-beef/.."):
        escape = CliRunner().invoke(cli, ["runs", "show", bad])
        assert escape.exit_code == 2, bad
        assert escape.output.strip().splitlines()[-1] == (
            f"Error: Invalid value for '[RUN_ID]': '{bad}' is not a run id (like "
            "20260101-120000-ab12; `ray101 runs` lists them)")


def test_the_store_never_leaves_its_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("RAY101_HOME", str(tmp_path))
    for bad in ("../x", "..", "/etc", ""):
        with pytest.raises(Ray101Error, match="is not a run id"):
            store.entries(bad)
    with pytest.raises(Ray101Error, match="cannot name a record file"):
        store.record("20260101-000000-beef", {"job_id": "../escape"})
    assert not (tmp_path / "runs" / "escape.json").exists()
