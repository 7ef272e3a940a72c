"""`ray101 workloads`: the workloads and their parameters."""

from __future__ import annotations

import click

from ray101.commands.options import json_option
from ray101.commands.output import console, print_json


@click.command("workloads")
@json_option
def workloads_cmd(as_json: bool) -> None:
    """List the workloads, their parameters and defaults.

    The ceiling is the most one repetition may take with the defaults: `ray101 run` stops a job
    after 120 s plus the repeat count times it, unless --timeout says otherwise.

    Example: ray101 workloads --json
    """
    from rich.table import Table

    from ray101_jobs.registry import workloads

    rows = [
        {
            "name": wl.name,
            "summary": wl.summary,
            "uses_mongo": wl.uses_mongo,
            "retries": wl.retries,
            # `ray101 run` stops a job after START_CEILING_S + repeat x this (by default)
            "ceiling_s": wl.ceiling(wl.defaults()),
            "params": {p.name: {"default": p.default, "help": p.help} for p in wl.params},
        }
        for wl in workloads().values()
    ]
    if as_json:
        print_json(rows)
        return
    table = Table("workload", "what it does", "parameters (default)", "if a node dies",
                  "ceiling s")
    for wl in workloads().values():
        params = ", ".join(f"{p.name}={p.default}" for p in wl.params)
        table.add_row(wl.name, wl.summary, params or "—", wl.retries or "—",
                      f"{wl.ceiling(wl.defaults()):g}")
    console().print(table)


COMMANDS = [workloads_cmd]
