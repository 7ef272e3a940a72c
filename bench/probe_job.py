"""Where one trivial job's time goes: the driver's side of the timeline, as ONE Ray job.

Submitted as ``python -c "<this file's source>"`` (no node needs the ``bench`` package). It does
what the ``actor-counter`` workload does, with the workload's own ``Counter`` actor, but stamps
each step: a fresh Counter until it answers (that is a worker process starting), then the five
increments on the ready actor (the work). It prints wall-clock (``time.time()``) timestamps in
one ``BENCH_PROBE {json}`` line. Every node of a local cluster shares this machine's clock, so
they line up with the client's and the Jobs API's timestamps.
"""

import time

T = {"python_ready": time.time()}

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402


def _process_start() -> float:
    """When this process was forked (10 ms resolution), from /proc, as a time.time() value."""
    fields = open("/proc/self/stat").read().rsplit(")", 1)[1].split()
    started_after_boot = int(fields[19]) / os.sysconf("SC_CLK_TCK")
    age = time.clock_gettime(time.CLOCK_BOOTTIME) - started_after_boot
    return time.time() - age


T["process_start"] = _process_start()
import ray  # noqa: E402

T["ray_imported"] = time.time()
ray.init(logging_level="WARNING")
T["ray_init_done"] = time.time()
from ray101_jobs.actor_counter import Counter  # noqa: E402

counter = Counter.remote()
ray.get(counter.where.remote())
T["actor_ready"] = time.time()
T["output"] = ray.get([counter.increment.remote(i) for i in range(5)])
T["work_done"] = time.time()
ray.kill(counter)
T["shutdown_done"] = time.time()
print("BENCH_PROBE " + json.dumps(T), flush=True)
sys.stderr.flush()
os._exit(0)  # as every ray101 job ends (jobs/ray101_jobs/common.py): no ray.shutdown()
