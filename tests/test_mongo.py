"""ray101 mongo: the sample_mflix generator, seeding a real FerretDB, and the server commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner
from pymongo import MongoClient

from mongo_support import closed_port, ferret, mongo_env, mongo_uri  # noqa: F401  (fixtures)
from ray101 import procs
from ray101.main import cli
from ray101.mongo import server as mongo
from ray101_jobs import mflix

PASSWORD = "s3cr3t-Pa55"


def run(*args, env=None):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def counts(uri):
    with MongoClient(uri) as c:
        db = c[mflix.DATABASE]
        return db.movies.count_documents({}), db.comments.count_documents({})


# -- seeding the real server ------------------------------------------------------------------


def test_seed_is_idempotent_shrinks_and_drops(mongo_uri):
    first = mflix.seed(mongo_uri, drop=True)
    assert first["movies"]["inserted"] == 23530 and first["comments"]["inserted"] == 21032
    assert first["total"] == 44562
    again = mflix.seed(mongo_uri)
    assert again["movies"]["inserted"] == again["comments"]["inserted"] == 0
    assert counts(mongo_uri) == (23530, 21032)

    small = mflix.seed(mongo_uri, movies=1000, comments=500)
    assert small["movies"]["deleted"] == 22530
    assert counts(mongo_uri) == (1000, 500)
    with MongoClient(mongo_uri) as c:
        db = c[mflix.DATABASE]
        stored = {m["_id"] for m in db.movies.find({}, {"_id": 1})}
        assert stored == {mflix.movie_id(i) for i in range(1000)}
        assert all(c["movie_id"] in stored for c in db.comments.find({}, {"movie_id": 1}))
        assert db.movies.find_one({"_id": mflix.movie_id(7)}) == mflix.generate_movies(8)[7]

    dropped = mflix.seed(mongo_uri, movies=1000, comments=500, drop=True)
    assert (dropped["movies"]["inserted"], dropped["comments"]["inserted"]) == (1000, 500)
    assert counts(mongo_uri) == (1000, 500)

    grown = mflix.seed(mongo_uri)
    assert (grown["movies"]["inserted"], grown["movies"]["existing"]) == (22530, 1000)
    assert counts(mongo_uri) == (23530, 21032)


def test_seed_grows_past_what_one_delete_can_remove(mongo_uri):
    """Growing the movies regenerates every comment: 40,000 of them is more than FerretDB's
    SQLite backend deletes in one statement (32,766), as `make bench`'s size sweep does."""
    mflix.seed(mongo_uri, movies=1000, comments=40_000, drop=True)
    grown = mflix.seed(mongo_uri, movies=2000, comments=40_000)
    assert grown["comments"]["deleted"] == 40_000 and grown["comments"]["inserted"] == 40_000
    assert counts(mongo_uri) == (2000, 40_000)
    mflix.seed(mongo_uri, drop=True)  # the default data again, for the tests after this one


