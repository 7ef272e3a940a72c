"""Where ray101 keeps its state: registered clusters, tokens, MongoDB data, recorded runs.

``RAY101_HOME`` moves all of it (the tests use their own); the default is ``~/.ray101``.
"""

import os
import tempfile
from pathlib import Path


def home() -> Path:
    path = Path(os.environ.get("RAY101_HOME") or Path.home() / ".ray101").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def project_root() -> Path:
    """The source checkout this package runs from (used to find ``.tools``)."""
    return Path(__file__).resolve().parents[2]


def tools_dir() -> Path:
    """Binaries ray101 installs for itself (FerretDB, helm); ``RAY101_TOOLS`` moves them."""
    return Path(os.environ.get("RAY101_TOOLS") or project_root() / ".tools").expanduser()


def atomic_write(path: Path, data: str | bytes, mode: int = 0o644) -> None:
    """Write ``path`` so that readers see the old file or the new one, never half of either."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    binary = isinstance(data, bytes)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb" if binary else "w") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
