"""FerretDB as ray101 builds it: v1.24.2 with the patches in ``scripts/ferretdb-patches/``,
built from source by ``scripts/install-ferretdb.sh`` (both beside this file, shipped in the
package) into ``<tools>/bin/ferretdb``, and the Go runtime settings it runs with.

The build id (version, patches in the order applied, their sha256) comes from the script itself
(``--build-id``); a binary whose recorded id differs is rebuilt.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from ray101 import state
from ray101.errors import Ray101Error

VERSION = "v1.24.2"
# FerretDB's Go runtime settings. Its CPU goes mostly to decoding stored rows into documents,
# and about 15% to garbage collection with Go's default (GOGC=100): collecting only when the
# heap reaches GOMEMLIMIT removes most of that, and the limit bounds the memory it takes.
# RAY101_FERRETDB_GOGC / RAY101_FERRETDB_GOMEMLIMIT override them (docs/performance.md).
GO_ENV = {"GOGC": "off", "GOMEMLIMIT": "1GiB"}


def path() -> Path:
    """Where ray101's FerretDB binary goes: ``<tools>/bin/ferretdb``."""
    return state.tools_dir() / "bin" / "ferretdb"


def version_of(path: Path) -> str | None:
    try:
        out = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"version:\s*(\S+)", out)
    return match.group(1) if match else None


def build_of(path: Path) -> str | None:
    try:
        return Path(f"{path}.build").read_text().strip()
    except OSError:
        return None


def env() -> dict:
    """The environment FerretDB runs with: ours, plus its Go runtime settings."""
    out = dict(os.environ)
    for key, default in GO_ENV.items():
        out[key] = os.environ.get(f"RAY101_FERRETDB_{key}") or default
    return out


def install_script() -> Path:
    """The build script, shipped as package data (no checkout needed)."""
    return Path(__file__).resolve().parent / "scripts" / "install-ferretdb.sh"


def _install_env() -> dict:
    """The environment install-ferretdb.sh runs with for ray101's own build (all its patches)."""
    env = dict(os.environ, RAY101_TOOLS=str(state.tools_dir()), FERRETDB_VERSION=VERSION)
    env.pop("FERRETDB_PATCHES", None)
    return env


def build_id() -> str:
    """The build id install-ferretdb.sh writes into <tools>/bin/ferretdb.build for the build it
    makes now: the version, the patches in the order it applies them, and their sha256."""
    proc = subprocess.run(["bash", str(install_script()), "--build-id"], env=_install_env(),
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise Ray101Error(f"{install_script()} --build-id failed: {proc.stderr.strip()[-300:]}")
    return proc.stdout.strip()


def patch_names() -> list[str]:
    """The patches ray101's FerretDB build applies, in order."""
    return build_id().split("patches=", 1)[1].split()[0].split(",")


def _run_streaming(cmd: list[str], env: dict, on_output: Callable[[str], object] | None) -> tuple[int, str]:
    """Run ``cmd``, passing each line it prints to ``on_output``; returns (exit code, last line)."""
    last = "no output"
    with subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, bufsize=1) as proc:
        assert proc.stdout is not None  # stdout=PIPE
        try:
            for line in proc.stdout:
                if line.strip():
                    last = line.strip()
                    if on_output is not None:
                        on_output(last)
        except BaseException:
            proc.kill()
            raise
    return proc.returncode, last


def build(force: bool = False, on_output: Callable[[str], object] | None = None) -> Path:
    """Build FerretDB into :func:`path` unless the build there is this one (version, patches);
    ``on_output`` hears each line the build prints (go build names each package it compiles)."""
    binary = path()
    if not force and version_of(binary) == VERSION and build_of(binary) == build_id():
        return binary
    if not shutil.which("go"):
        raise Ray101Error(
            f"FerretDB {VERSION} is not installed at {binary} and building it needs Go: "
            "install Go (https://go.dev/dl/), or put mongod on PATH, or set RAY101_MONGO_URI"
        )
    script = install_script()
    if not script.exists():
        raise Ray101Error(f"cannot build FerretDB: {script} is missing")
    if force and binary.exists():
        binary.unlink()
    env = _install_env()
    # -v: go build names each package as it compiles it, the build's visible progress.
    env["GOFLAGS"] = " ".join(filter(None, (env.get("GOFLAGS"), "-v")))
    code, last = _run_streaming(["bash", str(script)], env, on_output)
    if code != 0:
        raise Ray101Error(f"building FerretDB {VERSION} failed ({script}): {last}")
    if version_of(binary) != VERSION:
        raise Ray101Error(f"built {binary}, but it does not report version {VERSION}")
    return binary
