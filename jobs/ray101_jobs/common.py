"""What every workload shares: its parameters, the repeat loop, and the one result line.

A workload module defines ``WORKLOAD`` (a :class:`Workload`: name, parameters, ideal runtime) and
``run_once(params)`` (one repetition, returning a :class:`Repetition`), and ends with::

    if __name__ == "__main__":
        main(WORKLOAD, run_once)

``main`` parses ``--repeat N`` and ``--param key=value``, connects to Ray (the cluster in
``RAY_ADDRESS`` when run as a job), times each repetition around the workload only, prints what
the tutorial prints, and ends with one machine-readable line: ``RAY101_RESULT {json}``.
This module imports no Ray at import time, so the CLI can read the parameter specs cheaply.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import socket
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ray101_jobs import mongouri, warm

RESULT_PREFIX = "RAY101_RESULT "
ERROR_PREFIX = "RAY101_ERROR "
WARM_PREFIX = "RAY101_WARM "  # what the job left started for the next one (ray101_jobs.warm)
# An untimed pause before each warm repetition. When a repetition ends, its tasks' workers go
# back to their nodes, and the head learns that the other nodes are free again from their next
# resource report; a repetition submitted at once can find the head still counting them busy,
# and its spilled tasks then wait for the report: +9-11% on one repetition in three or four on
# k8s-multi (8 back-to-back repetitions of six 1-s tasks per job), at most +5% with 0.2 s
# between them. The same race shows on local-multi. Each warm repetition measures a settled
# cluster; the cold one follows the driver's start as it always did.
REPETITION_GAP_S = 0.2


class ParamError(ValueError):
    """A parameter the user gave is unknown or malformed."""


@dataclass(frozen=True)
class Param:
    name: str
    kind: type  # int, float, bool or str
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None

    def parse(self, text: str) -> Any:
        if self.kind is bool:
            lowered = text.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ParamError(f"parameter '{self.name}' must be true or false, not '{text}'")
        if self.kind is str:
            if not text:
                raise ParamError(f"parameter '{self.name}' must not be empty")
            return text
        try:
            value = self.kind(text)
        except ValueError:
            noun = "an integer" if self.kind is int else "a number"
            raise ParamError(f"parameter '{self.name}' must be {noun}, not '{text}'") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise ParamError(f"parameter '{self.name}' must be a finite number, not '{text}'")
        if self.minimum is not None and value < self.minimum:
            raise ParamError(f"parameter '{self.name}' must be >= {self.minimum:g}, not {text}")
        if self.maximum is not None and value > self.maximum:
            raise ParamError(f"parameter '{self.name}' must be <= {self.maximum:g}, not {text}")
        return value


# A job's start-up and shutdown (driver, workers, Serve), beside its repetitions.
START_CEILING_S = 120.0


@dataclass(frozen=True)
class Workload:
    name: str
    module: str  # python -m target, e.g. ray101_jobs.parallel_retrieve
    summary: str
    params: tuple[Param, ...] = ()
    # ideal(params, cpus) -> seconds the workload would take with perfect parallelism, or None
    ideal: Callable[[dict, float], float | None] = lambda params, cpus: None
    uses_mongo: bool = False
    retries: str = ""  # what survives a lost node: the retry policy, in one line
    # ceiling(params) -> the most seconds one repetition may take: `ray101 run` stops the job
    # after START_CEILING_S + repeat x this unless --timeout says otherwise (docs/cli.md).
    ceiling: Callable[[dict], float] = lambda params: 300.0

    def default_timeout(self, params: dict, repeat: int) -> float:
        """How long `ray101 run` lets the job take before stopping it (seconds)."""
        return START_CEILING_S + repeat * self.ceiling(params)

    def defaults(self) -> dict:
        return {p.name: p.default for p in self.params}

    def parse_params(self, pairs: Iterable[str]) -> dict:
        """``["items=6", "seconds=0.5"]`` -> full parameter dict; raises ParamError."""
        by_name = {p.name: p for p in self.params}
        values = self.defaults()
        for pair in pairs:
            key, sep, text = pair.partition("=")
            key = key.strip()
            if not sep or not key:
                raise ParamError(f"parameter '{pair}' is not in key=value form")
            if key not in by_name:
                known = ", ".join(sorted(by_name)) or "none"
                raise ParamError(
                    f"unknown parameter '{key}' for workload '{self.name}' (known: {known})"
                )
            values[key] = by_name[key].parse(text.strip())
        return values

    def argv(self, params: dict, repeat: int) -> list[str]:
        """The entrypoint arguments that reproduce ``params`` (only the non-defaults)."""
        args = ["--repeat", str(repeat)]
        for p in self.params:
            if params.get(p.name, p.default) != p.default:
                value = params[p.name]
                text = str(value).lower() if isinstance(value, bool) else str(value)
                args += ["--param", f"{p.name}={text}"]
        return args


@dataclass
class Repetition:
    """What one repetition produced."""

    output: Any  # JSON-serialisable, compared across clusters
    node_ips: set[str] = field(default_factory=set)
    extra: dict = field(default_factory=dict)  # measurements that may differ between runs


def node_ip() -> str:
    """The IP of the Ray node this code runs on."""
    import ray

    return ray.util.get_node_ip_address()


def mongo_uri() -> str:
    """The node's ``RAY101_MONGO_URI``; an error saying how to set it when it is missing."""
    uri = mongouri.from_env()
    if not uri:
        raise RuntimeError(
            f"{mongouri.URI_ENV} is not set on this Ray node: start the clusters with "
            "`ray101 local up` or the Helm chart, which put it in the nodes' environment"
        )
    return uri


