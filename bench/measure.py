"""The measurements. Each function runs real jobs on the bench's lab and returns plain data
(what goes into docs/performance.json); nothing here formats or guesses a number."""

from __future__ import annotations

import itertools
import json
import math
import shlex
import statistics
import time
from pathlib import Path

from bench.harness import BIN, RAY101, Lab, display
from ray101_jobs import mflix

HERE = Path(__file__).resolve().parent
DEFAULT_DOCS = mflix.DEFAULT_DOCUMENTS  # the tutorial's 44,562 documents
MOVIE_SHARE = mflix.DEFAULT_MOVIES / DEFAULT_DOCS


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


# --- 1. start-up, seeding, the demo comparison ----------------------------------------------
def start(lab: Lab) -> dict:
    up = lab.cli("local", "up", "--subnet", lab.subnet, "--mongo-port", str(lab.mongo_port),
                 "--no-seed", timeout=900)
    if up.returncode != 0:
        raise RuntimeError(f"`{up.command}` failed after {up.seconds:.0f} s: {up.tail()}")
    return {"command": up.command, "seconds": round(up.seconds, 2)}


def seed(lab: Lab, movies: int | None = None, comments: int | None = None) -> dict:
    args = ["mongo", "seed", "--json"]
    if movies is not None:
        args += ["--movies", str(movies), "--comments", str(comments)]
    out = lab.cli(*args, timeout=3600)
    data = out.json()
    if out.returncode != 0 or not data:
        raise RuntimeError(f"`{out.command}` failed: {out.tail()}")
    return {"command": out.command, "seconds": round(out.seconds, 2), "total": data.get("total"),
            "inserted": sum(data.get(c, {}).get("inserted", 0) for c in ("movies", "comments")),
            "deleted": sum(data.get(c, {}).get("deleted", 0) for c in ("movies", "comments")),
            "seed_seconds": data.get("seconds")}


def compare(lab: Lab, repeat: int, clusters: tuple[str, str] = ("local-single", "local-multi")) -> dict:
    out_dir = lab.home / ("compare" if clusters[0].startswith("local") else "compare-k8s")
    run = lab.cli("compare", "--clusters", ",".join(clusters), "--repeat", str(repeat),
                  "--out", str(out_dir), "--json", timeout=3600)
    data = run.json()
    if not data:
        raise RuntimeError(f"`{run.command}` printed no JSON (exit {run.returncode}): {run.tail()}")
    shown = run.command.replace(str(out_dir), "results")
    return {"command": shown, "wall_s": round(run.seconds, 2), "returncode": run.returncode,
            "data": data}


def mongo_throughput(compare_data: dict) -> list[dict]:
    """Documents per second = the documents read / the warm runtime, per workload and cluster."""
    rows = []
    for run in compare_data.get("runs", []):
        if not run["workload"].startswith("mongo-"):
            continue
        runtimes = run.get("runtimes_s") or []
        warm = median(runtimes[1:]) if len(runtimes) > 1 else (runtimes[0] if runtimes else None)
        count = (run.get("output") or {}).get("count")
        rows.append({
            "workload": run["workload"], "cluster": run["cluster"], "status": run["status"],
            "documents": count, "warm_s": warm, "cold_s": runtimes[0] if runtimes else None,
            "docs_per_s": round(count / warm) if count and warm else None,
            "params": run.get("params"),
        })
    return rows


