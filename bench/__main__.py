"""`python -m bench` (`make bench`): measure ray101 on local clusters it starts itself and write
docs/performance.md, docs/performance.json and docs/img/*.png.

    python -m bench            # the full run (`make bench`); RAY101_BENCH_BUDGET_S caps it
    python -m bench --quick    # tiny sweeps, repeat 2, 2 pairs: checks the harness
    python -m bench --render   # rewrite the .md and the plots from docs/performance.json

The lab runs under its own RAY101_HOME, on a free subnet and MongoDB port, and is stopped with
`ray101 local down` at the end, also on failure or Ctrl-C. When the current kube context has
ray101's k8s-single and k8s-multi (`make deploy`), the same comparison and cold start then run
on them, after the lab is down, and the page sets them beside the local figures.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path

from bench import ferretdb_builds, measure, report
from bench import harness as labmod
from bench import idle as idlemod

FULL = {
    "repeat": 3, "pairs": 5, "probes": 3,
    "counts": [6, 24, 96], "seconds": [0.001, 0.003, 0.01, 0.03, 0.1, 1.0, 2.0],
    "sizes": [10_000, measure.DEFAULT_DOCS, 100_000, 250_000, 500_000], "ks": [1, 2, 4],
    "idle_s": 20, "server_repeat": 2, "cold_jobs": 3, "hop_repeat": 11,
}
QUICK = {
    "repeat": 2, "pairs": 2, "probes": 2,
    "counts": [6, 12], "seconds": [0.001, 0.01, 0.1],
    "sizes": [2_000, 10_000], "ks": [1, 2],
    "idle_s": 5, "server_repeat": 1, "cold_jobs": 1, "hop_repeat": 4,
}
TARGET_COMPARE_S = 180
# What the Kubernetes phases take (compare ~200 s, cold start ~150 s on the host provider),
# kept out of the sweeps' share of the budget when a deployment is there.
K8S_RESERVE_S = 420
TARGET_RATIO = 0.4


def say(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _sigterm(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sweeps, repeat 2, 2 pairs")
    parser.add_argument("--out", type=Path, default=labmod.REPO / "docs",
                        help="folder for performance.md/.json and img/ (default: docs)")
    parser.add_argument("--render", action="store_true",
                        help="only re-render the .md and plots from <out>/performance.json")
    parser.add_argument("--no-k8s", action="store_true",
                        help="leave a deployed Kubernetes out (default: measured when deployed)")
    args = parser.parse_args(argv)
    if args.render:
        data = json.loads((args.out / "performance.json").read_text())
        files = report.write(data, args.out)
        say("wrote " + ", ".join(str(f) for f in files))
        return 0
    signal.signal(signal.SIGTERM, _sigterm)
    plan = QUICK if args.quick else FULL
    k8s = ({"clusters": [], "missing": "left out (--no-k8s)"} if args.no_k8s
           else measure.k8s_deployment())
    # The local phases get 1500 s; a deployed Kubernetes adds its phases' time on top, so the
    # sweeps keep their share (RAY101_BENCH_BUDGET_S sets the whole).
    budget = float(os.environ.get("RAY101_BENCH_BUDGET_S")
                   or 1500 + (K8S_RESERVE_S if k8s["clusters"] else 0))
    t0 = time.perf_counter()
    data = {
        "mode": "quick" if args.quick else "full",
        "command": "python -m bench --quick" if args.quick else "make bench  (python -m bench)",
        "budget_s": budget, "plan": plan,
        "targets": {"compare_s": TARGET_COMPARE_S, "run_over_submit": TARGET_RATIO},
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": labmod.machine(), "load_start": labmod.load_now(), "errors": [],
    }
    say(f"{data['mode']} run; budget {budget:.0f} s; load {data['load_start']}; Kubernetes: "
        + (f"{', '.join(k8s['clusters'])} in context {k8s['context']}" if k8s["clusters"]
           else k8s["missing"]))
    lab = labmod.make_lab(subnet=labmod.free_subnet(), mongo_port=labmod.free_port())
    os.environ["RAY101_HOME"] = str(lab.home)  # the in-process Jobs API calls use the lab too
    for key in [k for k in os.environ if k.startswith("RAY_")]:
        os.environ.pop(key)
    data["lab"] = {"subnet": lab.subnet, "mongo_port": lab.mongo_port, "netns": None}
    failed = interrupted = False
    data["idle"] = []

    def idle(when: str) -> dict | None:
        """The lab's idle load now, recorded beside the figures measured next."""
        try:
            row = {"when": when, **idlemod.idle_cpu(plan["idle_s"])}
        except Exception as exc:  # noqa: BLE001 - a missing idle figure must not stop the run
            data["errors"].append({"phase": f"idle load ({when})", "error": f"{type(exc).__name__}: {exc}"})
            return None
        data["idle"].append(row)
        say(f"idle load ({when}): {row['cores']:.3f} cores over {row['window_s']:.0f} s")
        return row

    def phase(name, fn):
        nonlocal failed
        say(f"{name} ...")
        t = time.perf_counter()
        try:
            value = fn()
            say(f"{name}: done in {time.perf_counter() - t:.0f} s")
            return value
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # noqa: BLE001 - recorded, and the other phases still run
            failed = True
            data["errors"].append({"phase": name, "error": f"{type(exc).__name__}: {exc}"[:800]})
            say(f"{name}: FAILED: {exc}")
            traceback.print_exc()
            return None

    try:
        data["startup"] = phase("start-up (ray101 local up)", lambda: measure.start(lab))
        if data["startup"] is None:
            raise RuntimeError("the lab did not start")
        from ray101.local import plan as localplan
        from ray101.mongo import server as mongo

        plan_ = localplan.current_plan()
        data["lab"]["netns"] = plan_.netns
        data["lab"]["nodes"] = {c: len(plan_.cluster_nodes(c)) for c in ("local-single", "local-multi")}
        data["lab"]["cpus_per_node"] = plan_.cpus
        data["versions"] = labmod.versions(mongo.uri())
        rec = mongo.status()
        if data["versions"].get("mongodb") is not None:
            data["versions"]["mongodb"]["local_kind"] = rec.get("kind")
        data["seeding"] = phase("seeding (ray101 mongo seed)", lambda: measure.seed(lab))
        data["idle_before"] = {"compare": idle("fresh lab: after local up and seeding, before the comparison")}
        data["compare"] = phase(
            f"compare, repeat {plan['repeat']}", lambda: measure.compare(lab, plan["repeat"]))
        if data["compare"]:
            data["mongo_throughput"] = measure.mongo_throughput(data["compare"]["data"])
        data["idle_before"]["cold_start"] = idle("after the comparison (every workload ran, serve-echo included)")
        data["cold_start"] = phase(
            "cold start (parallel-retrieve with/without kept workers, the dependent hop, a one-shot script)",
            lambda: measure.cold_start(lab, localplan.jobs_url(plan_, "local-multi"), plan["cold_jobs"],
                                       hop_repeat=plan["hop_repeat"]))
        data["idle_before"]["pairs"] = idle("after the cold-start measurements")
        head = localplan.jobs_url(plan_, "local-single")
        data["pairs"] = phase(f"{plan['pairs']} pairs ray101 run / ray job submit",
                              lambda: measure.pairs(lab, plan["pairs"], head))
        data["breakdown"] = phase("job time breakdown",
                                  lambda: measure.breakdown("local-single", plan["probes"]))
        data["idle_before"]["server"] = idle("before the MongoDB server settings")
        data["server"] = phase("MongoDB server settings (FerretDB builds, Go runtime)",
                               lambda: ferretdb_builds.server_sweep_of_lab(lab.home, plan["server_repeat"], say,
                                                                  ends_only=args.quick))
        data["idle_before"]["task_sweep"] = idle("before the task sweeps")
        # The sweeps share what is left of the budget (keeping 30 s for `local down`, and the
        # Kubernetes phases' time when they run).
        reserve = 30 + (K8S_RESERVE_S if k8s["clusters"] else 0)
        left = budget - (time.perf_counter() - t0) - reserve
        task_share = max(30.0, 0.45 * left)
        data["task_sweep"] = []
        for cluster in ("local-single", "local-multi"):
            result = phase(f"task sweep on {cluster}",
                           lambda c=cluster: measure.task_sweep(c, plan["counts"], plan["seconds"],
                                                                task_share / 2))
            if result:
                data["task_sweep"].append(result)
        data["idle_before"]["mongo_sweep"] = idle("before the MongoDB size x K sweep")
        left = budget - (time.perf_counter() - t0) - reserve
        rate = next((r["docs_per_s"] for r in data.get("mongo_throughput") or []
                     if r["workload"] == "mongo-sequential" and r["cluster"] == "local-multi"), None)
        seed_rate = None
        if data.get("seeding") and data["seeding"]["inserted"]:
            seed_rate = data["seeding"]["inserted"] / data["seeding"]["seconds"]
        data["mongo_sweep"] = phase(
            "MongoDB size x K sweep on local-multi",
            lambda: measure.mongo_sweep(lab, plan["sizes"], plan["ks"], "local-multi",
                                        max(left, 0), rate, seed_rate))
    except KeyboardInterrupt as exc:
        failed = interrupted = True
        data["errors"].append({"phase": "interrupted", "error": str(exc) or "KeyboardInterrupt"})
        say("interrupted")
    except Exception as exc:  # noqa: BLE001
        failed = True
        data["errors"].append({"phase": "bench", "error": f"{type(exc).__name__}: {exc}"[:800]})
        say(f"FAILED: {exc}")
    finally:
        say("ray101 local down ...")
        down = lab.cli("local", "down", timeout=300)
        data["down"] = {"command": down.command, "seconds": round(down.seconds, 2),
                        "returncode": down.returncode}
        if down.returncode != 0:
            failed = True
            data["errors"].append({"phase": "local down", "error": down.tail()})
            say(f"local down failed: {down.tail()} (RAY101_HOME={lab.home} kept)")
    # Kubernetes after the lab is down: its figures are taken without the lab's idle load.
    data["k8s"] = {"deployment": k8s}
    if k8s["clusters"] and not interrupted:
        try:
            kd = data["k8s"]
            kd["idle_before"] = idle("local lab down, before the Kubernetes comparison")
            kd["compare"] = phase(f"compare on Kubernetes, repeat {plan['repeat']}",
                                  lambda: measure.compare(lab, plan["repeat"], measure.K8S_CLUSTERS))
            kd["cold_start"] = phase(
                "cold start on k8s-multi",
                lambda: measure.k8s_cold_start(lab, plan["cold_jobs"], plan["hop_repeat"]))
        except KeyboardInterrupt as exc:
            failed = True
            data["errors"].append({"phase": "interrupted", "error": str(exc) or "KeyboardInterrupt"})
            say("interrupted")
    if down.returncode == 0:
        labmod.remove_home(lab)
    data["load_end"] = labmod.load_now()
    data["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    data["wall_s"] = round(time.perf_counter() - t0, 1)
    data["commands"] = lab.log
    files = report.write(data, args.out)
    say(f"wrote {', '.join(str(f) for f in files)} in {data['wall_s']:.0f} s")
    print(report.summary_table(data))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