def test_cli_seed_json_and_drop(mongo_uri):
    result = run("mongo", "seed", "--movies", "120", "--comments", "80", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["movies"]["count"], data["comments"]["count"], data["total"]) == (120, 80, 200)
    # The URI without its password: ray101 adds its own server's.
    result = run("mongo", "seed", "--uri", mongo.public_uri(mongo_uri), "--movies", "120", "--comments", "80",
                 "--drop", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["movies"]["inserted"] == 120
    assert counts(mongo_uri) == (120, 80)


def test_seed_job_entrypoint(mongo_uri):
    env = dict(os.environ, RAY101_MONGO_URI=mongo_uri)
    proc = subprocess.run([sys.executable, "-m", "ray101_jobs.seed_mflix", "--movies", "50", "--comments", "20"],
                          env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert mongo_uri not in proc.stdout + proc.stderr
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RAY101_RESULT "))
    assert json.loads(line.split(" ", 1)[1])["total"] == 70
    assert counts(mongo_uri) == (50, 20)


def test_seed_job_unreachable_never_prints_password():
    port = closed_port()
    env = dict(os.environ, RAY101_MONGO_URI=f"mongodb://bob:{PASSWORD}@127.0.0.1:{port}/")
    proc = subprocess.run([sys.executable, "-m", "ray101_jobs.seed_mflix", "--timeout-ms", "500"],
                          env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 1
    assert f"127.0.0.1:{port}" in proc.stderr and PASSWORD not in proc.stdout + proc.stderr


# -- errors -----------------------------------------------------------------------------------


def test_unreachable_uri_is_one_line_naming_the_host(mongo_env):
    port = closed_port()
    # The code's server-selection timeout ends the attempt: an error, not a hang.
    result = run("mongo", "seed", env={"RAY101_MONGO_URI": f"mongodb://bob:{PASSWORD}@127.0.0.1:{port}/?authSource=admin"})
    assert result.exit_code == 1
    assert result.output.startswith("Error: cannot reach MongoDB at 127.0.0.1:") and result.output.count("\n") == 1
    assert f"127.0.0.1:{port}" in result.output and "bob:***@" in result.output
    assert PASSWORD not in result.output


def test_external_uri_status_hides_password(monkeypatch, tmp_path):
    port = closed_port()
    monkeypatch.setenv("RAY101_HOME", str(tmp_path))
    monkeypatch.setenv("RAY101_MONGO_URI", f"mongodb://bob:{PASSWORD}@127.0.0.1:{port}/")
    for args in (("mongo", "status"), ("mongo", "status", "--json"), ("mongo", "stop")):
        result = run(*args)
        assert result.exit_code == 0 and PASSWORD not in result.output, result.output
    data = json.loads(run("mongo", "status", "--json").output)
    assert data["kind"] == "external" and data["running"] is False and data["managed"] is False


@pytest.mark.parametrize(
    "args, message",
    [
        (["--movies", "-1"], "Invalid value for '--movies'"),
        (["--comments", "-5"], "Invalid value for '--comments'"),
        (["--uri", "mongodb://x", "--cluster", "c"], "give --uri or --cluster, not both"),
        (["--movies", "0", "--comments", "3"], "needs at least one movie"),
    ],
)
def test_seed_bad_input(args, message, mongo_env):
    result = run("mongo", "seed", *args)
    assert result.exit_code == 2 and message in result.output


def test_seed_with_an_invalid_uri(mongo_env):
    result = run("mongo", "seed", "--uri", "http://bob@h/")
    assert result.exit_code == 1 and result.output.startswith("Error: invalid MongoDB URI")
    result = run("mongo", "seed", env={"RAY101_MONGO_URI": f"http://bob:{PASSWORD}@h/"})
    assert result.exit_code == 1 and result.output.startswith("Error: invalid MongoDB URI")
    assert PASSWORD not in result.output


def test_seed_refuses_a_password_on_the_command_line(mongo_env):
    result = run("mongo", "seed", "--uri", f"mongodb://bob:{PASSWORD}@127.0.0.1:1/")
    assert result.exit_code == 2 and PASSWORD not in result.output
    assert result.output.splitlines()[-1] == (
        "Error: Invalid value for '--uri': holds a password, which every user of this machine can "
        "read in the process list; pass the URI without it and --password-file FILE, or the whole "
        "URI in RAY101_MONGO_URI")


def test_seed_takes_the_password_from_a_file(mongo_uri, tmp_path):
    public = mongo.public_uri(mongo_uri)
    assert public.startswith("mongodb://ray101@127.0.0.1:") and public.endswith("/?authSource=admin")
    secret = tmp_path / "password"
    secret.write_text(mongo.password_path().read_text())
    result = run("mongo", "seed", "--uri", public, "--password-file", str(secret), "--movies", "30",
                 "--comments", "10", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["total"] == 40
    secret.write_text("not-the-password\n")
    result = run("mongo", "seed", "--uri", public, "--password-file", str(secret), "--movies", "30")
    assert result.exit_code == 1 and "refused the credentials (authentication failed)" in result.output
    result = run("mongo", "seed", "--uri", public, "--password-file", str(tmp_path / "missing"))
    assert result.exit_code == 1
    assert result.output == f"Error: cannot read the password file {tmp_path / 'missing'}: No such file or directory\n"
    mflix.seed(mongo_uri, drop=True)  # the default data again, for the tests after this one


def test_the_server_refuses_a_client_without_the_password(mongo_uri):
    from pymongo.errors import OperationFailure

    public = mongo.public_uri(mongo_uri)
    host = public.split("@", 1)[1]
    with MongoClient(f"mongodb://{host}", serverSelectionTimeoutMS=5000) as anyone:
        with pytest.raises(OperationFailure) as refused:
            anyone[mflix.DATABASE].movies.find_one()
        assert refused.value.code == 13  # Unauthorized
    with MongoClient(mongo_uri, serverSelectionTimeoutMS=5000) as ours:
        assert ours[mflix.DATABASE].movies.count_documents({}) >= 0
    mode = os.stat(mongo.password_path()).st_mode & 0o777
    assert mode == 0o600 and os.stat(mongo.mongo_dir()).st_mode & 0o777 == 0o700


def test_seed_without_a_server(monkeypatch, tmp_path):
    monkeypatch.setenv("RAY101_HOME", str(tmp_path))
    monkeypatch.delenv("RAY101_MONGO_URI", raising=False)
    result = run("mongo", "seed")
    assert result.exit_code == 1 and "ray101 mongo start" in result.output


# -- the server -------------------------------------------------------------------------------


def test_status_json(mongo_uri, mongo_env):
    result = run("mongo", "status", "--json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["kind"] == "ferretdb" and data["running"] is True and data["managed"] is True
    assert data["port"] == mongo_env["port"] and data["uri"] == mongo.public_uri(mongo_uri)
    assert ":" not in data["uri"].split("//", 1)[1].split("@")[0]  # no password
    assert data["log"].endswith("ferretdb.log")


def test_start_twice_starts_one_server_and_stop_stops_it(mongo_uri, mongo_env):
    port = str(mongo_env["port"])
    first = json.loads(run("mongo", "start", "--port", port, "--json").output)
    second = json.loads(run("mongo", "start", "--port", port, "--json").output)
    assert first["pid"] == second["pid"] and second["running"]
    found = subprocess.run(["pgrep", "-f", f"listen-addr=127.0.0.1:{port}"], capture_output=True, text=True)
    assert found.stdout.split() == [str(first["pid"])]

    result = run("mongo", "stop")
    assert result.exit_code == 0 and f"stopped pid {first['pid']}" in result.output
    assert not procs.alive(first["pid"])
    assert json.loads(run("mongo", "status", "--json").output)["running"] is False
    assert run("mongo", "stop").exit_code == 0  # nothing to stop is fine

    result = run("mongo", "start", "--port", port)
    assert result.exit_code == 0 and "answering at mongodb://ray101@127.0.0.1:" in result.output
    assert f"(password in {mongo.password_path()})" in result.output


def test_start_on_another_host_restarts(mongo_uri, mongo_env):
    before = mongo.status()
    uri = mongo.ensure_running("127.0.0.2", mongo_env["port"])
    after = mongo.status()
    assert mongo.public_uri(uri) == f"mongodb://ray101@127.0.0.2:{mongo_env['port']}/?authSource=admin"
    assert after["host"] == "127.0.0.2"
    assert after["pid"] != before["pid"] and not procs.alive(before["pid"])
    assert mongo.ensure_running("127.0.0.1", mongo_env["port"]) == mongo_uri


def test_start_on_a_port_someone_else_uses(mongo_uri, mongo_env, tmp_path, monkeypatch):
    # A second ray101 home sees the first one's server as a stranger on that port.
    monkeypatch.setenv("RAY101_HOME", str(tmp_path))
    result = run("mongo", "start", "--port", str(mongo_env["port"]))
    assert result.exit_code == 1 and "already in use by a process ray101 did not start" in result.output


def test_every_mongo_command_has_help_with_an_example():
    group = cli.commands["mongo"]
    for name, command in group.commands.items():
        assert "-" not in name or name == name.lower()
        assert "Example:" in (command.help or ""), name
        assert run("mongo", name, "--help").exit_code == 0