# --- 2. ray101 run vs ray job submit, and where a job's time goes ------------------------------
def pairs(lab: Lab, n: int, head_url: str) -> dict:
    ours = [*RAY101, "run", "actor-counter", "--cluster", "local-single", "-q"]
    theirs = [str(BIN / "ray"), "job", "submit", "--address", head_url, "--",
              "python", "-m", "ray101_jobs.actor_counter"]
    env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(lab.token_file())}
    rows = []
    for i in range(n):
        a = lab.cli(*ours[3:], timeout=300)
        b = lab.run(theirs, timeout=300, env=env)
        rows.append({
            "pair": i + 1,
            "ray101_s": round(a.seconds, 3), "ray101_ok": a.returncode == 0,
            "ray_job_submit_s": round(b.seconds, 3),
            "ray_job_submit_ok": b.returncode == 0 and "RAY101_RESULT" in b.stdout,
            **({} if a.returncode == 0 else {"ray101_error": a.tail()}),
            **({} if b.returncode == 0 and "RAY101_RESULT" in b.stdout
               else {"ray_job_submit_error": b.tail()}),
        })
    ok_a = [r["ray101_s"] for r in rows if r["ray101_ok"]]
    ok_b = [r["ray_job_submit_s"] for r in rows if r["ray_job_submit_ok"]]
    ma, mb = median(ok_a), median(ok_b)
    return {
        "ray101_command": display(ours),
        "ray_job_submit_command": "RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH=<RAY101_HOME>/auth_token "
                                  + display(theirs),
        "pairs": rows, "ray101_median_s": ma, "ray_job_submit_median_s": mb,
        "ratio": round(ma / mb, 3) if ma and mb else None,
    }


def breakdown(cluster: str, runs: int) -> dict:
    """Submit the probe job `runs` times through the Jobs API; split each timeline into phases."""
    from ray101 import targets
    from ray101.head.jobs import JobsAPI

    source = (HERE / "probe_job.py").read_text()
    entrypoint = shlex.join(["python", "-c", source])
    target = targets.resolve(cluster)
    samples = []
    with targets.connect(target) as conn:
        api = JobsAPI(conn)
        _ = api.client  # connect (and check the version) outside the timed submissions
        for i in range(runs):
            t_call = time.time()
            job_id = api.submit_entrypoint(entrypoint, f"bench-probe-{int(t_call)}-{i}")
            t_ret = time.time()
            seen: dict = {"running": None}

            def on_status(_job: str, status: str, _s: float, seen=seen) -> None:
                if status == "RUNNING" and seen["running"] is None:
                    seen["running"] = time.time()

            info = api.poll(job_id, on_status=on_status, every=0.02).info
            t_seen = time.time()
            logs = api.logs(job_id)
            probe = next((json.loads(line.split(" ", 1)[1]) for line in logs.splitlines()
                          if line.startswith("BENCH_PROBE ")), None)
            sample = {"job_id": job_id, "status": info.status, "client_submit_call": t_call,
                      "client_submit_returned": t_ret, "client_saw_running": seen["running"],
                      "client_saw_end": t_seen,
                      "job_start_time": (info.start_time or 0) / 1000 or None,
                      "job_end_time": (info.end_time or 0) / 1000 or None, "probe": probe}
            samples.append(sample)
    ok = [s for s in samples if s["probe"] and s["status"] == "SUCCEEDED"]
    split = bool(ok) and all(_running(s) for s in ok)  # the same phases in every sample
    for s in ok:
        s["phases"] = phases(s, split)
    names = list(ok[0]["phases"]) if ok else []
    return {
        "cluster": cluster, "entrypoint": "python -c \"$(cat bench/probe_job.py)\"",
        "samples": samples,
        "split_at_running": split,
        # A list, not a dict: performance.json is written with sorted keys, the order matters.
        "median_phases": [[k, round(median([s["phases"][k] for s in ok]), 4)] for k in names],
    }


def _running(s: dict) -> float | None:
    """When the client saw RUNNING, if that was before the driver process started."""
    running = s.get("client_saw_running")
    if running and s["client_submit_returned"] <= running <= s["probe"]["process_start"]:
        return running
    return None


