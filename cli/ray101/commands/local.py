"""`ray101 local up|down|status`: the local clusters."""

from __future__ import annotations

import click

from ray101.commands.options import Positive, Subnet, json_option
from ray101.commands.output import Steps, print_json


@click.group("local")
def local_group() -> None:
    """Start, inspect and stop the local clusters (local-single, local-multi).

    Example: ray101 local status
    """


@local_group.command("up")
@click.option("--cpus", type=Positive(maximum=1024), default=2, show_default=True,
              help="Logical CPUs per Ray node.")
@click.option("--workers", type=click.IntRange(min=2), default=2, show_default=True,
              help="Worker nodes in local-multi (besides its head; at least 2).")
@click.option("--subnet", type=Subnet(), default="10.101.0.0/24", show_default=True,
              help="Network for the nodes' namespaces (must clash with no interface).")
@click.option("--netns/--no-netns", default=None,
              help="One network namespace per node (default: when root on Linux).")
@click.option("--mongo-port", type=click.IntRange(1, 65535), default=27017, show_default=True,
              help="Port of the MongoDB server ray101 starts.")
@click.option("--no-seed", is_flag=True, help="Do not load sample_mflix into MongoDB.")
def up_cmd(cpus: float, workers: int, subnet: str, netns: bool | None, mongo_port: int,
           no_seed: bool) -> None:
    """Start MongoDB and both local clusters; bring back any node that died.

    Running it again starts nothing twice. Token auth is on: the token sits in a 0600 file
    under the state directory (`ray101 clusters` shows where).

    Example: ray101 local up --cpus 2 --workers 2
    """
    import ipaddress

    from ray101.local import lab

    needed = workers + 4  # every node, the bridge, and room for the network's own addresses
    if ipaddress.ip_network(subnet).num_addresses - 2 < needed:
        raise click.BadParameter(f"'{subnet}' has too few addresses for {workers} workers "
                                 f"(at least {needed} hosts)", param_hint="'--subnet'")
    with Steps() as steps:
        result = lab.up(cpus, workers, subnet, netns, seed=not no_seed, progress=steps,
                        detail=steps.detail, mongo_port=mongo_port)
    started = result["started"]
    click.echo(f"started: {', '.join(started)}" if started else "everything was already up")
    click.echo("Next: ray101 compare   |   ray101 dashboard --cluster local-multi   |   "
               "ray101 local down")


@local_group.command("down")
def down_cmd() -> None:
    """Stop exactly what `local up` started and remove its namespaces and bridge.

    Example: ray101 local down
    """
    from ray101.local import lab

    stopped = lab.down()
    click.echo(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@local_group.command("status")
@json_option
def status_cmd(as_json: bool) -> None:
    """Show each node: running, joined to Ray, its IP and namespace.

    Example: ray101 local status --json
    """
    from ray101.local import cluster

    info = cluster.status()
    if as_json:
        print_json(info)
        return
    if not info["running"]:
        click.echo("No local clusters: run `ray101 local up`.")
        return
    for name, one in info["clusters"].items():
        answers = "answers" if one["answers"] else "DOES NOT ANSWER"
        click.echo(f"{name}: {one['jobs_url']} ({answers})")
        for n in one["nodes"]:
            state = "running" if n["running"] else "DEAD"
            joined = "in Ray" if n["in_ray"] else "not in Ray"
            click.echo(f"  {n['name']:<18} {n['ip']:<15} {state}, {joined}")


COMMANDS = [local_group]
