"""Options and output helpers shared by the commands."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from rich.console import Console

CLUSTER_ENV = "RAY101_CLUSTER"


def _cluster_given(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    if not value:
        raise click.UsageError(f"Missing option '--cluster' (or set {CLUSTER_ENV})", ctx)
    return value


cluster_option = click.option(
    "--cluster", "-c", "cluster", envvar=CLUSTER_ENV, metavar="NAME", callback=_cluster_given,
    help=f"Cluster name (see `ray101 clusters`) or a Jobs API URL [env: {CLUSTER_ENV}].",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
param_option = click.option(
    "--param", "-p", "params", multiple=True, metavar="KEY=VALUE",
    help="Workload parameter (repeatable); `ray101 workloads` lists them.",
)
repeat_option = click.option(
    "--repeat", "-n", type=int, default=1, show_default=True,
    help="Repetitions inside one job: the first is cold, the rest warm.",
)


def print_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def console() -> Console:
    from rich.console import Console

    # Not a terminal (a pipe, a log): wide enough that tables keep whole names and URLs.
    return Console(highlight=False, width=None if sys.stdout.isatty() else 200)