def phases(s: dict, split: bool) -> dict:
    p = s["probe"]
    running = _running(s) if split else None
    ordered = [
        ("submission (the HTTP submit call)", s["client_submit_call"], s["client_submit_returned"]),
    ]
    if running:
        ordered += [
            ("supervisor actor + runtime_env, until RUNNING (polled every 20 ms)",
             s["client_submit_returned"], running),
            ("RUNNING to the driver process start", running, p["process_start"]),
        ]
    else:
        ordered += [("supervisor actor + runtime_env, to the driver process start",
                     s["client_submit_returned"], p["process_start"])]
    ordered += [
        ("driver: python start-up", p["process_start"], p["python_ready"]),
        ("driver: import ray", p["python_ready"], p["ray_imported"]),
        ("driver: ray.init (connect)", p["ray_imported"], p["ray_init_done"]),
        ("worker start-up (a fresh Counter actor until it answers)", p["ray_init_done"],
         p["actor_ready"]),
        ("the work (5 increments on the ready actor)", p["actor_ready"], p["work_done"]),
        ("driver: ray.kill of the actor (no ray.shutdown(): ray101 jobs exit at once)", p["work_done"],
         p["shutdown_done"]),
        ("driver exit, to the job's end_time", p["shutdown_done"], s["job_end_time"]),
        ("end_time to the client seeing it (polled every 20 ms)", s["job_end_time"],
         s["client_saw_end"]),
    ]
    return {name: round(b - a, 4) if a and b else None for name, a, b in ordered}


# --- 4a. when to use Ray: task duration x task count -----------------------------------------
def task_sweep(cluster: str, counts: list[int], seconds: list[float], budget_s: float) -> dict:
    from ray101 import targets
    from ray101.head.jobs import JobsAPI

    source = (HERE / "sweep_job.py").read_text()
    points = [[n, s] for n in counts for s in seconds]
    argv = ["--points", json.dumps(points), "--budget", f"{budget_s:.0f}"]
    entrypoint = shlex.join(["python", "-c", source, *argv])
    target = targets.resolve(cluster)
    started = time.perf_counter()
    with targets.connect(target) as conn:
        api = JobsAPI(conn)
        job_id = api.submit_entrypoint(entrypoint, f"bench-sweep-{cluster}-{int(time.time())}")
        polled = api.poll(job_id, timeout=budget_s + 120, every=0.5)
        status = polled.info.status
        if polled.timed_out:
            api.stop(job_id)
            status = api.wait_terminal(job_id, 15) + " (stopped at the deadline)"
        logs = api.logs(job_id)
    rows = [json.loads(line.split(" ", 1)[1]) for line in logs.splitlines()
            if line.startswith("BENCH_POINT ")]
    done = {(r["n"], r["s"]) for r in rows}
    for n, s in points:
        if (n, s) not in done:
            rows.append({"n": n, "s": s, "skipped": f"not reached (job {status})"})
    rows.sort(key=lambda r: (r["n"], r["s"]))
    return {"cluster": cluster, "job_id": job_id, "status": status,
            "seconds": round(time.perf_counter() - started, 1), "budget_s": round(budget_s),
            "entrypoint": "python -c \"$(cat bench/sweep_job.py)\" " + shlex.join(argv),
            "points": rows, "break_even": break_even(rows, counts)}


def break_even(rows: list[dict], counts: list[int]) -> dict:
    """Per task count: the task duration where Ray's warm run first beats the loop.

    Between two measured durations where the sign of (ray - loop) flips, interpolated on the
    log of the duration; "< min" or "> max" when it never flips inside the grid.
    """
    out = {}
    for n in counts:
        pts = sorted((r["s"], r["ray_warm_s"] - r["loop_s"]) for r in rows
                     if r["n"] == n and "ray_warm_s" in r)
        if not pts:
            out[str(n)] = {"text": "not measured", "seconds": None}
            continue
        if pts[0][1] < 0:
            out[str(n)] = {"text": f"< {pts[0][0] * 1000:g} ms (Ray already wins)",
                           "seconds": None, "below": pts[0][0]}
            continue
        found = None
        for (s0, d0), (s1, d1) in itertools.pairwise(pts):
            if d0 >= 0 > d1:
                f = d0 / (d0 - d1)
                found = math.exp(math.log(s0) + f * (math.log(s1) - math.log(s0)))
                break
        if found is None:
            out[str(n)] = {"text": f"> {pts[-1][0] * 1000:g} ms (the loop never lost)",
                           "seconds": None, "above": pts[-1][0]}
        else:
            out[str(n)] = {"text": f"≈ {found * 1000:.1f} ms", "seconds": round(found, 5)}
    return out


