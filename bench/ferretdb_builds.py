"""The MongoDB server on its own: FerretDB builds and Go runtime settings, read by the tutorial's
query (``aggregate`` with ``$match: {}``) straight from this process, no Ray in between.

Each setting gets a FerretDB process of its own on the same seeded SQLite data. It is read
sequentially (movies, then comments, as mongo-sequential does), with both collections at once
(two threads, as mongo-parallel does), and in two ``_id`` ranges per collection by two readers
(as mongo-partitioned does with its default two actors). Per read: wall seconds, the server's CPU
seconds (utime + stime from /proc, which the load of other processes does not inflate), its peak
memory (VmHWM), and the documents' count and digest, which must be the same for every setting.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from bench.harness import free_port
from bench.measure import median

COLLECTIONS = ("movies", "comments")
TICK = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def _hwm_mb(pid: int) -> float | None:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def stock_binary(tools: Path) -> Path | None:
    """FerretDB v1.24.2 as released (none of ray101's patches), built beside ray101's for the
    comparison; None when it cannot be built here (no Go)."""
    from ray101.mongo import ferretdb

    path = tools / "ferretdb-stock" / "bin" / "ferretdb"
    env = dict(os.environ, FERRETDB_PATCHES="none", FERRETDB_VERSION=ferretdb.VERSION)
    proc = subprocess.run(["bash", str(ferretdb.install_script()),
                           str(path.parent.parent)], env=env, capture_output=True, text=True)
    return path if proc.returncode == 0 and path.exists() else None


class Server:
    """One FerretDB process on ``data`` with the given Go environment."""

    def __init__(self, binary: Path, data: Path, env: dict, handler_args: list[str] | None = None):
        from ray101.mongo import server as mongo

        self.port = free_port(27400)
        self.uri = f"mongodb://127.0.0.1:{self.port}/"
        self.state = Path(tempfile.mkdtemp(prefix="r101-ferret-state-"))
        args = handler_args or ["--handler=sqlite", f"--sqlite-url=file:{data}/"]
        full_env = {k: v for k, v in os.environ.items() if k not in ("GOGC", "GOMEMLIMIT")}
        full_env.update(env)
        self.proc = subprocess.Popen(
            [str(binary), *args, f"--state-dir={self.state}", f"--listen-addr=127.0.0.1:{self.port}",
             "--telemetry=disable", "--debug-addr=-", "--log-level=warn"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=full_env, start_new_session=True)
        deadline = time.monotonic() + 60
        while not mongo.answers(self.uri, 500):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{binary} did not start ({env})")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.state, ignore_errors=True)


def _read(client, database: str, name: str) -> tuple[int, int]:
    from ray101_jobs.common import digest_docs
    from ray101_jobs.mongo_sequential import aggregate_raw

    return digest_docs(aggregate_raw(client, database, name))


MODES = ("sequential", "concurrent", "ranges")
RANGES = 2  # mongo-partitioned's default actor count


def plan_ranges(server: Server, database: str = "sample_mflix") -> list[tuple]:
    """(collection, lo, hi) for RANGES ``_id`` ranges per collection, planned as
    mongo-partitioned plans them (outside the timed reads)."""
    import itertools

    from ray101_jobs.mongo_partitioned import id_bounds, split_points
    from ray101_jobs.mongouri import client as mongo_client

    client = mongo_client(server.uri, 10_000)
    try:
        return [(name, lo, hi) for name in COLLECTIONS
                for lo, hi in itertools.pairwise(split_points(*id_bounds(client, database, name), RANGES))]
    finally:
        client.close()


def _read_range(uri: str, database: str, name: str, lo, hi) -> tuple[int, int]:
    from ray101_jobs.common import digest_docs
    from ray101_jobs.mongo_partitioned import range_pipeline
    from ray101_jobs.mongo_sequential import aggregate_raw
    from ray101_jobs.mongouri import client as mongo_client

    client = mongo_client(uri, 10_000)  # one connection per reader, as each actor has its own
    try:
        return digest_docs(aggregate_raw(client, database, name, range_pipeline(lo, hi)))
    finally:
        client.close()


def _threads(jobs: list) -> list:
    out: list = [None] * len(jobs)
    threads = [threading.Thread(target=lambda i=i, j=j: out.__setitem__(i, j())) for i, j in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def read_once(server: Server, mode: str, ranges: list[tuple], database: str = "sample_mflix") -> dict:
    """One full read of both collections: ``sequential``, ``concurrent`` (a thread per
    collection) or ``ranges`` (RANGES readers, each reading its share of every collection)."""
    from ray101_jobs.common import digest_hex, merge_digests
    from ray101_jobs.mongouri import client as mongo_client

    client = mongo_client(server.uri, 10_000)
    try:
        client.admin.command("ping")
        cpu0, t0 = _cpu_s(server.proc.pid), time.perf_counter()
        if mode == "concurrent":
            results = _threads([lambda n=n: _read(client, database, n) for n in COLLECTIONS])
        elif mode == "ranges":
            readers = [ranges[i::RANGES] for i in range(RANGES)]
            results = [part for parts in _threads(
                [lambda mine=mine: [_read_range(server.uri, database, *r) for r in mine] for mine in readers])
                for part in parts]
        else:
            results = [_read(client, database, n) for n in COLLECTIONS]
        wall, cpu = time.perf_counter() - t0, _cpu_s(server.proc.pid) - cpu0
    finally:
        client.close()
    count, digest = merge_digests(results)
    return {"wall_s": round(wall, 3), "server_cpu_s": round(cpu, 2), "count": count,
            "digest": digest_hex(digest)}


def settings(tools: Path, ends_only: bool = False) -> list[dict]:
    """The settings tried, slowest first: ray101's own is the last (``ends_only``: the first and
    the last, for a quick check of the harness)."""
    from ray101.mongo import ferretdb

    ours = ferretdb.path()
    patches = " + ".join(ferretdb.patch_names())
    go_env = " ".join(f"{k}={v}" for k, v in ferretdb.GO_ENV.items())
    stock = stock_binary(tools)
    rows = []
    if stock:
        rows += [
            {"name": "FerretDB as released, Go defaults", "binary": stock, "env": {}},
            {"name": f"as released, {go_env}", "binary": stock, "env": dict(ferretdb.GO_ENV)},
        ]
    rows += [
        {"name": f"patched ({patches}), Go defaults", "binary": ours, "env": {}},
        {"name": f"patched ({patches}), GOGC=400", "binary": ours, "env": {"GOGC": "400"}},
        {"name": f"ray101's: patched ({patches}), {go_env}", "binary": ours,
         "env": dict(ferretdb.GO_ENV), "ours": True},
    ]
    return [rows[0], rows[-1]] if ends_only else rows


def server_sweep(data: Path, tools: Path, repeat: int, say=print, ends_only: bool = False) -> dict:
    """Every setting on ``data`` (a seeded FerretDB SQLite directory)."""
    rows = []
    for s in settings(tools, ends_only):
        server = Server(s["binary"], data, s["env"])
        try:
            ranges = plan_ranges(server)
            read_once(server, "sequential", ranges)  # warm: SQLite's page cache, first allocations
            runs: dict[str, list] = {mode: [] for mode in MODES}
            for _ in range(repeat):
                for mode in runs:  # alternated, so drifting load hits all alike
                    runs[mode].append(read_once(server, mode, ranges))
            hwm = _hwm_mb(server.proc.pid)
        finally:
            server.stop()
        row = {"setting": s["name"], "env": s["env"], "ours": bool(s.get("ours")),
               "build": "released" if "ferretdb-stock" in str(s["binary"]) else "ray101",
               "peak_rss_mb": hwm}
        for mode, rs in runs.items():
            outputs = {(r["count"], r["digest"]) for r in rs} | {(runs["sequential"][0]["count"],
                                                                  runs["sequential"][0]["digest"])}
            if len(outputs) != 1:
                raise RuntimeError(f"{s['name']}: reads disagree: {outputs}")
            wall = median([r["wall_s"] for r in rs])
            row[mode] = {"runs": rs, "wall_s": round(wall, 3),
                         "server_cpu_s": round(median([r["server_cpu_s"] for r in rs]), 2),
                         "docs_per_s": round(rs[0]["count"] / wall) if wall else None}
        row["count"], row["digest"] = runs["sequential"][0]["count"], runs["sequential"][0]["digest"]
        say(f"  {s['name']}: " + ", ".join(
            f"{mode} {row[mode]['wall_s']:.2f} s ({row[mode]['server_cpu_s']:.1f} server CPU s)"
            for mode in MODES) + f", peak {hwm} MB")
        rows.append(row)
    if len({(r["count"], r["digest"]) for r in rows}) != 1:
        raise RuntimeError("the settings returned different documents: "
                           + ", ".join(f"{r['setting']}={r['count']}/{r['digest']}" for r in rows))
    return {"repeat": repeat, "rows": rows, "same_output": True, "ranges": RANGES,
            "query": "aggregate([{'$match': {}}]) on movies and comments, raw BSON (pymongo)"}


def server_sweep_of_lab(home: Path, repeat: int, say=print, ends_only: bool = False) -> dict:
    """The sweep on a copy of the lab's seeded FerretDB data (the lab's own server keeps its
    files; nothing writes to them while the sweep runs)."""
    from ray101 import state
    from ray101.mongo import server as mongo

    rec = mongo.status()
    if rec.get("kind") != mongo.FERRETDB:
        raise RuntimeError(f"the lab's MongoDB is {rec.get('kind')}, not FerretDB: no builds to compare")
    scratch = Path(tempfile.mkdtemp(prefix="r101-ferret-data-"))
    try:
        shutil.copytree(Path(rec["data"]), scratch / "data")
        result = server_sweep(scratch / "data", state.tools_dir(), repeat, say, ends_only)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return result
