"""Results survive a `kill -9` mid-compare, and two compares at once keep their results apart."""

import json
import signal
import subprocess
import sys
import time

from conftest import REPO
from test_faults_common import Background, stop_jobs_of, wait_for

FILES = ("compare.json", "compare.md", "compare.png", "compare.html")


def _every_run_file_parses(lab) -> int:
    files = list((lab.home / "runs").glob("**/*.json"))
    for path in files:
        json.loads(path.read_text())
    return len(files)


def test_kill_9_during_compare_leaves_the_previous_results_and_the_store_intact(lab, tmp_path):
    out = tmp_path / "results"
    lab.cli("compare", "--clusters", "local-single", "--workloads", "task-dependencies",
            "-n", "1", "--out", str(out), check=True)
    before = {name: (out / name).read_bytes() for name in FILES}
    runs_before = {p.parent.name for p in (lab.home / "runs").glob("*/*.json")}
    slow = Background(lab, "compare", "--clusters", "local-single,local-multi", "--workloads",
                      "task-dependencies,sequential-retrieve", "-n", "2", "--out", str(out))
    run_id = None
    try:
        # Kill it once it has recorded its first job, while it follows the next one.
        def new_run():
            fresh = {p.parent.name for p in (lab.home / "runs").glob("*/*.json")} - runs_before
            return next(iter(fresh), None)

        run_id = wait_for("the first recorded job of the slow compare", new_run, 180)
        slow.signal(signal.SIGKILL)
        slow.wait(30)
    finally:
        slow.kill()
        if run_id:
            for cluster in ("local-single", "local-multi"):
                stop_jobs_of(lab, cluster, run_id)
    assert {name: (out / name).read_bytes() for name in FILES} == before
    assert json.loads((out / "compare.json").read_text())["consistent"] is True
    assert _every_run_file_parses(lab) > 0


WRITER = """
import json, sys
from pathlib import Path
from ray101 import comparison, render, store
data = json.loads(Path(sys.argv[1]).read_text())
out = Path(sys.argv[2])
print("ready", flush=True)
i = 0
while True:
    i += 1
    render.write(data, out)
    entry = dict(data["runs"][0], job_id=f"writer-{i % 3}")
    store.record("atomic-writer", entry)
"""


def test_writers_killed_at_random_moments_never_leave_a_torn_file(lab, tmp_path):
    """A tighter loop than a real compare: kill -9 a process rewriting compare.* and run records
    as fast as it can, twelve times, and read everything back after each kill."""
    out = tmp_path / "results"
    lab.cli("compare", "--clusters", "local-single", "--workloads", "actor-counter", "-n", "1",
            "--out", str(out), check=True)
    source = tmp_path / "source.json"
    source.write_text((out / "compare.json").read_text())
    for attempt in range(12):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(source), str(out)],
                                stdout=subprocess.PIPE, text=True, env=lab.env, cwd=REPO)
        try:
            assert proc.stdout.readline().strip() == "ready"
            time.sleep(0.2 + 0.13 * attempt)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
        assert json.loads((out / "compare.json").read_text())["run_id"]
        assert (out / "compare.md").read_text().startswith("# ray101 compare")
        assert (out / "compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (out / "compare.html").read_text().rstrip().endswith("</html>")
        _every_run_file_parses(lab)


def test_two_compares_at_once_keep_their_results_apart(lab, tmp_path):
    outs = [tmp_path / "a", tmp_path / "b"]
    runs = [Background(lab, "compare", "--clusters", "local-single,local-multi", "--workloads",
                       "actor-counter,task-dependencies", "-n", "1", "--out", str(out), "--json")
            for out in outs]
    try:
        codes = [r.wait(400) for r in runs]
    finally:
        for r in runs:
            r.kill()
    assert codes == [0, 0], [r.stderr for r in runs]
    reports = [json.loads(r.stdout) for r in runs]
    assert reports[0]["run_id"] != reports[1]["run_id"]
    expected = {"actor-counter": [0, 1, 3, 6, 10], "task-dependencies": 20}
    for report, out in zip(reports, outs, strict=True):
        assert json.loads((out / "compare.json").read_text())["run_id"] == report["run_id"]
        assert report["consistent"] is True
        assert len(report["runs"]) == 4
        job_ids = set()
        for run in report["runs"]:
            assert run["run_id"] == report["run_id"] and report["run_id"] in run["job_id"]
            assert run["status"] == "SUCCEEDED" and run["output"] == expected[run["workload"]]
            job_ids.add(run["job_id"])
        folder = lab.home / "runs" / report["run_id"]
        stored = {p.stem for p in folder.glob("*.json") if p.name != "compare.json"}
        assert stored == job_ids
        # The store keeps each comparison's own report beside its jobs, never the other's.
        assert json.loads((folder / "compare.json").read_text())["run_id"] == report["run_id"]