# --- 4b. MongoDB size x K ---------------------------------------------------------------------
def split_docs(total: int) -> tuple[int, int]:
    movies = max(1, round(total * MOVIE_SHARE))
    return movies, total - movies


def mongo_sweep(lab: Lab, sizes: list[int], ks: list[int], cluster: str, budget_s: float,
                rate_hint: float | None, seed_rate_hint: float | None) -> dict:
    """For each size: seed, then mongo-sequential and mongo-partitioned with each K (repeat 2,
    warm run); sizes ascending; a size whose estimate does not fit the budget is skipped."""
    started = time.perf_counter()
    rows, skipped = [], []
    per_doc = None  # measured seconds per document for one size's whole block, extrapolated
    seed_per_doc = 1 / seed_rate_hint if seed_rate_hint else 1 / 2000
    for size in sizes:
        left = budget_s - (time.perf_counter() - started)
        if per_doc is None:
            # Before any measurement: scans at the compare's sequential rate, 1+sum(K) scans per
            # repetition pair, plus 6 s of job overhead per run.
            rate = rate_hint or 5000
            est_runs = (1 + sum(ks)) * 2 * size / rate + 6 * (1 + len(ks))
        else:
            est_runs = per_doc * size
        est = est_runs + seed_per_doc * size
        if est > left:
            skipped.append({"documents": size, "reason": f"estimated {est:.0f} s > "
                                                         f"{max(left, 0):.0f} s left of the budget"})
            continue
        movies, comments = split_docs(size)
        t_block = time.perf_counter()
        seeded = seed(lab, movies, comments)
        if seeded["inserted"]:
            seed_per_doc = seeded["seconds"] / max(seeded["inserted"], 1)
        runs = []
        jobs = [("mongo-sequential", None)] + [("mongo-partitioned", k) for k in ks]
        for workload, k in jobs:
            args = ["run", workload, "--cluster", cluster, "--repeat", "2", "-q", "--json"]
            if k is not None:
                args += ["-p", f"actors={k}"]
            out = lab.cli(*args, timeout=max(120, left))
            entry = (out.json() or [{}])[0]  # run --json: a list, one entry per workload
            runtimes = entry.get("runtimes_s") or []
            runs.append({
                "workload": workload, "actors": k, "command": out.command,
                "status": entry.get("status") or f"exit {out.returncode}",
                "runtimes_s": runtimes, "warm_s": runtimes[-1] if len(runtimes) > 1 else None,
                "count": (entry.get("output") or {}).get("count"),
                "node_ips": entry.get("node_ips"), "end_to_end_s": round(out.seconds, 2),
                **({} if out.returncode == 0 else {"error": out.tail()}),
            })
        block = time.perf_counter() - t_block
        per_doc = (block - seeded["seconds"]) / size
        rows.append({"documents": seeded["total"], "requested": size, "movies": movies,
                     "comments": comments, "seed": seeded, "runs": runs,
                     "block_s": round(block, 1)})
    return {"cluster": cluster, "budget_s": round(budget_s), "rows": rows, "skipped": skipped,
            "seconds": round(time.perf_counter() - started, 1),
            "crossover": mongo_crossover(rows, ks)}


# A win must be bigger than run-to-run noise on this shared machine (~2-3% between repetitions).
WIN_MARGIN = 0.05


