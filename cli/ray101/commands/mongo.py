"""`ray101 mongo`: the lab's MongoDB server and its synthetic sample_mflix data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from ray101.commands.options import context_option, json_option
from ray101.commands.output import JobWait, Steps, connect, print_json
from ray101.errors import Ray101Error
from ray101.mongo import ferretdb
from ray101.mongo import server as mongo

FC = TypeVar("FC", bound=Callable[..., object])


def _size(what: str) -> Callable[[FC], FC]:
    def check(ctx: click.Context, param: click.Parameter, value: int | None) -> int | None:
        if value is not None and value < 0:
            raise click.BadParameter(f"must be >= 0, got {value}")
        return value

    return click.option(f"--{what}", type=int, default=None, callback=check, metavar="N",
                        help=f"number of {what} (default: the tutorial's size)")  # fmt: skip


@click.group(name="mongo")
def mongo_group() -> None:
    """The MongoDB server the Mongo workloads read: an external one, mongod, or FerretDB.

    \b
    RAY101_MONGO_URI set: that server is used and never started or stopped here.
    Else mongod when on PATH, else FerretDB v1.24.2 (SQLite backend, built with Go).

    \b
    Example:
        ray101 mongo start && ray101 mongo seed
    """


@mongo_group.command(name="install")
@click.option("--force", is_flag=True, help="rebuild even when the binary is already there")
@json_option
def install_cmd(force: bool, as_json: bool) -> None:
    """Locate mongod, or build FerretDB into the tools dir (needs Go; minutes on a cold cache).

    \b
    Example:
        ray101 mongo install
    """
    if mongo.external_uri():
        raise Ray101Error(f"{mongo.URI_ENV} is set: the external server needs nothing installed here")
    with Steps(quiet=as_json) as steps:
        if mongo.local_kind() == mongo.FERRETDB:
            steps(f"FerretDB {ferretdb.VERSION} in {ferretdb.path()}")
        info = mongo.install(force=force, on_output=steps.detail)
    if as_json:
        print_json(info)
    else:
        click.echo(f"{info['kind']} {info['version'] or ''}: {info['path']}".replace("  ", " "))


@mongo_group.command(name="start")
@click.option("--host", default=mongo.DEFAULT_HOST, show_default=True, help="address to listen on")
@click.option("--port", type=click.IntRange(1, 65535), default=mongo.DEFAULT_PORT, show_default=True)
@json_option
def start_cmd(host: str, port: int, as_json: bool) -> None:
    """Start the local server (or reuse the one already running there) and wait until it answers.

    \b
    Example:
        ray101 mongo start --host 10.101.0.1 --port 27017
    """
    uri = mongo.ensure_running(host, port)
    if as_json:
        print_json(mongo.status())
    else:
        where = mongo.public_uri(uri)
        if mongo.kind() != mongo.EXTERNAL:
            where += f" (password in {mongo.password_path()})"
        click.echo(f"MongoDB ({mongo.kind()}) answering at {where}")
        click.echo("Next: ray101 mongo seed    # load the synthetic sample_mflix")


@mongo_group.command(name="stop")
@json_option
def stop_cmd(as_json: bool) -> None:
    """Stop the server ray101 started (never an external one); fine when none runs.

    \b
    Example:
        ray101 mongo stop
    """
    result = mongo.stop()
    if as_json:
        print_json(result)
    else:
        click.echo(result["message"])


@mongo_group.command(name="status")
@json_option
def status_cmd(as_json: bool) -> None:
    """Show which server is used, where, and whether it answers (passwords redacted).

    \b
    Example:
        ray101 mongo status --json
    """
    info = mongo.status()
    if as_json:
        print_json(info)
        return
    click.echo(f"kind:    {info['kind']}{'' if info['managed'] else ' (not managed by ray101)'}")
    click.echo(f"running: {'yes' if info['running'] else 'no'}")
    for key in ("uri", "pid", "log", "data"):
        if info.get(key):
            click.echo(f"{key + ':':<8} {info[key]}")


def _seed_local(uri: str, movies: int, comments: int, drop: bool, quiet: bool) -> dict:
    from pymongo.errors import PyMongoError

    from ray101_jobs import mflix

    mongo.ping(uri)  # a one-line error naming the host, within ~10 s
    try:
        if quiet:
            return mflix.seed(mongo.client(uri), movies=movies, comments=comments, drop=drop)
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        columns = (TextColumn("{task.description:<8}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, transient=False) as bar:
            tasks = {"movies": bar.add_task("movies", total=movies),
                     "comments": bar.add_task("comments", total=comments)}

            def progress(name: str, done: int, total: int) -> None:
                # ``total`` is what is missing; show progress against the full size.
                full = movies if name == "movies" else comments
                bar.update(tasks[name], completed=full - total + done)

            return mflix.seed(mongo.client(uri), movies=movies, comments=comments, drop=drop, progress=progress)
    except PyMongoError as exc:
        raise Ray101Error(f"seeding failed: {mongo.failure(exc, uri)}") from None


def _seed_cluster(cluster: str, movies: int, comments: int, drop: bool) -> dict:
    # A Kubernetes cluster's Ray pods hold only the reader's URI: the CLI seeds the release's
    # MongoDB itself, as the writer, through a port-forward (ray101.kube.mongodb). Other clusters:
    # a Ray job on the cluster, whose nodes reach MongoDB via RAY101_MONGO_URI.
    from ray101 import store, targets
    from ray101.head.jobs import JobsAPI

    args = ["--movies", str(movies), "--comments", str(comments)] + (["--drop"] if drop else [])
    target = targets.resolve(cluster)
    if target.kube is not None:
        from ray101.kube.mongodb import writer_uri

        click.echo(f"Seeding the MongoDB of {target.name} as its writer, through a port-forward", err=True)
        with writer_uri(target) as (uri, notes):
            for note in notes:
                click.echo(f"Note: {note}", err=True)
            return _seed_local(uri, movies, comments, drop, quiet=True)
    with connect(target) as conn:
        api = JobsAPI(conn)
        job_id = api.submit_module("seed-mflix", "ray101_jobs.seed_mflix", args, store.new_run_id())
        click.echo(f"Seeding through job {job_id} on {target.name}", err=True)
        with JobWait(label=f"seeding through {job_id}") as wait:
            outcome = api.follow(job_id, timeout=900, on_status=wait)
    if not outcome.succeeded:
        raise Ray101Error(outcome.error_line())
    result = outcome.result
    return result if isinstance(result, dict) else {"cluster": cluster, "result": result}


def _no_password_in_argv(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from ray101_jobs.mongouri import password_of

    if value and password_of(value) is not None:
        raise click.BadParameter(
            "holds a password, which every user of this machine can read in the process list; "
            "pass the URI without it and --password-file FILE, or the whole URI in "
            f"{mongo.URI_ENV}")
    return value


def _read_password(path: str | None) -> str | None:
    if not path:
        return None
    try:
        password = Path(path).read_text().strip()
    except OSError as exc:
        raise Ray101Error(f"cannot read the password file {path}: {exc.strerror}") from None
    if not password:
        raise Ray101Error(f"the password file {path} is empty")
    return password


@mongo_group.command(name="seed")
@click.option("--uri", callback=_no_password_in_argv,
              help="MongoDB to seed, without a password (default: RAY101_MONGO_URI or the local "
                   "server; the local server's password is added)")
@click.option("--password-file", type=click.Path(dir_okay=False), metavar="FILE",
              help="the password for --uri's user, from this file (first line)")
@click.option("--cluster", metavar="NAME",
              help="seed this cluster's MongoDB (Kubernetes: the release's, as its writer)")
@context_option
@_size("movies")
@_size("comments")
@click.option("--drop", is_flag=True, help="drop both collections first")
@json_option
def seed_cmd(uri: str | None, password_file: str | None, cluster: str | None, movies: int | None,
             comments: int | None, drop: bool, as_json: bool) -> None:
    """Load the synthetic sample_mflix (23,530 movies + 21,032 comments); safe to run again.

    Only missing documents are inserted; smaller sizes delete the surplus, so the counts end
    up exactly as asked. A password never goes on the command line (every user can read it
    there): --password-file, or the whole URI in RAY101_MONGO_URI.

    \b
    Example:
        ray101 mongo seed --movies 1000 --comments 500 --json
        ray101 mongo seed --uri mongodb://bob@db.example:27017/ --password-file ~/.db-password
    """
    from ray101_jobs import mflix

    movies = mflix.DEFAULT_MOVIES if movies is None else movies
    comments = mflix.DEFAULT_COMMENTS if comments is None else comments
    if uri and cluster:
        raise click.UsageError("give --uri or --cluster, not both")
    if password_file and not uri:
        raise click.UsageError("--password-file goes with --uri")
    if comments and not movies:
        raise click.UsageError("--comments needs at least one movie to refer to (--movies 0)")
    if max(movies, comments) >= mflix.MAX_DOCS:
        raise click.UsageError(f"sizes must be less than {mflix.MAX_DOCS}")
    if cluster:
        result = _seed_cluster(cluster, movies, comments, drop)
    else:
        uri = mongo.for_seeding(uri, _read_password(password_file)) if uri else mongo.uri()
        if not uri:
            raise Ray101Error(f"no MongoDB server: run `ray101 mongo start`, or pass --uri, or set {mongo.URI_ENV}")
        result = _seed_local(uri, movies, comments, drop, quiet=as_json)
    if as_json:
        print_json(result)
        return
    if "movies" in result and "comments" in result:
        for name in ("movies", "comments"):
            r = result[name]
            click.echo(f"{result.get('database', mflix.DATABASE)}.{name}: {r['count']} documents "
                       f"({r['inserted']} inserted, {r['existing']} already there, "
                       f"{r['deleted']} deleted)")
        click.echo(f"total: {result['total']} documents in {result['seconds']:.1f}s")
    else:
        print_json(result)


COMMANDS = [mongo_group]
