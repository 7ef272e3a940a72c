"""The "when to use Ray" sweep as ONE Ray job: many (task count, task duration) points per job.

Submitted as ``python -c "<this file's source>" --points JSON --budget S`` so that no node has to
import the (uninstalled) ``bench`` package: the code travels in the entrypoint. It reuses the
workloads' own functions: ``ray101_jobs.parallel_retrieve.retrieve`` (the Ray task) and
``ray101_jobs.sequential_retrieve.retrieve`` (the plain loop), exactly what the
``parallel-retrieve`` and ``sequential-retrieve`` workloads run, minus one job per point.

Per point: the Ray version twice (cold, warm; the warm one counts), the loop once (twice when
it is short; its cold and warm are the same sleep). Points run cheapest first; a point whose
estimate does not fit the remaining budget is reported as skipped. Each point prints one
``BENCH_POINT {json}`` line as it finishes, so a stopped job still leaves its results.
"""

import argparse
import json
import math
import time

import ray

from ray101_jobs.parallel_retrieve import retrieve as ray_retrieve
from ray101_jobs.sequential_retrieve import database
from ray101_jobs.sequential_retrieve import retrieve as loop_retrieve


def estimate(n: int, s: float, cpus: float) -> float:
    loop_reps = 2 if n * s < 1 else 1
    ray_once = math.ceil(n / max(cpus, 1)) * s + 0.004 * n + 0.05
    return loop_reps * n * s + 2 * ray_once


def run_ray(n: int, s: float):
    words = database(n)
    start = time.perf_counter()
    out = ray.get([ray_retrieve.remote(i, w, s, False) for i, w in enumerate(words)])
    return time.perf_counter() - start, sorted({ip for _, ip in out})


def run_loop(n: int, s: float) -> float:
    words = database(n)
    start = time.perf_counter()
    [loop_retrieve(i, words, s) for i in range(n)]
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", required=True, help="JSON list of [count, seconds]")
    parser.add_argument("--budget", type=float, required=True, help="seconds for all points")
    args = parser.parse_args()
    ray.init(logging_level="WARNING")
    cpus = ray.cluster_resources().get("CPU", 1.0)
    nodes = len([n for n in ray.nodes() if n.get("Alive")])
    print(f"sweep on {nodes} node(s), {cpus:g} CPUs", flush=True)
    points = sorted(({"n": int(n), "s": float(s)} for n, s in json.loads(args.points)),
                    key=lambda p: estimate(p["n"], p["s"], cpus))
    started = time.perf_counter()
    for p in points:
        n, s = p["n"], p["s"]
        est = estimate(n, s, cpus)
        left = args.budget - (time.perf_counter() - started)
        row = {"n": n, "s": s, "cpus": cpus, "nodes": nodes, "estimate_s": round(est, 2)}
        if est > left:
            row["skipped"] = f"estimated {est:.0f} s > {max(left, 0):.0f} s left of the budget"
        else:
            cold, _ = run_ray(n, s)
            warm, ips = run_ray(n, s)
            loops = [run_loop(n, s) for _ in range(2 if n * s < 1 else 1)]
            row.update({
                "ray_cold_s": round(cold, 5), "ray_warm_s": round(warm, 5), "ray_node_ips": ips,
                "loop_s": round(loops[-1], 5), "loop_runs": len(loops),
                "ideal_ray_s": math.ceil(n / max(cpus, 1)) * s, "ideal_loop_s": n * s,
            })
        print("BENCH_POINT " + json.dumps(row), flush=True)
    print("BENCH_DONE " + json.dumps({"seconds": round(time.perf_counter() - started, 2)}),
          flush=True)


if __name__ == "__main__":
    main()
