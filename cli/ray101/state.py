"""Where ray101 keeps its state: registered clusters, tokens, MongoDB data, recorded runs.

``RAY101_HOME`` moves all of it (the tests use their own); the default is ``~/.ray101``.
Tools ray101 builds for itself (FerretDB) go to ``RAY101_TOOLS``, else
``~/.cache/ray101/tools`` (the Makefile points it at the checkout's ``.tools``).
"""

import os
import tempfile
from pathlib import Path


def home() -> Path:
    path = Path(os.environ.get("RAY101_HOME") or Path.home() / ".ray101").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def tools_dir() -> Path:
    """Binaries ray101 builds for itself (FerretDB); ``RAY101_TOOLS`` moves them."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return Path(os.environ.get("RAY101_TOOLS") or cache / "ray101" / "tools").expanduser()


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


def private_dir(path: Path | str) -> Path:
    """``path`` as a directory of ours that no other user can enter: created 0700, or, when it
    already exists, a real directory owned by us (then closed to 0700). A symlink, or a path
    another user made first (a predictable name under /tmp), is refused in one line."""
    import stat

    from ray101.errors import Ray101Error

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        kind = "a symlink" if path.is_symlink() else "not a directory"
        raise Ray101Error(f"{path} exists and is {kind}: refusing to use it; remove it "
                          "after checking who made it") from None
    try:
        info = os.fstat(fd)
        if info.st_uid != os.geteuid():
            raise Ray101Error(f"{path} exists and belongs to {_user(info.st_uid)}, not to us: "
                              "refusing to use it; remove it after checking who made it")
        if stat.S_IMODE(info.st_mode) != 0o700:
            os.fchmod(fd, 0o700)
    finally:
        os.close(fd)
    return path


def _user(uid: int) -> str:
    try:
        import pwd

        return f"user {pwd.getpwuid(uid).pw_name} (uid {uid})"
    except (ImportError, KeyError):
        return f"uid {uid}"
