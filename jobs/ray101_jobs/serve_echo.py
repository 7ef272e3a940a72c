"""An echo service on Ray Serve: ``GET /echo?data=Hello`` answers ``Received data: Hello``.

The job deploys the app (route ``/echo``), calls it ``calls`` times from the driver and reports
the answer with p50/p99 latency. Serve's start and the deploy are part of the first (cold)
repetition; the warm ones call the running app, as its users would. A request without ``data``
gets HTTP 400 with a message. At the end of the job it removes what it deployed: the app, and
Serve itself (controller and proxy, which otherwise keep a share of a core busy on an idle
cluster) when no other app runs. ``keep=true`` leaves them up so you can call it yourself
(``ray101 serve call``).
The HTTP port comes from ``RAY101_SERVE_PORT`` in the node's environment (default 8000), the
address from ``RAY101_SERVE_HOST`` (default 0.0.0.0, what a pod needs; the local lab sets the
node's own address, so that nothing off the machine reaches it).
"""

import os
import statistics
import time
import urllib.error
import urllib.parse
import urllib.request

from ray101_jobs.common import Repetition, main, node_ip
from ray101_jobs.registry import WORKLOADS

APP_NAME = "echo"
ROUTE = "/echo"

WORKLOAD = WORKLOADS["serve-echo"]


def serve_port() -> int:
    return int(os.environ.get("RAY101_SERVE_PORT", "8000"))


def serve_host() -> str:
    return os.environ.get("RAY101_SERVE_HOST") or "0.0.0.0"


def build_app():
    from ray import serve
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse

    @serve.deployment(name="Echo", ray_actor_options={"num_cpus": 0})
    class Echo:
        async def __call__(self, request: Request) -> PlainTextResponse:
            data = request.query_params.get("data")
            if data is None:
                return PlainTextResponse(
                    "missing query parameter 'data': call /echo?data=<text>\n", status_code=400
                )
            return PlainTextResponse(f"Received data: {data}")

    return Echo.bind()  # type: ignore[attr-defined]  # mypy skips class decorators (@serve.deployment)


def deploy() -> str:
    """Start Serve on this cluster (once) and (re)deploy the echo app; returns its base URL."""
    from ray import serve

    host, port = serve_host(), serve_port()
    serve.start(proxy_location="HeadOnly", http_options={"host": host, "port": port})
    serve.run(build_app(), name=APP_NAME, route_prefix=ROUTE, blocking=False)
    # The driver runs on the head, beside the proxy.
    return f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{port}{ROUTE}"


def call(url: str, data: str | None, timeout: float = 10.0) -> tuple[int, str]:
    query = "" if data is None else "?" + urllib.parse.urlencode({"data": data})
    try:
        with urllib.request.urlopen(url + query, timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


_deployed: list[str] = []  # the app's URL once the cold repetition deployed it in this job


def run_once(params: dict) -> Repetition:
    if not _deployed:
        _deployed.append(deploy())
    url = _deployed[0]
    status, text = call(url, params["data"])
    if status != 200:
        raise RuntimeError(f"the echo service answered HTTP {status}: {text.strip()}")
    print(text)
    latencies = []
    for _ in range(params["calls"]):
        start = time.perf_counter()
        status, answer = call(url, params["data"])
        latencies.append((time.perf_counter() - start) * 1000)
        if status != 200 or answer != text:
            raise RuntimeError(f"call {len(latencies)} answered HTTP {status}: {answer.strip()}")
    missing_status, _ = call(url, None)
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    print(f"{params['calls']} calls: p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
          f"mean {statistics.fmean(latencies):.1f} ms; without data: HTTP {missing_status}")
    return Repetition(
        output={"answer": text, "missing_data_status": missing_status},
        node_ips={node_ip()},
        extra={"p50_ms": round(p50, 2), "p99_ms": round(p99, 2)},
    )


def finish(params: dict) -> None:
    """Once, after the last repetition: remove the app and, when it was the only one, Serve."""
    if params["keep"]:
        print("echo app left up (keep=true): ray101 serve call")
        return
    from ray import serve

    try:
        others = set(serve.status().applications) - {APP_NAME}
        if others:
            serve.delete(APP_NAME)
    except Exception as exc:  # noqa: BLE001 - Serve never started (a failed deploy): nothing to remove
        print(f"nothing to remove: {type(exc).__name__}")
        return
    if others:
        print(f"echo app deleted; Serve stays up for {', '.join(sorted(others))}")
    else:
        serve.shutdown()  # deletes the app with Serve: one wait instead of two
        print("echo app deleted and Serve shut down (keep=true leaves them up)")


if __name__ == "__main__":
    main(WORKLOAD, run_once, finish=finish)
