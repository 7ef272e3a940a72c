"""Every workload on both local clusters, through `ray101 compare`: outputs, files, agreement."""

import base64
import json

import pytest

from conftest import needs_netns
from ray101_jobs import mflix

PAIRS = [[0, "Learning"], [1, "Ray"], [2, "Learning"], [3, "Ray"], [4, "Learning"], [5, "Ray"]]
MONGO = ("mongo-sequential", "mongo-parallel", "mongo-partitioned")
ALL = ("sequential-retrieve", "parallel-retrieve", "task-dependencies", *MONGO, "serve-echo",
       "actor-counter")


@pytest.fixture(scope="module")
def compared(lab, tmp_path_factory):
    out = tmp_path_factory.mktemp("compare")
    proc = lab.cli("compare", "--repeat", "2", "--out", str(out), "--json", timeout=1200)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), out


def runs_of(data, workload):
    return {r["cluster"]: r for r in data["runs"] if r["workload"] == workload}


def test_compare_runs_every_workload_on_both_clusters_and_all_succeed(compared):
    data, _ = compared
    assert {(r["workload"], r["cluster"]) for r in data["runs"]} == {
        (w, c) for w in ALL for c in ("local-single", "local-multi")
    }
    assert all(r["status"] == "SUCCEEDED" for r in data["runs"]), [
        (r["workload"], r["cluster"], r["message"]) for r in data["runs"] if r["status"] != "SUCCEEDED"
    ]
    assert data["consistent"] is True


@pytest.mark.parametrize("cluster", ["local-single", "local-multi"])
def test_each_workload_gives_the_tutorial_output(compared, cluster):
    data, _ = compared
    out = {w: runs_of(data, w)[cluster]["output"] for w in ALL}
    assert out["sequential-retrieve"] == PAIRS
    assert out["parallel-retrieve"] == PAIRS
    assert out["task-dependencies"] == 20
    assert out["actor-counter"] == [0, 1, 3, 6, 10]
    assert out["serve-echo"] == {"answer": "Received data: Hello", "missing_data_status": 400}
    total = mflix.DEFAULT_MOVIES + mflix.DEFAULT_COMMENTS
    assert total == 44562
    for w in MONGO:
        assert out[w]["count"] == total
        assert out[w]["movies"] == mflix.DEFAULT_MOVIES
        assert out[w]["comments"] == mflix.DEFAULT_COMMENTS
    # the three ways of reading MongoDB agree on the content, not only on the count
    assert len({out[w]["digest"] for w in MONGO}) == 1


def test_each_run_records_cold_and_warm_runtimes_and_the_ideal(compared):
    data, _ = compared
    for run in data["runs"]:
        assert len(run["runtimes_s"]) == 2 and all(t > 0 for t in run["runtimes_s"])
    single, multi = (runs_of(data, "parallel-retrieve")[c] for c in ("local-single", "local-multi"))
    # ceil(6 tasks / CPUs) x 1 s: 2 CPUs on one node, 6 CPUs on three nodes
    assert single["ideal_s"] == 3.0 and multi["ideal_s"] == 1.0
    assert runs_of(data, "sequential-retrieve")["local-multi"]["ideal_s"] == 6.0


def test_each_cluster_reports_its_node_count(compared):
    data, _ = compared
    assert data["clusters"]["local-single"]["nodes"] == 1
    assert data["clusters"]["local-multi"]["nodes"] >= 3


@needs_netns  # work spread is seen through node IPs
def test_multi_node_work_really_spreads_over_nodes(compared):
    data, _ = compared
    multi = runs_of(data, "parallel-retrieve")["local-multi"]
    single = runs_of(data, "parallel-retrieve")["local-single"]
    assert len(multi["node_ips"]) >= 2
    assert len(single["node_ips"]) == 1


def test_compare_writes_json_markdown_png_and_html(compared):
    data, out = compared
    on_disk = json.loads((out / "compare.json").read_text())
    assert on_disk["consistent"] is True
    assert set(on_disk["clusters"]["local-multi"]) >= {"nodes", "cpus"}
    for run in on_disk["runs"]:
        assert set(run) >= {"workload", "cluster", "job_id", "status", "output", "runtimes_s",
                            "ideal_s"}
    md = (out / "compare.md").read_text()
    assert "| workload | cluster | cold s | warm s |" in md
    assert all(w in md for w in ALL)
    png = (out / "compare.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    # The HTML report stands alone: the table and the very same picture, embedded.
    page = (out / "compare.html").read_text()
    assert "<td>parallel-retrieve</td>" in page and "<th>speedup</th>" in page
    assert f"data:image/png;base64,{base64.b64encode(png).decode()}" in page
    assert "src=\"http" not in page and "href=" not in page
    assert not list(out.glob(".*.tmp")), "no temp files left behind"


def test_jobs_are_tagged_with_workload_and_topology(lab, compared):
    data, _ = compared
    proc = lab.cli("jobs", "list", "--cluster", "local-multi", "--json", check=True)
    jobs = {j["job_id"]: j for j in json.loads(proc.stdout)}
    for run in data["runs"]:
        if run["cluster"] != "local-multi":
            continue
        meta = jobs[run["job_id"]]["metadata"]
        assert meta["workload"] == run["workload"]
        assert meta["topology"] == "multi"
        assert meta["cluster"] == "local-multi"
        assert meta["run_id"] == data["run_id"]


def test_runs_show_renders_the_comparison_again_byte_for_byte(lab, compared, tmp_path):
    data, out = compared
    # Other tests share this lab and record runs of their own, so look this one up by its id.
    listed = {r["run_id"]: r for r in json.loads(lab.cli("runs", "--json", check=True).stdout)}
    assert listed[data["run_id"]]["kind"] == "compare"
    again = tmp_path / "again"
    lab.cli("runs", "show", data["run_id"], "--out", str(again), check=True)
    for name in ("compare.json", "compare.md", "compare.png", "compare.html"):
        assert (again / name).read_bytes() == (out / name).read_bytes(), name
    shown = lab.cli("runs", "show", data["run_id"], "--json", check=True)
    assert json.loads(shown.stdout) == data
    # `ray101 run` and `ray101 compare` agree on every figure of the same job.
    from ray101.commands.output import summary_line
    from ray101.figures import cold_warm, overhead_pct

    for run in data["runs"]:
        row = next(r for r in data["rows"] if r["workload"] == run["workload"])
        cell = row["clusters"][run["cluster"]]
        cold, warm = cold_warm(run["runtimes_s"])
        assert (cell["cold_s"], cell["warm_s"]) == (cold, warm)
        if cell["overhead_pct"] is not None:
            assert f"warm {warm:.2f} s, {overhead_pct(warm, run['ideal_s']):+.0f}% vs ideal" in \
                summary_line(run)
