"""The local lab as root is safe: nothing it starts opens a way in for another local user or the
network, and `local down` signals only what `local up` started.

- Ray's directories: Ray makes its session, socket and runtime_env directories 0777, so their
  parent /tmp/<prefix> is ours and 0700; a path someone else made first, or a symlink, is refused.
- MongoDB (FerretDB) with authentication on, a generated password in a 0600 file, listening on
  the lab's address only; Serve on the head's own address.
- No secret (the Ray token, the MongoDB password) in any process's argv, while the lab starts and
  while a job runs.
- A stale record pointing at an unrelated process leaves that process alone.
- A token about to go over plain HTTP off the machine is warned about.

The lab here is its own (own state directory, subnet and MongoDB port), apart from the session's.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import TEST_MONGO_PORT, free_subnet, make_lab

IS_ROOT = os.geteuid() == 0


def _plan(lab) -> dict:
    return json.loads((lab.home / "local" / "state.json").read_text())["plan"]


def _prefix(home: Path, monkeypatch) -> str:
    from ray101.local import plan

    monkeypatch.setenv("RAY101_HOME", str(home))
    return plan.make_plan(netns=False, is_free=lambda port: True).prefix


def _secrets(lab) -> dict[str, str]:
    return {"the Ray token": lab.token(),
            "the MongoDB password": (lab.home / "mongo" / "password").read_text().strip()}


def _argv_leaks(secrets: dict[str, str]) -> set[str]:
    """Every process whose command line holds one of ``secrets`` (named, never shown)."""
    found = set()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes()
        except OSError:
            continue  # gone meanwhile
        for name, value in secrets.items():
            if value.encode() in argv:
                program = argv.split(b"\0")[0].decode(errors="replace")
                found.add(f"{name} in the argv of pid {cmdline.parent.name} ({program})")
    return found


def _scan_while(work, secrets_of) -> tuple[object, set[str], int]:
    """Run ``work()`` in a thread and scan every process's argv until it ends."""
    result: list = []
    thread = threading.Thread(target=lambda: result.append(work()))
    thread.start()
    leaks, scans = set(), 0
    while thread.is_alive():
        secrets = secrets_of()
        if secrets:
            leaks |= _argv_leaks(secrets)
            scans += 1
        time.sleep(0.2)
    thread.join()
    return result[0], leaks, scans


