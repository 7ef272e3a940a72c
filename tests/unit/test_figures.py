"""`ray101 run` and `ray101 compare` report the same figures for the same job (one median)."""

from ray101 import comparison, render
from ray101.commands.output import summary_line
from ray101.figures import cold_warm, overhead_pct


def _entry(cluster: str, topology_runtimes: list[float], ideal: float | None) -> dict:
    return {"workload": "parallel-retrieve", "cluster": cluster, "status": "SUCCEEDED",
            "output": [1], "runtimes_s": topology_runtimes, "ideal_s": ideal,
            "node_ips": ["10.0.0.1"], "job_id": f"job-{cluster}", "end_to_end_s": 9.0}


def test_warm_is_the_median_of_the_warm_repetitions():
    # Cold 3.2; warm [3.0, 3.1] has an even count: the median is their mean, not the upper one.
    assert cold_warm([3.2, 3.0, 3.1]) == (3.2, 3.05)
    assert cold_warm([4.0]) == (4.0, 4.0)
    assert cold_warm([]) == (None, None)


def test_run_and_compare_agree_on_cold_warm_and_overhead():
    entry = _entry("local-single", [3.2, 3.0, 3.1], 2.9)
    line = summary_line(entry)
    assert "warm 3.05 s" in line and "warm 3.10 s" not in line
    assert f"{overhead_pct(3.05, 2.9):+.0f}% vs ideal 2.90 s" in line  # +5%

    data = comparison.report([entry], {"local-single": {"topology": "single"}}, "r", 3, 1.0)
    cell = data["rows"][0]["clusters"]["local-single"]
    assert (cell["cold_s"], cell["warm_s"], cell["overhead_pct"]) == (3.2, 3.05, 5.2)
    _, body = render.table_rows(data)
    assert body[0][2:6] == ["3.20", "3.05", "2.90", "+5%"]


def test_overhead_is_rounded_once():
    # 1.46 %: rounded to one decimal (1.5) and then shown as +2%; `run` once rounded the raw
    # value (+1%). Both now format the same rounded value.
    entry = _entry("local-multi", [1.5, 1.0146], 1.0)
    pct = overhead_pct(1.0146, 1.0)
    data = comparison.report([entry], {"local-multi": {"topology": "multi"}}, "r", 2, 1.0)
    _, body = render.table_rows(data)
    assert pct == 1.5 and body[0][5] == "+2%"
    assert "+2% vs ideal" in summary_line(entry)