def mongo_crossover(rows: list[dict], ks: list[int]) -> dict:
    """Per K: the smallest measured size where partitioned's warm run beats sequential's by
    more than WIN_MARGIN."""
    out = {}
    for k in ks:
        wins, measured = [], 0
        for row in rows:
            seq = next((r["warm_s"] for r in row["runs"] if r["workload"] == "mongo-sequential"), None)
            par = next((r["warm_s"] for r in row["runs"] if r["actors"] == k), None)
            if seq and par:
                measured += 1
                if par < seq * (1 - WIN_MARGIN):
                    wins.append(row["documents"])
        if not measured:
            out[str(k)] = {"text": "not measured", "documents": None}
        elif wins:
            out[str(k)] = {"text": f"wins from {min(wins):,} documents", "documents": min(wins)}
        else:
            out[str(k)] = {"text": "never wins in the measured sizes", "documents": None}
    return out


# --- 1b. the cold start: a job's first repetition, with and without workers kept warm --------
SETTLE_S = 5.0  # between jobs: the workers a job leaves are started before the next one


def _result(text: str) -> dict | None:
    from ray101_jobs.common import parse_result

    return parse_result(text)


def cold_start(lab: Lab, head_url: str, jobs: int, cluster: str = "local-multi",
               hop_repeat: int = 11, token_file: Path | None = None,
               runtime_env: dict | None = None) -> dict:
    """parallel-retrieve's cold (first) and warm repetitions on ``cluster``, each job submitted
    with Ray's `ray job submit` (the same client both ways) on an idle lab: with the workers
    the previous job left started (ray101's default), and without (RAY101_WARM_WORKERS=0 in
    the job's runtime_env, a runtime environment no kept worker matches: every worker is new,
    as before). Then task-dependencies with ``hop_repeat`` repetitions (the dependent hop,
    warm), and a one-shot script (bench/oneshot/lookups.py) through `ray job submit` as a user
    submits one: with ``--working-dir`` (a runtime environment of its own) and as ``python -c``."""
    ray = str(BIN / "ray")
    env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token_file or lab.token_file())}
    entry = ["python", "-m", "ray101_jobs.parallel_retrieve", "--repeat", "3"]
    # A KubeRay cluster on the stock image gets ray101_jobs as py_modules, as ray101 ships it.
    base = dict(runtime_env or {})
    warm_env = ["--runtime-env-json", json.dumps(base)] if base else []
    cold_env = json.dumps({**base, "env_vars": {"RAY101_WARM_WORKERS": "0"}})
    rows = []

    def settle() -> None:
        time.sleep(SETTLE_S)  # a fixed gap between jobs, the same for every row

    lab.cli("run", "parallel-retrieve", "--cluster", cluster, "-q", timeout=300)  # fills the pool
    for i in range(jobs):
        for mode in ("without", "with"):
            settle()
            extra = warm_env if mode == "with" else ["--runtime-env-json", cold_env]
            out = lab.run([ray, "job", "submit", "--address", head_url, *extra, "--", *entry],
                          timeout=300, env=env)
            res = _result(out.stdout) or {}
            runtimes = res.get("runtimes_s") or []
            ok = out.returncode == 0 and bool(runtimes)
            rows.append({"job": i + 1, "warm_workers": mode == "with", "command": out.command,
                         "ok": ok, "runtimes_s": runtimes,
                         "cold_s": runtimes[0] if runtimes else None,
                         "warm_s": median(runtimes[1:]) if len(runtimes) > 1 else None,
                         "time_to_result_s": round(out.seconds, 3),
                         **({} if ok else {"error": out.tail()})})

    def summary(with_: bool) -> dict:
        ok = [r for r in rows if r["warm_workers"] is with_ and r["ok"]]
        return {"jobs": len(ok), "cold_s": median([r["cold_s"] for r in ok]),
                "warm_s": median([r["warm_s"] for r in ok]),
                "time_to_result_s": median([r["time_to_result_s"] for r in ok])}

    settle()
    hop = lab.cli("run", "task-dependencies", "--cluster", cluster, "--repeat", str(hop_repeat),
                  "-q", "--json", timeout=600)
    h = (hop.json() or [{}])[0]
    hr = h.get("runtimes_s") or []
    hop_row = {"command": hop.command, "status": h.get("status") or f"exit {hop.returncode}",
               "runtimes_s": hr, "ideal_s": h.get("ideal_s"),
               "cold_s": hr[0] if hr else None, "warm_s": median(hr[1:]) if len(hr) > 1 else None}
    if hop_row["warm_s"] and hop_row["ideal_s"]:
        hop_row["over_ideal_pct"] = round(100 * (hop_row["warm_s"] / hop_row["ideal_s"] - 1), 1)

    script = HERE / "oneshot" / "lookups.py"
    oneshot = []
    for how in ("working-dir", "python -c"):
        for i in range(2):
            lab.cli("run", "parallel-retrieve", "--cluster", cluster, "-q", timeout=300)
            settle()  # the previous job (a ray101 one) left its workers started
            if how == "working-dir":
                argv = [ray, "job", "submit", "--address", head_url, "--working-dir",
                        str(script.parent), "--", "python", script.name]
            else:
                argv = [ray, "job", "submit", "--address", head_url, "--", "python", "-c",
                        script.read_text()]
            out = lab.run(argv, timeout=300, env=env)
            line = next((x for x in out.stdout.splitlines() if x.startswith("ONESHOT ")), None)
            printed = json.loads(line.split(" ", 1)[1])["seconds"] if line else None
            shown = (display(argv) if how == "working-dir" else
                     display(argv[:-1]) + ' "$(cat bench/oneshot/lookups.py)"')
            oneshot.append({"how": how, "try": i + 1, "command": shown.replace(str(HERE.parent) + "/", ""),
                            "ok": out.returncode == 0 and printed is not None,
                            "printed_s": printed, "time_to_result_s": round(out.seconds, 3),
                            **({} if printed is not None else {"error": out.tail()})})
    return {"cluster": cluster, "settle_s": SETTLE_S, "jobs": rows,
            "with": summary(True), "without": summary(False), "hop": hop_row, "oneshot": oneshot,
            "submit_env": "RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH=" + (
                "<the Secret's token in a 0600 file>" if token_file else "<RAY101_HOME>/auth_token")}


