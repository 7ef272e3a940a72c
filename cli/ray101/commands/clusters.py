"""`ray101 clusters`: every cluster ray101 can submit to, and whether it answers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ray101.commands.options import context_option, json_option
from ray101.commands.output import console, print_json

if TYPE_CHECKING:
    from ray101.models import Target


def probe(target: Target) -> bool:
    """Does the target's Jobs API answer /api/version within 2 s? (k8s: from its status)."""
    from ray101.head.client import HeadClient

    if target.jobs_url is None:
        return bool(target.kube and target.kube.ready)
    try:
        token = target.read_token()
    except Exception:
        return False
    return HeadClient(target.jobs_url, token).answers(timeout=2)


@click.command("clusters")
@context_option
@json_option
@click.option("--no-k8s", is_flag=True, help="Skip looking for KubeRay clusters.")
def clusters_cmd(as_json: bool, no_k8s: bool) -> None:
    """List registered local clusters and the KubeRay clusters of the kube context.

    The token file's path (KubeRay: the Secret's name) is shown, never the token. An
    autoscaling KubeRay cluster (topology auto) shows its nodes as a range, head plus KubeRay's
    autoscaler's fewest to most workers, and how long a worker may stay idle.

    Example: ray101 clusters --json
    """
    from rich.table import Table

    from ray101 import targets
    from ray101.models import K8S

    rows = []
    for t in targets.all_targets(include_k8s=not no_k8s):
        rows.append({
            "name": t.name, "kind": t.kind, "jobs_url": t.jobs_url or "(port-forward)",
            "topology": t.topology, "nodes": t.nodes, "cpus": t.cpus, "auth": t.auth,
            "token_file": t.token_file, "token_secret": t.token_secret, "answers": probe(t), **(
                {k: getattr(t.kube, k) for k in ("state", "desired_workers", "available_workers",
                                                 "min_workers", "max_workers", "idle_timeout_s")}
                if t.kube else {}
            ),
        })
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("No clusters: run `ray101 local up` (or `make deploy` for Kubernetes).")
        return
    table = Table("name", "kind", "Jobs API", "nodes", "CPUs", "auth", "token", "answers")
    for r in rows:
        answers = "yes" if r["answers"] else "no"
        if r["kind"] == K8S:  # KubeRay: its state and workers available / desired
            answers = (f"{r['state'] or 'no status'}, workers "
                       f"{r['available_workers'] or 0}/{r['desired_workers'] or 0}")
        nodes = str(r["nodes"] or "?")
        if r.get("max_workers") is not None:  # autoscaling: the head plus min..max workers
            nodes = f"{1 + (r['min_workers'] or 0)}-{1 + r['max_workers']}"
            answers += f", idle workers go after {r['idle_timeout_s']} s"
        table.add_row(r["name"], r["kind"], r["jobs_url"], nodes,
                      f"{r['cpus']:g}" if r["cpus"] else "?", r["auth"],
                      r["token_file"] or (r["token_secret"] and f"Secret {r['token_secret']}") or "—",
                      answers)
    console().print(table)


COMMANDS = [clusters_cmd]
