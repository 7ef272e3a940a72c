"""A stateful actor: ``Counter.increment(i)`` for i in 0..4 returns the running totals.

Calls on one actor run in submission order, so the totals are [0, 1, 3, 6, 10].
At-most-once: the actor is never restarted and its calls never retried, because a restarted
counter would start again from zero and silently give a wrong total. If its node dies, the job
fails with a clear error instead.
"""

import ray

from ray101_jobs.common import Repetition, main
from ray101_jobs.registry import WORKLOADS

WORKLOAD = WORKLOADS["actor-counter"]


@ray.remote(max_restarts=0, max_task_retries=0)
class Counter:
    def __init__(self):
        self.count = 0

    def increment(self, value: int, seconds: float = 0.0) -> int:
        if seconds:
            import time

            time.sleep(seconds)
        self.count += value
        return self.count

    def where(self) -> str:
        return ray.util.get_node_ip_address()


def placement(ip: str) -> dict:
    """Options that pin the counter to the alive node with ``ip`` (to see it lose its node)."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    alive = {n["NodeManagerAddress"]: n["NodeID"] for n in ray.nodes() if n.get("Alive")}
    if ip not in alive:
        raise ValueError(f"no alive Ray node has IP {ip} (alive: {', '.join(sorted(alive))})")
    return {"scheduling_strategy": NodeAffinitySchedulingStrategy(alive[ip], soft=False)}


def run_once(params: dict) -> Repetition:
    options = placement(params["node"]) if params["node"] else {}
    # A fresh counter each repetition: same totals every time.
    counter = Counter.options(**options).remote()  # type: ignore[attr-defined]  # mypy skips class decorators (@ray.remote)
    try:
        totals = ray.get([counter.increment.remote(i, params["seconds"]) for i in range(params["count"])])
    except ray.exceptions.RayActorError as exc:
        raise RuntimeError(
            "the Counter actor died (its node was lost?); it is not restarted, because a "
            f"restarted counter would restart from zero: {str(exc).splitlines()[0]}"
        ) from None
    ip = ray.get(counter.where.remote())
    ray.kill(counter)
    print(totals)
    return Repetition(output=totals, node_ips={ip})


if __name__ == "__main__":
    main(WORKLOAD, run_once)
