"""`ray101 chaos kill-node|partition`: break a worker node on purpose, to see what survives."""

from __future__ import annotations

import sys

import click

from ray101.commands.options import Seconds, cluster_option, json_option
from ray101.commands.output import print_json


@click.group("chaos")
def chaos_group() -> None:
    """Break a worker node on purpose (never the head); docs/reliability.md says what survives.

    Example: ray101 chaos kill-node --cluster local-multi
    """


@chaos_group.command("kill-node")
@cluster_option
@click.option("--node", metavar="NAME", default=None,
              help="Worker node (local) or worker pod (KubeRay); default: a random worker.")
@json_option
def kill_node_cmd(cluster: str, node: str | None, as_json: bool) -> None:
    """Kill a worker node at once, as a crash would (local: SIGKILL; KubeRay: delete the pod).

    Tasks on it are retried elsewhere; actors that may restart do; `actor-counter` fails on
    purpose. `ray101 local up` brings a local node back; KubeRay replaces a pod by itself.

    Example: ray101 chaos kill-node --cluster local-multi --node local-multi-w1
    """
    from ray101 import chaos

    info = chaos.kill_node(cluster, node)
    if as_json:
        print_json(info)
        return
    if info["kind"] == "local":
        click.echo(f"killed {info['node']} ({info['ip']}, pid {info['pid']}) of {info['cluster']}")
        click.echo("Bring it back: ray101 local up")
    else:
        click.echo(f"deleted worker pod {info['node']} of {info['cluster']}; "
                   "KubeRay starts a replacement")


@chaos_group.command("partition")
@cluster_option
@click.option("--node", metavar="NAME", required=True, help="Worker node to cut off.")
@click.option("--seconds", type=Seconds(maximum=3600), required=True, metavar="S",
              help="How long the node stays cut off (at most an hour).")
@json_option
def partition_cmd(cluster: str, node: str, seconds: float, as_json: bool) -> None:
    """Cut a worker node's network link for S seconds, then restore it (even on Ctrl-C,
    SIGTERM or SIGHUP).

    Local clusters in network namespaces only. Ray declares a cut-off node dead after five
    failed health checks: 64.7 s after the cut, as measured in docs/reliability.md; a cut
    shorter than about a minute is harmless.

    Example: ray101 chaos partition --cluster local-multi --node local-multi-w2 --seconds 5
    """
    from ray101 import chaos

    info = chaos.partition(cluster, node, seconds,
                           progress=(lambda m: None) if as_json else (lambda m: click.echo(m, err=True)))
    if as_json:
        print_json(info)
    else:
        after = {True: "still alive in Ray", False: "declared dead by Ray: run `ray101 local up`",
                 None: "unknown (the cluster did not answer)"}[info["in_ray_after"]]
        click.echo(f"{info['node']} was cut off for {info['seconds']:g} s; now {after}")
    if info["interrupted"]:
        click.echo("Interrupted: the link is back up.", err=True)
        sys.exit(130)


COMMANDS = [chaos_group]
