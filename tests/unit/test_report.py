"""compare's presentation (picture and HTML report) from a hand-made summary: no cluster needed."""

import base64

from ray101 import comparison, render


def _data(status_multi="SUCCEEDED"):
    runs = [
        {"workload": "parallel-retrieve", "cluster": "local-single", "status": "SUCCEEDED",
         "runtimes_s": [3.2, 3.0], "ideal_s": 3.0, "output": [1], "job_id": "a"},
        {"workload": "parallel-retrieve", "cluster": "local-multi", "status": status_multi,
         "runtimes_s": [2.6, 1.02] if status_multi == "SUCCEEDED" else [], "ideal_s": 1.0,
         "output": [1], "job_id": "b"},
        {"workload": "mongo-<sequential>", "cluster": "local-single", "status": "SUCCEEDED",
         "runtimes_s": [60.0, 55.0], "ideal_s": None, "output": [2], "job_id": "c"},
        {"workload": "mongo-<sequential>", "cluster": "local-multi", "status": "SUCCEEDED",
         "runtimes_s": [61.0, 58.0], "ideal_s": None, "output": [2], "job_id": "d"},
    ]
    facts = {"local-multi": {"kind": "local", "topology": "multi", "nodes": 3, "cpus": 6},
             "local-single": {"kind": "local", "topology": "single", "nodes": 1, "cpus": 2}}
    return comparison.report(runs, facts, "run-1", 2, 12.0)


def test_html_report_embeds_the_picture_and_escapes_names(tmp_path):
    files = render.write(_data(), tmp_path)
    assert sorted(f.name for f in files) == ["compare.html", "compare.json", "compare.md",
                                             "compare.png"]
    page = (tmp_path / "compare.html").read_text()
    png = (tmp_path / "compare.png").read_bytes()
    assert f"data:image/png;base64,{base64.b64encode(png).decode()}" in page
    assert "<td>mongo-&lt;sequential&gt;</td>" in page and "<sequential>" not in page
    assert "<td>2.94x</td>" in page  # 3.0 / 1.02


def test_picture_is_drawn_when_a_run_failed(tmp_path):
    data = _data(status_multi="FAILED")
    assert data["rows"][0]["speedup"] is None
    png = render.plot_png(data)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert "FAILED" in (render.html_report(data, png))
