"""A lab: a private RAY101_HOME, a free subnet and MongoDB port, and the real `ray101` command run
in it as a user would (timed, and transcribed into the home's transcript.log). The one harness of
the benchmarks and the tests (tests/conftest.py). Also the facts about this machine and the
software that every page of docs/performance.md starts with."""

from __future__ import annotations

import json
import os
import platform
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RAY101 = [sys.executable, "-m", "ray101"]
TRANSCRIPT = "transcript.log"  # every line the CLI printed in this lab
# Variables a lab keeps from the caller's environment (the rest of RAY_*/RAY101_* is dropped).
KEPT = ("RAY101_TOOLS", "RAY101_MONGO_URI", "RAY101_MONGO_SERVER")


def free_subnet(start: int = 157) -> str:
    from ray101.local.plan import free_subnet as free

    return free(start)


def free_port(start: int = 27317) -> int:
    for port in range(start, start + 200):
        with socket.socket() as s:
            try:
                s.bind(("0.0.0.0", port))
                return port
            except OSError:
                continue
    raise RuntimeError(f"no free port in {start}..{start + 199} for the bench's MongoDB")


@dataclass
class Timed:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def command(self) -> str:
        return display(self.argv)

    def json(self):
        try:
            return json.loads(self.stdout)
        except ValueError:
            return None

    def tail(self, lines: int = 3) -> str:
        text = (self.stderr.strip() or self.stdout.strip()).splitlines()
        return " | ".join(text[-lines:])[:500]


def display(argv: list[str]) -> str:
    """A command as a user types it: `ray101 ...` for our CLI, `ray ...` for Ray's."""
    argv = list(argv)
    if argv[:3] == RAY101:
        argv = ["ray101", *argv[3:]]
    elif argv and argv[0] == str(BIN / "ray"):
        argv = ["ray", *argv[1:]]
    elif argv and argv[0] == sys.executable:
        argv = ["python", *argv[1:]]
    return shlex.join(argv)


@dataclass
class Lab:
    home: Path
    env: dict
    subnet: str | None = None
    mongo_port: int | None = None
    log: list = field(default_factory=list)

    def run(self, argv: list[str], timeout: float = 900, env: dict | None = None) -> Timed:
        """Run a whole process, as a user would, and time it by the wall clock. Its output goes
        to the lab's transcript (the tests search it for leaked secrets)."""
        start = time.perf_counter()
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                  env={**self.env, **(env or {})}, stdin=subprocess.DEVNULL,
                                  cwd=REPO)
            out = Timed(argv, proc.returncode, proc.stdout, proc.stderr,
                        time.perf_counter() - start)
        except subprocess.TimeoutExpired as exc:
            out = Timed(argv, -1, _text(exc.stdout), _text(exc.stderr) + f"\n(timeout {timeout:g} s)",
                        time.perf_counter() - start)
        self.log.append({"command": out.command, "rc": out.returncode,
                         "seconds": round(out.seconds, 3)})
        self.record(display(argv), out.stdout, out.stderr)
        return out

    def cli(self, *args: str, timeout: float = 900, env: dict | None = None,
            check: bool = False) -> Timed:
        """Run the real `ray101` command; ``check``: fail unless it exits 0."""
        out = self.run([*RAY101, *args], timeout=timeout, env=env)
        if check and out.returncode != 0:
            raise AssertionError(
                f"ray101 {' '.join(args)} exited {out.returncode}\n{out.stdout}\n{out.stderr}")
        return out

    def record(self, command, stdout: str | None, stderr: str | None) -> None:
        """Append what a command printed to the lab's transcript."""
        if not isinstance(command, str):
            command = "ray101 " + " ".join(map(str, command))
        with open(self.home / TRANSCRIPT, "a") as fh:
            fh.write(f"$ {command}\n{stdout or ''}{stderr or ''}\n")

    def token_file(self) -> Path:
        return self.home / "auth_token"

    def token(self) -> str:
        return self.token_file().read_text().strip()


def _text(value) -> str:
    if value is None:
        return ""
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def make_lab(tag: str = "b", subnet: str | None = None, mongo_port: int | None = None) -> Lab:
    """A lab in a fresh home (short: Ray's socket paths live under /tmp/<prefix>)."""
    home = Path(tempfile.mkdtemp(prefix=f"r101{tag}-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "RAY101_"))}
    env.update({"RAY101_HOME": str(home), "PYTHONUNBUFFERED": "1"})
    env.update({k: os.environ[k] for k in KEPT if os.environ.get(k)})
    return Lab(home=home, env=env, subnet=subnet, mongo_port=mongo_port)


def remove_home(lab: Lab) -> None:
    shutil.rmtree(lab.home, ignore_errors=True)


# --- facts ------------------------------------------------------------------------------------
def raylets() -> tuple[int, int]:
    """Raylets running on this machine: (outside Kubernetes pods, inside them: a deployment's
    own, which `make bench` measures too)."""
    out = subprocess.run(["pgrep", "-x", "raylet"], capture_output=True, text=True).stdout.split()
    plain = in_pods = 0
    for pid in out:
        try:
            cgroup = Path(f"/proc/{pid}/cgroup").read_text()
        except OSError:
            continue
        if "kubepods" in cgroup:
            in_pods += 1
        else:
            plain += 1
    return plain, in_pods


def load_now() -> dict:
    one, five, fifteen = os.getloadavg()
    plain, in_pods = raylets()
    return {"load_1m": round(one, 2), "load_5m": round(five, 2), "load_15m": round(fifteen, 2),
            "raylets": plain, "raylets_in_pods": in_pods, "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def machine() -> dict:
    model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu_model": model or platform.processor() or "unknown",
        "memory_gib": mem,
        "kernel": platform.release(),
        "os": platform.platform(),
        "hostname": socket.gethostname(),
    }


def versions(mongo_uri: str | None) -> dict:
    import ray

    from ray101 import __version__

    out = {"ray": ray.__version__, "python": platform.python_version(), "ray101": __version__,
           "mongodb": None}
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                                capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True).stdout.strip()
        out["git"] = commit + ("+dirty" if dirty else "") if commit else None
    except OSError:
        out["git"] = None
    if mongo_uri:
        out["mongodb"] = mongo_server(mongo_uri)
    return out


def mongo_server(uri: str) -> dict:
    from ray101_jobs import mongouri

    client = mongouri.client(uri, 5000)
    try:
        info = client.admin.command("buildInfo")
    except Exception as exc:  # noqa: BLE001 - reported, not fatal
        return {"kind": "unknown", "error": f"{type(exc).__name__}"}
    finally:
        client.close()
    if info.get("ferretdbVersion") or "ferretdb" in json.dumps(info, default=str).lower():
        backend = (info.get("ferretdbFeatures") or {}).get("backend") or info.get("backend")
        return {"kind": "FerretDB", "version": info.get("ferretdbVersion"),
                "wire_version": info.get("version"), "backend": backend or "sqlite"}
    return {"kind": "MongoDB", "version": info.get("version")}
