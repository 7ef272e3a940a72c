"""`ray101 runs` and `ray101 runs show`: the run store, read back."""

from __future__ import annotations

from pathlib import Path

import click

from ray101.commands.options import RunId, WritableFolder, json_option
from ray101.commands.output import console, print_json, print_table, summary_line


def _summary(run_id: str) -> dict:
    from ray101 import store

    jobs = store.entries(run_id)
    report = store.comparison(run_id)
    return {
        "run_id": run_id,
        "kind": "compare" if report is not None else "run",
        "jobs": len(jobs),
        "succeeded": sum(1 for j in jobs if j.get("status") == "SUCCEEDED"),
        "workloads": sorted({j["workload"] for j in jobs}),
        "clusters": sorted({j["cluster"] for j in jobs}),
        "consistent": None if report is None else report["consistent"],
    }


@click.group("runs", invoke_without_command=True)
@json_option
@click.pass_context
def runs_group(ctx: click.Context, as_json: bool) -> None:
    """List the recorded runs and comparisons, oldest first (`runs show` renders one again).

    Example: ray101 runs
    """
    if ctx.invoked_subcommand is not None:
        return
    from rich.table import Table

    from ray101 import store

    rows = [_summary(run_id) for run_id in store.run_ids()]
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo(f"No runs recorded in {store.runs_dir()}: `ray101 run` or `ray101 compare` "
                   "records them.")
        return
    table = Table("run id", "kind", "jobs", "succeeded", "workloads", "clusters", "consistent")
    for r in rows:
        consistent = "—" if r["consistent"] is None else ("yes" if r["consistent"] else "NO")
        table.add_row(r["run_id"], r["kind"], str(r["jobs"]), str(r["succeeded"]),
                      ", ".join(r["workloads"]), ", ".join(r["clusters"]), consistent)
    console().print(table)


@runs_group.command("show")
@click.argument("run_id", required=False, type=RunId())
@click.option("--markdown", is_flag=True, help="Print compare.md instead of the table.")
@click.option("--out", type=WritableFolder(), default=None,
              help="Also write compare.json, .md, .png and .html into this folder.")
@json_option
def show_cmd(run_id: str | None, markdown: bool, out: Path | None, as_json: bool) -> None:
    """Show a recorded run again, from the store alone (nothing runs); a comparison renders
    exactly as `ray101 compare` did. Without RUN_ID: the latest comparison.

    Example: ray101 runs show --out results-again
    """
    from ray101 import render, store
    from ray101.errors import Ray101Error

    if as_json and markdown:
        raise click.UsageError("--json and --markdown: choose one")
    run_id = run_id or store.last_comparison()
    data = store.comparison(run_id)
    if data is None:  # a `ray101 run`: its jobs, as `run` summed them up
        if out is not None or markdown:
            raise Ray101Error(f"run {run_id} is not a comparison: --out and --markdown render "
                              "comparisons only")
        jobs = store.entries(run_id)
        if as_json:  # one shape: an object with run_id and runs, as a comparison's
            print_json({"run_id": run_id, "runs": jobs})
        else:
            for entry in jobs:
                click.echo(summary_line(entry))
        return
    files = render.write(data, out) if out is not None else []
    if as_json:
        print_json(data)
    elif markdown:
        click.echo(render.markdown(data), nl=False)
    else:
        wrote = f"wrote {', '.join(str(f) for f in files)}" if files else "from the run store"
        print_table(data, wrote)


COMMANDS = [runs_group]