# --- the content digest: order-independent and mergeable across partitions --------------------
_DIGEST_MOD = 1 << 256


def digest_docs(raw_docs: Iterable[bytes]) -> tuple[int, int]:
    """(count, digest) of raw BSON documents: the sum of their SHA-256 values mod 2**256.

    A sum does not depend on the order the server returns documents in, and partial digests of
    disjoint partitions add up to the digest of the whole, so actors can send back two numbers
    instead of every document.
    """
    count = 0
    total = 0
    for raw in raw_docs:
        total += int.from_bytes(hashlib.sha256(raw).digest(), "big")
        count += 1
    return count, total % _DIGEST_MOD


def merge_digests(parts: Iterable[tuple[int, int]]) -> tuple[int, int]:
    count = 0
    total = 0
    for c, d in parts:
        count += c
        total += d
    return count, total % _DIGEST_MOD


def digest_hex(digest: int) -> str:
    return f"{digest:064x}"[:16]


# --- the harness -------------------------------------------------------------------------------
def _cluster_facts() -> dict:
    import ray

    resources = ray.cluster_resources()
    alive = [n for n in ray.nodes() if n.get("Alive")]
    return {
        "ray_version": ray.__version__,
        "nodes": len(alive),
        "cpus": resources.get("CPU", 0.0),
        "memory_bytes": int(resources.get("memory", 0)),
        "cluster_node_ips": sorted(n["NodeManagerAddress"] for n in alive),
    }


def _parse_args(workload: Workload, argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=f"python -m {workload.module}",
        description=workload.summary,
        epilog="parameters: "
        + (", ".join(f"{p.name}={p.default!r} ({p.help})" for p in workload.params) or "none"),
    )
    parser.add_argument("--repeat", type=int, default=1, help="repetitions in this job (>= 1)")
    parser.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE", help="workload parameter"
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    try:
        args.params = workload.parse_params(args.param)
    except ParamError as exc:
        parser.error(str(exc))
    return args


def main(workload: Workload, run_once: Callable[[dict], Repetition], argv=None,
         finish: Callable[[dict], None] | None = None) -> None:
    """Run ``workload`` as a job: parse arguments, repeat, print, report; exit 1 on failure.

    ``finish(params)`` runs once after the last repetition, also after a failure (clean-up)."""
    args = _parse_args(workload, argv)
    try:
        try:
            result = execute(workload, run_once, args.params, args.repeat)
        finally:
            if finish is not None:
                finish(args.params)
    except Exception as exc:  # report one clear line after the traceback, then fail the job
        traceback.print_exc()
        cause = getattr(exc, "cause", None) or exc  # a RayTaskError wraps the task's exception
        message = f"{type(cause).__name__}: {cause}".strip().splitlines()[0][:500]
        print(ERROR_PREFIX + json.dumps({"workload": workload.name, "error": message}), flush=True)
        _warm_next_job()
        sys.exit(1)
    print(RESULT_PREFIX + json.dumps(result, sort_keys=True), flush=True)
    _warm_next_job()
    _disconnect()


