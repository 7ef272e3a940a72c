"""`ray101 workloads`: the workloads and their parameters."""

from __future__ import annotations

import click

from ray101.commands.options import console, json_option, print_json


@click.command("workloads")
@json_option
def workloads_cmd(as_json: bool) -> None:
    """List the workloads, their parameters and defaults.

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
            "params": {p.name: {"default": p.default, "help": p.help} for p in wl.params},
        }
        for wl in workloads().values()
    ]
    if as_json:
        print_json(rows)
        return
    table = Table("workload", "what it does", "parameters (default)", "if a node dies")
    for wl in workloads().values():
        params = ", ".join(f"{p.name}={p.default}" for p in wl.params)
        table.add_row(wl.name, wl.summary, params or "—", wl.retries or "—")
    console().print(table)


COMMANDS = [workloads_cmd]
