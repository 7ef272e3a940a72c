"""The ``ray101`` command: one Click group; each command family lives in ``ray101.commands``."""

import click

from ray101 import __version__
from ray101.commands import (
    chaos,
    clusters,
    compare,
    dashboard,
    jobs,
    local,
    mongo,
    run,
    runs,
    serve,
    workloads,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="ray101")
def cli() -> None:
    """Run the Ray 101 workloads on single-node and multi-node Ray clusters and compare them.

    \b
    Quick start:
        ray101 local up                      # MongoDB + local-single + local-multi
        ray101 run parallel-retrieve --cluster local-multi
        ray101 compare                       # every workload on both clusters
    """


for module in (workloads, clusters, run, jobs, compare, runs, local, mongo, dashboard, serve, chaos):
    for command in module.COMMANDS:
        cli.add_command(command)