def _warm_next_job() -> None:
    """Leave started workers on every node for the next job (ray101_jobs.warm), after the
    result is printed: outside every timing. A failure here never fails the job."""
    import ray

    if not (ray.is_initialized() and os.environ.get("RAY_JOB_CONFIG_JSON_ENV_VAR")
            and warm.enabled()):
        return  # run by hand (a private Ray that goes away), or turned off
    try:
        rows = warm.refill()
    except Exception as exc:  # noqa: BLE001 - a best-effort courtesy to the next job
        print(f"ray101: could not keep workers warm for the next job: {type(exc).__name__}: "
              f"{str(exc).splitlines()[0][:200] if str(exc) else ''}", file=sys.stderr, flush=True)
        return
    print(WARM_PREFIX + json.dumps(rows, sort_keys=True), flush=True)


def _disconnect() -> None:
    """Leave the cluster now. In a Jobs API job the result is printed, so the driver exits at
    once (``os._exit``): ``ray.shutdown()`` took ~0.3 s and the interpreter's teardown ~0.2 s
    more of every job (docs/performance.md); the raylet cleans up the job's workers and actors
    as for any driver that exits. Run by hand, Ray shuts down as usual (it may have started a
    local Ray that must not be left behind)."""
    import ray

    if os.environ.get("RAY_JOB_CONFIG_JSON_ENV_VAR") and ray.is_initialized():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    if ray.is_initialized():
        ray.shutdown()


def execute(workload: Workload, run_once: Callable[[dict], Repetition], params: dict, repeat: int):
    import ray

    if not ray.is_initialized():
        # Inside a job RAY_ADDRESS names the cluster; by hand this starts a local Ray.
        ray.init(logging_level="WARNING", log_to_driver=True)
    facts = _cluster_facts()
    print(
        f"== {workload.name} on {facts['nodes']} node(s), {facts['cpus']:g} CPUs, "
        f"Ray {facts['ray_version']}; params {json.dumps(params, sort_keys=True)}",
        flush=True,
    )
    runtimes: list[float] = []
    outputs: list[Any] = []
    used_ips: set[str] = set()
    extras: list[dict] = []
    for i in range(repeat):
        label = "cold" if i == 0 else "warm"
        if i > 0:
            time.sleep(REPETITION_GAP_S)  # untimed: see REPETITION_GAP_S
        if repeat > 1:
            print(f"-- repetition {i + 1}/{repeat} ({label})", flush=True)
        start = time.perf_counter()
        outcome = run_once(params)
        elapsed = time.perf_counter() - start
        runtimes.append(round(elapsed, 4))
        outputs.append(outcome.output)
        used_ips |= outcome.node_ips
        extras.append(outcome.extra)
    if any(json.dumps(o, sort_keys=True) != json.dumps(outputs[0], sort_keys=True) for o in outputs):
        raise RuntimeError(f"repetitions of {workload.name} disagree: {outputs}")
    return {
        "workload": workload.name,
        "params": params,
        "output": outputs[0],
        "runtimes_s": runtimes,
        "ideal_s": workload.ideal(params, facts["cpus"]),
        "node_ips": sorted(used_ips),
        "extra": extras,
        "host": socket.gethostname(),
        **facts,
    }


def parse_result(log_text: str) -> dict | None:
    """The RAY101_RESULT (or RAY101_ERROR) record in a job's log, if any."""
    for line in reversed(log_text.splitlines()):
        for prefix in (RESULT_PREFIX, ERROR_PREFIX):
            if line.startswith(prefix):
                try:
                    return json.loads(line[len(prefix):])
                except ValueError:
                    return None
    return None
