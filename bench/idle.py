"""The idle load of the lab: CPU seconds its processes use over a window while no job runs.

The processes: every Ray node's process tree (``ray start`` and what it spawned: GCS, raylet,
dashboard, agents, monitors, idle workers, Serve's actors), whatever else runs in the nodes'
network namespaces, and the MongoDB server ray101 started. CPU = utime + stime from /proc, so
other load on the machine does not inflate it (it can only delay it).
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
ROLES = [
    (r"gcs_server", "gcs_server"), (r"/raylet ", "raylet"),
    (r"dashboard/agent\.py", "dashboard agent"), (r"dashboard/dashboard\.py", "dashboard"),
    (r"runtime_env/agent", "runtime_env agent"), (r"log_monitor\.py", "log monitor"),
    (r"autoscaler/_private/monitor\.py", "autoscaler monitor"),
    (r"ray\.util\.client\.server", "client server"),
    (r"ServeController", "Serve controller"), (r"ProxyActor", "Serve proxy"),
    (r"ray start", "ray start"), (r"ferretdb|mongod", "MongoDB server"),
]


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) of ``pid``, or None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK


def _role(pid: int) -> str:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"
    for pattern, role in ROLES:
        if re.search(pattern, cmd + " ") or re.search(pattern, comm):
            return role
    if cmd.startswith("ray::"):
        return "worker " + cmd.split()[0].replace("ray::", "")
    return comm or "?"


def _descendants(roots: set[int]) -> set[int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            st = _stat(int(entry.name))
            if st:
                parents[int(entry.name)] = st[0]
    found = set(roots)
    grew = True
    while grew:
        grew = False
        for pid, ppid in parents.items():
            if ppid in found and pid not in found:
                found.add(pid)
                grew = True
    return found


def lab_pids() -> set[int]:
    from ray101.local import plan as localplan
    from ray101.mongo import server as mongo

    roots: set[int] = set()
    data = localplan.load()
    if data:
        plan = localplan.plan_from(data)
        for node in plan.nodes:
            if node.pid:
                roots.add(node.pid)
            if node.netns:
                out = subprocess.run(["ip", "netns", "pids", node.netns], capture_output=True,
                                     text=True).stdout
                roots.update(int(p) for p in out.split() if p.isdigit())
    rec = mongo.status()
    if rec.get("pid"):
        roots.add(rec["pid"])
    return _descendants(roots)


def machine_busy_s() -> float:
    """CPU seconds the whole machine has been busy since boot (/proc/stat: every state but idle
    and iowait), whoever used them: a deployed Kubernetes, say, beside the lab."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / TICK


def idle_cpu(seconds: float = 30.0) -> dict:
    """CPU seconds per second (cores) the idle lab uses, in all and per kind of process, and
    what the whole machine used in the same window (``machine_cores``)."""
    before = {pid: _stat(pid) for pid in lab_pids()}
    busy0 = machine_busy_s()
    t0 = time.monotonic()
    time.sleep(seconds)  # the measurement window itself, not a wait for a condition
    wall = time.monotonic() - t0
    machine = machine_busy_s() - busy0
    per_role: dict[str, float] = {}
    counts: dict[str, int] = {}
    for pid, st0 in before.items():
        st1 = _stat(pid)
        if st0 is None or st1 is None:
            continue
        role = _role(pid)
        per_role[role] = per_role.get(role, 0.0) + (st1[1] - st0[1])
        counts[role] = counts.get(role, 0) + 1
    total = sum(per_role.values())
    return {
        "window_s": round(wall, 1), "processes": len(before),
        "cpu_s": round(total, 2), "cores": round(total / wall, 3),
        "machine_cores": round(machine / wall, 3),
        "per_role": sorted(({"role": r, "processes": counts[r], "cpu_s": round(v, 2),
                             "cores": round(v / wall, 3)} for r, v in per_role.items()),
                           key=lambda row: -row["cpu_s"]),
    }
