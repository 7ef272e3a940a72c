"""A one-shot script as a newcomer to Ray writes one (bench/measure.py submits it with Ray's own
`ray job submit`): six one-second lookups as Ray tasks, all at once, and the time they took.
Nothing of ray101 in it, and no ``--repeat``: its one run is the cold run a user sees.
"""

import json
import time

import ray

CATALOGUE = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]


@ray.remote
def look_up(position: int) -> tuple[int, str]:
    time.sleep(1.0)  # stands in for a one-second call to a slow service
    return position, CATALOGUE[position]


if __name__ == "__main__":
    ray.init()
    began = time.perf_counter()
    found = ray.get([look_up.remote(i) for i in range(len(CATALOGUE))])
    took = time.perf_counter() - began
    print(f"looked up {len(found)} items in {took:.2f} s")
    print("ONESHOT " + json.dumps({"seconds": round(took, 4), "items": len(found)}), flush=True)
