"""compare's report for k8s-auto and for both submission paths: no cluster needed. The autoscaling
block is the one `ray101 compare --clusters k8s-multi,k8s-auto --via jobs-api,rayjob` recorded on
kind (docs/kubernetes.md), trimmed to what the report reads."""

from ray101 import comparison, matrix, render

KIND_AUTO = {
    "errors": [], "idle_timeout_s": 30, "max_workers": 2, "raycluster": "ray101-auto",
    "scaled_down": {"after_s": 33.1, "gone": True, "left": 0, "waited_at_most_s": 120.0},
    "workers": [
        {"created_s": 6.8, "first_task_during": "task-dependencies", "first_task_s": 50.4,
         "made_during": "parallel-retrieve", "node_alive_s": 44.6, "node_ip": "10.245.2.7",
         "pod": "ray101-auto-workers-worker-69f77"},
        {"created_s": 6.8, "first_task_during": None, "first_task_s": None,
         "made_during": "parallel-retrieve", "node_alive_s": None, "node_ip": None,
         "pod": "ray101-auto-workers-worker-tnngp"},
    ],
}


def _report(auto: dict) -> dict:
    runs = [{"workload": "parallel-retrieve", "cluster": name, "status": "SUCCEEDED",
             "runtimes_s": times, "ideal_s": 1.0, "output": [[0, "a"]], "job_id": name}
            for name, times in (("k8s-multi", [2.39, 1.04]), ("k8s-multi via rayjob", [2.08, 1.03]),
                                ("k8s-auto", [3.46, 3.14]))]
    facts = {"k8s-multi": {"kind": "k8s", "topology": "multi", "nodes": 3, "cpus": 6, "via": "jobs-api"},
             "k8s-multi via rayjob": {"kind": "k8s", "topology": "multi", "nodes": 3, "cpus": 6,
                                      "via": "rayjob"},
             "k8s-auto": {"kind": "k8s", "topology": "auto", "nodes": 1, "cpus": 2,
                          "via": "jobs-api", "autoscaling": auto}}
    return comparison.report(runs, facts, "20261206-204125-c981", 2, 224.0)


def test_the_two_paths_are_two_columns_whose_outputs_are_compared():
    assert matrix.label("k8s-multi", "jobs-api") == "k8s-multi"
    assert matrix.label("k8s-multi", "rayjob") == "k8s-multi via rayjob"
    [row] = _report(KIND_AUTO)["rows"]
    assert list(row["clusters"]) == ["k8s-multi", "k8s-multi via rayjob", "k8s-auto"]
    assert row["outputs_agree"] is True


def test_compare_md_times_each_worker_and_says_they_went_away():
    text = render.markdown(_report(KIND_AUTO))
    assert "Autoscaling `k8s-auto` (KubeRay's autoscaler, up to 2 workers, idle timeout 30 s)" in text
    assert ("| ray101-auto-workers-worker-69f77 | parallel-retrieve | 6.80 | 44.60 | 50.40 | "
            "task-dependencies |") in text
    assert "| ray101-auto-workers-worker-tnngp | parallel-retrieve | 6.80 | — | — | — |" in text
    assert "Idle again: no worker left 33 s after the last job." in text


def test_compare_md_says_when_workers_stayed_or_none_was_made():
    stayed = {**KIND_AUTO, "workers": [], "errors": ["after parallel-retrieve: HTTP 403"],
              "scaled_down": {"after_s": 120.4, "gone": False, "left": 1, "waited_at_most_s": 120.0}}
    text = render.markdown(_report(stayed))
    assert "| (none: no job waited for CPUs) | | | | | |" in text
    assert "Still 1 worker(s) 120 s after the last job." in text
    assert "Not measured: after parallel-retrieve: HTTP 403" in text
    assert "Autoscaling" not in render.markdown(_report({}))


def test_compare_html_has_the_same_section(tmp_path):
    render.write(_report(KIND_AUTO), tmp_path)
    page = (tmp_path / "compare.html").read_text()
    assert ("<tr><td>ray101-auto-workers-worker-69f77</td><td>parallel-retrieve</td><td>6.80</td>"
            "<td>44.60</td><td>50.40</td><td>task-dependencies</td></tr>") in page
    assert "<p>Idle again: no worker left 33 s after the last job.</p>" in page