def _listening(port: int, netns: str | None) -> list[str]:
    """The local addresses something listens on at TCP ``port`` (inside ``netns`` when given)."""
    cmd = ["ss", "-ltnH", f"sport = :{port}"]
    if netns:
        cmd = ["ip", "netns", "exec", netns, *cmd]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [line.split()[3].rsplit(":", 1)[0] for line in out.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def safe_lab():
    """A lab of its own, brought up while every process's argv is scanned for its secrets."""
    lab = make_lab("s")

    def secrets_now() -> dict[str, str]:
        """The secrets written so far (the password before MongoDB starts, the token before
        the first node)."""
        found = {}
        for name, path in (("the Ray token", lab.token_file()),
                           ("the MongoDB password", lab.home / "mongo" / "password")):
            try:
                found[name] = path.read_text().strip()
            except OSError:
                continue
        return {name: value for name, value in found.items() if value}

    lab.up_args = ["local", "up", "--cpus", "1", "--subnet", free_subnet(140),
                   "--mongo-port", str(TEST_MONGO_PORT + 2), "--no-seed"]
    up, leaks, scans = _scan_while(lambda: lab.cli(*lab.up_args, timeout=600), secrets_now)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        lab.up_leaks, lab.up_scans = leaks, scans
        yield lab
    finally:
        lab.cli("local", "down", timeout=300)
        shutil.rmtree(lab.home, ignore_errors=True)


# -- no secret in argv; the secrets' files ---------------------------------------------------


def test_no_secret_in_any_argv_while_the_lab_starts_and_a_job_runs(safe_lab):
    lab = safe_lab
    assert lab.up_scans > 10 and not lab.up_leaks, lab.up_leaks
    secrets = _secrets(lab)
    # Seeding takes the lab's password from its file: none on the command line.
    seeded = lab.cli("mongo", "seed", "--movies", "200", "--comments", "100", "--json", check=True)
    assert json.loads(seeded.stdout)["total"] == 300
    run, leaks, scans = _scan_while(
        lambda: lab.cli("run", "mongo-sequential", "--cluster", "local-multi", "--json",
                        timeout=300),
        lambda: secrets)
    assert run.returncode == 0, run.stdout + run.stderr
    assert json.loads(run.stdout)[0]["output"]["count"] == 300  # the job got in, with the password
    assert scans > 10 and not leaks, leaks


def test_the_token_and_the_password_files_are_0600_in_private_folders(safe_lab):
    lab = safe_lab
    for path in (lab.token_file(), lab.home / "mongo" / "password"):
        info = path.stat()
        assert stat.S_IMODE(info.st_mode) == 0o600 and info.st_uid == os.geteuid(), path
    for folder in (lab.home / "mongo", lab.home / "local"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


def test_rays_directories_sit_in_a_0700_folder_of_ours(safe_lab):
    root = Path("/tmp") / _plan(safe_lab)["prefix"]
    info = os.lstat(root)
    assert stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid()
    assert stat.S_IMODE(info.st_mode) == 0o700
    # Ray opened its own directories to everyone inside it: the folder is what keeps them shut.
    sessions = list(root.glob("*/session_latest"))
    assert sessions and all(stat.S_IMODE(s.resolve().stat().st_mode) == 0o777 for s in sessions)


# -- MongoDB: authentication on, the lab's address only ---------------------------------------


def test_the_lab_mongodb_refuses_a_client_without_the_password(safe_lab):
    from pymongo import MongoClient
    from pymongo.errors import OperationFailure

    lab = safe_lab
    info = json.loads(lab.cli("mongo", "status", "--json", check=True).stdout)
    if not info["managed"]:
        pytest.skip("an external MongoDB (RAY101_MONGO_URI): not ours")
    host, port = info["host"], info["port"]
    assert info["uri"] == f"mongodb://ray101@{host}:{port}/?authSource=admin"  # never the password
    password = _secrets(lab)["the MongoDB password"]
    with MongoClient(f"mongodb://{host}:{port}/", serverSelectionTimeoutMS=5000) as anyone:
        with pytest.raises(OperationFailure) as refused:
            anyone.sample_mflix.movies.find_one()
        assert refused.value.code == 13  # Unauthorized: "Command find requires authentication"
        with pytest.raises(OperationFailure):
            anyone.admin.command("listDatabases")
    with MongoClient(f"mongodb://ray101:wrong@{host}:{port}/?authSource=admin",
                     serverSelectionTimeoutMS=5000) as guesser:
        with pytest.raises(OperationFailure) as wrong:
            guesser.admin.command("listDatabases")
        assert wrong.value.code == 18  # AuthenticationFailed
    with MongoClient(f"mongodb://ray101:{password}@{host}:{port}/?authSource=admin",
                     serverSelectionTimeoutMS=5000) as ours:
        assert ours.sample_mflix.movies.count_documents({}) >= 0

    server = json.loads((lab.home / "mongo" / "server.json").read_text())
    argv = Path(f"/proc/{server['pid']}/cmdline").read_bytes().split(b"\0")
    assert b"--test-enable-new-auth" in argv and password.encode() not in b" ".join(argv)
    plan = _plan(lab)
    assert host == (plan["bridge_ip"] if plan["netns"] else "127.0.0.1")
    # Others' servers may use the same port on their own addresses; none of ours is a wildcard.
    listening = _listening(port, None)
    assert host in listening and not {"0.0.0.0", "*", "[::]"} & set(listening), listening


def test_mongo_start_refuses_a_wildcard_address(safe_lab):
    proc = safe_lab.cli("mongo", "start", "--host", "0.0.0.0", "--port", str(TEST_MONGO_PORT + 3))
    assert proc.returncode == 1
    assert proc.stderr.strip() == ("Error: MongoDB listens on one address of this machine, not "
                                   "0.0.0.0: give the address the nodes reach it at (e.g. 127.0.0.1)")


def test_serve_listens_on_the_heads_address_only(safe_lab):
    lab = safe_lab
    lab.cli("run", "serve-echo", "--cluster", "local-single", "-p", "calls=1", "-p", "keep=true",
            timeout=300, check=True)
    head = next(n for n in _plan(lab)["nodes"] if n["name"] == "local-single-head")
    assert _listening(head["serve_port"], head["netns"]) == [head["ip"]]
    called = lab.cli("serve", "call", "--cluster", "local-single", "--data", "Hi", check=True)
    assert "Received data: Hi" in called.stdout


def test_nodes_that_hold_an_old_mongodb_uri_are_restarted_by_up(safe_lab):
    """A lab from before authentication: its nodes' environment holds a URI without the
    password (recorded as its digest); `local up` restarts them with the new one."""
    lab = safe_lab
    path = lab.home / "local" / "state.json"
    data = json.loads(path.read_text())
    before = {n["name"]: n["pid"] for n in data["plan"]["nodes"]}
    assert data["mongo"] and len(data["mongo"]) == 16
    path.write_text(json.dumps({**data, "mongo": "0123456789abcdef"}))
    up = lab.cli(*lab.up_args, timeout=600, check=True)
    assert "local-multi: restarting, for MongoDB's new address or password" in up.stdout + up.stderr
    assert up.stdout.count("started: ") == 1 and all(name in up.stdout for name in before)
    after = json.loads(path.read_text())
    assert after["mongo"] == data["mongo"]
    assert all(n["pid"] != before[n["name"]] for n in after["plan"]["nodes"])
    run = lab.cli("run", "mongo-sequential", "--cluster", "local-single", "--json", timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    again = lab.cli(*lab.up_args, timeout=600, check=True)
    assert "everything was already up" in again.stdout


# -- Ray's directories: a path someone else made first ----------------------------------------


@pytest.mark.parametrize("made_by", ["nobody", "a symlink"])
def test_up_refuses_a_ray_folder_made_by_someone_else(made_by, monkeypatch):
    if made_by == "nobody" and not IS_ROOT:
        pytest.skip("making a folder that belongs to nobody needs root")
    lab = make_lab("x")
    root = Path("/tmp") / _prefix(lab.home, monkeypatch)
    decoy = Path(lab.home) / "decoy"
    decoy.mkdir()
    try:
        if made_by == "nobody":
            root.mkdir()
            root.chmod(0o777)
            shutil.chown(root, "nobody")
            expected = (f"Error: {root} exists and belongs to user nobody (uid "
                        f"{root.stat().st_uid}), not to us: refusing to use it; remove it after "
                        "checking who made it")
        else:
            root.symlink_to(decoy)
            expected = (f"Error: {root} exists and is a symlink: refusing to use it; remove it "
                        "after checking who made it")
        proc = lab.cli("local", "up", "--subnet", free_subnet(141),
                       "--mongo-port", str(TEST_MONGO_PORT + 4), "--no-seed", timeout=120)
        assert proc.returncode == 1
        assert proc.stderr.strip() == expected
        assert not (lab.home / "local" / "state.json").exists()  # no node started
        assert not (lab.home / "mongo" / "server.json").exists()  # no MongoDB either
        assert not list(decoy.iterdir())  # nothing written through the symlink
        netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        assert root.name not in netns
        if made_by == "nobody":
            assert stat.S_IMODE(root.stat().st_mode) == 0o777  # left as it was: not ours
    finally:
        if (lab.home / "local" / "state.json").exists():  # it started after all: take it down
            lab.cli("local", "down", timeout=300)
        if root.is_symlink():
            root.unlink()
        elif root.exists():
            shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(lab.home, ignore_errors=True)


# -- a stale record never kills a stranger ----------------------------------------------------


def test_a_stale_record_pointing_at_another_process_survives_local_down(monkeypatch):
    from ray101.local import plan as localplan

    lab = make_lab("p")
    stranger = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        monkeypatch.setenv("RAY101_HOME", str(lab.home))
        plan = localplan.make_plan(netns=False, is_free=lambda port: True)
        # What a record from before a reboot looks like: the pid now belongs to another program.
        for i, node in enumerate(plan.nodes):
            node.pid = stranger.pid
            node.started = "a-boot-before:12345" if i % 2 else None  # old records had no start time
        localplan.save(plan, {})
        (lab.home / "mongo").mkdir(mode=0o700)
        (lab.home / "mongo" / "server.json").write_text(json.dumps({
            "pid": stranger.pid, "started": "a-boot-before:12345", "kind": "ferretdb",
            "binary": shutil.which("sleep"), "host": "127.0.0.1", "port": 1, "auth": True}))

        status = json.loads(lab.cli("local", "status", "--json", check=True).stdout)
        assert not any(n["running"] for c in status["clusters"].values() for n in c["nodes"])
        down = lab.cli("local", "down", timeout=120)
        assert down.returncode == 0, down.stderr
        assert down.stdout.strip() == "nothing was running"
        time.sleep(0.5)
        assert stranger.poll() is None  # still running: never signalled
        assert not (lab.home / "local" / "state.json").exists()
    finally:
        stranger.send_signal(signal.SIGKILL)
        stranger.wait()
        shutil.rmtree(lab.home, ignore_errors=True)


# -- a token over plain HTTP ------------------------------------------------------------------


def test_a_token_over_plain_http_off_the_machine_is_warned_in_one_line(tmp_path):
    lab = make_lab("w")
    token = tmp_path / "token"
    token.write_text("not-a-real-token\n")
    env = {"RAY101_TOKEN_FILE": str(token), "RAY101_HEAD_PATIENCE_S": "0"}
    try:
        remote = lab.cli("jobs", "list", "--cluster", "http://ray101-head.invalid:8265", env=env,
                         timeout=60)
        assert remote.returncode == 1
        lines = remote.stderr.strip().splitlines()
        assert lines[0] == ("Warning: the token goes to ray101-head.invalid over plain HTTP, "
                            "readable by anyone on the way; use https://, an SSH tunnel or a "
                            "port-forward to 127.0.0.1")
        assert len(lines) == 2 and lines[1].startswith("Error: cannot reach the Jobs API")
        for quiet in ("http://127.0.0.1:9", "https://ray101-head.invalid:8265"):
            proc = lab.cli("jobs", "list", "--cluster", quiet, env=env, timeout=60)
            assert proc.returncode == 1 and "Warning" not in proc.stderr, quiet
        no_token = lab.cli("jobs", "list", "--cluster", "http://ray101-head.invalid:8265",
                           timeout=60)
        assert "Warning" not in no_token.stderr  # nothing to leak
    finally:
        shutil.rmtree(lab.home, ignore_errors=True)
