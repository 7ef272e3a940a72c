"""The comparison's arithmetic and presentation: cold/warm split, overhead over the ideal,
multi-over-single speedup, agreement of outputs, the table and the Markdown report."""

import pytest

from ray101 import comparison, render
from ray101.figures import cold_warm

CLUSTERS = {"local-single": {"topology": "single"}, "local-multi": {"topology": "multi"}}


def run(workload, cluster, runtimes, output=20, status="SUCCEEDED", ideal=None):
    return {"workload": workload, "cluster": cluster, "status": status, "output": output,
            "runtimes_s": runtimes, "ideal_s": ideal, "job_id": f"{workload}-{cluster}"}


@pytest.mark.parametrize("runtimes, cold, warm", [
    ([], None, None),
    ([4.0], 4.0, 4.0),  # alone, the cold run is also the warm one
    ([4.0, 2.0], 4.0, 2.0),
    ([9.0, 3.0, 1.0, 2.0], 9.0, 2.0),  # warm = median of the repetitions after the first
    ([9.0, 1.0, 3.0], 9.0, 2.0),
])
def test_cold_is_the_first_repetition_and_warm_the_median_of_the_rest(runtimes, cold, warm):
    assert cold_warm(runtimes) == (cold, warm)


def test_summary_gives_overhead_over_ideal_and_speedup_single_over_multi():
    runs = [run("parallel-retrieve", "local-single", [5.0, 3.3], ideal=3.0),
            run("parallel-retrieve", "local-multi", [4.0, 1.1], ideal=1.0)]
    rows, consistent = comparison.summarise(runs, CLUSTERS)
    assert consistent is True
    [row] = rows
    assert row["speedup"] == 3.0  # 3.3 / 1.1
    single, multi = row["clusters"]["local-single"], row["clusters"]["local-multi"]
    assert (single["cold_s"], single["warm_s"], single["overhead_pct"]) == (5.0, 3.3, 10.0)
    assert (multi["cold_s"], multi["warm_s"], multi["overhead_pct"]) == (4.0, 1.1, 10.0)
    assert row["all_succeeded"] and row["outputs_agree"]


def test_different_outputs_make_the_comparison_inconsistent():
    runs = [run("task-dependencies", "local-single", [1.0], output=20),
            run("task-dependencies", "local-multi", [1.0], output=21)]
    rows, consistent = comparison.summarise(runs, CLUSTERS)
    assert consistent is False and rows[0]["outputs_agree"] is False
    # the same content in another key order is the same output
    same = [run("m", "local-single", [1.0], output={"a": 1, "b": 2}),
            run("m", "local-multi", [1.0], output={"b": 2, "a": 1})]
    assert comparison.summarise(same, CLUSTERS)[1] is True


def test_a_failed_run_has_no_times_no_speedup_and_breaks_agreement():
    runs = [run("mongo-parallel", "local-single", [2.0, 1.0]),
            run("mongo-parallel", "local-multi", [], output=None, status="FAILED")]
    rows, consistent = comparison.summarise(runs, CLUSTERS)
    multi = rows[0]["clusters"]["local-multi"]
    assert (multi["status"], multi["cold_s"], multi["warm_s"], multi["overhead_pct"]) == (
        "FAILED", None, None, None)
    assert rows[0]["speedup"] is None and rows[0]["all_succeeded"] is False
    assert consistent is False


def test_no_ideal_means_no_overhead_and_one_cluster_means_no_speedup():
    rows, _ = comparison.summarise([run("actor-counter", "local-single", [2.0, 1.0])],
                                   {"local-single": {"topology": "single"}})
    assert rows[0]["clusters"]["local-single"]["overhead_pct"] is None
    assert rows[0]["speedup"] is None


def test_report_table_and_markdown_show_failures_and_agreement():
    runs = [run("parallel-retrieve", "local-single", [5.0, 3.3], output=[1], ideal=3.0),
            run("parallel-retrieve", "local-multi", [4.0, 1.1], output=[1], ideal=1.0),
            run("serve-echo", "local-single", [1.0], output="x"),
            run("serve-echo", "local-multi", [], output=None, status="STOPPED")]
    data = comparison.report(runs, CLUSTERS, "run-1", 2, elapsed_s=12.34)
    assert data["consistent"] is False and data["elapsed_s"] == 12.3
    header, body = render.table_rows(data)
    assert header[:4] == ["workload", "cluster", "cold s", "warm s"]
    assert body[0] == ["parallel-retrieve", "local-single", "5.00", "3.30", "3.00", "+10%",
                       "3.00x", "yes"]
    assert body[1] == ["", "local-multi", "4.00", "1.10", "1.00", "+10%", "", ""]
    assert body[3][:4] == ["", "local-multi", "STOPPED", "—"]
    assert body[2][-2:] == ["—", "NO"]
    md = render.markdown(data)
    assert "| workload | cluster | cold s | warm s |" in md
    assert "| parallel-retrieve | local-single | 5.00 | 3.30 |" in md