# --- 5. the same on Kubernetes, when `make deploy` has run ----------------------------------
K8S_CLUSTERS = ("k8s-single", "k8s-multi")


def k8s_deployment() -> dict:
    """Which of ray101's KubeRay clusters the current kube context has: ``clusters`` (names)
    when both k8s-single and k8s-multi are there, else ``missing`` saying why not."""
    from ray101.kube import discovery

    found = {t.name: t for t in discovery.discover(quiet=True)}
    missing = [c for c in K8S_CLUSTERS if c not in found]
    if missing:
        return {"clusters": [], "missing": f"{', '.join(missing)} not in the current kube context "
                                           "(`make deploy` first to include Kubernetes)"}
    from ray101.kube.client import client

    kube, t = client(), found["k8s-multi"]
    nodes = [{"name": n.metadata.name, "cpu": n.status.allocatable.get("cpu"),
              "memory": n.status.allocatable.get("memory")}
             for n in kube.core.list_node(_request_timeout=30).items]
    return {"clusters": list(K8S_CLUSTERS), "missing": None, "context": kube.context,
            "namespace": kube.namespace, "nodes": nodes,
            "jobs_in_image": bool(t.kube and t.kube.jobs_in_image)}


def k8s_cold_start(lab: Lab, jobs: int, hop_repeat: int) -> dict:
    """cold_start on k8s-multi, through a port-forward to its head; Ray's `ray job submit`
    reads the cluster's token from a 0600 file that lives only for this measurement."""
    from ray101 import state, targets

    target = targets.resolve("k8s-multi")
    with targets.connect(target) as conn:
        token_file = lab.home / "k8s-auth-token"
        try:
            state.atomic_write(token_file, conn.token or "", mode=0o600)
            return cold_start(lab, conn.jobs_url, jobs, cluster="k8s-multi", hop_repeat=hop_repeat,
                              token_file=token_file, runtime_env=conn.runtime_env)
        finally:
            token_file.unlink(missing_ok=True)
