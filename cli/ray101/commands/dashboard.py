"""`ray101 dashboard`: the Ray dashboard's address, its job list, and how to log in."""

from __future__ import annotations

import signal
import sys

import click

from ray101.commands.options import cluster_option, json_option
from ray101.commands.output import connect, print_json
from ray101.models import Target


def dashboard_info(target: Target, url: str, forwarding: bool, token: str | None) -> dict:
    """What `ray101 dashboard` prints: the URLs, and how to log in (the token only if asked)."""
    dialog = "the dashboard's 'Authentication Token Required' dialog"
    if target.auth != "token":
        login = "nothing to do: the cluster has no token auth"
    elif target.token_secret:
        namespace, name = target.token_secret.split("/", 1)
        login = (f"paste the token from Secret {target.token_secret} (key auth_token) into "
                 f"{dialog}: kubectl get secret -n {namespace} {name} "
                 "-o jsonpath='{.data.auth_token}' | base64 -d")
    else:
        login = (f"paste the token from {target.token_file} into {dialog} "
                 f"(cat {target.token_file}, or add --show-token)")
    return {
        "cluster": target.name, "kind": target.kind, "dashboard": url, "jobs": f"{url}/#/jobs",
        "auth": target.auth, "token_file": target.token_file,
        "token_secret": target.token_secret, "login": login, "port_forward": forwarding,
        "token": token,
    }


@click.command("dashboard")
@cluster_option
@click.option("--port", type=click.IntRange(1, 65535), default=None, metavar="PORT",
              help="Serve the dashboard on 127.0.0.1:PORT through a port-forward held until "
                   "Ctrl-C (KubeRay default: a free port).")
@click.option("--open", "open_browser", is_flag=True,
              help="Open the job list in a web browser, where there is one.")
@click.option("--show-token", is_flag=True,
              help="Also print the auth token to paste into the dashboard's login.")
@json_option
def dashboard_cmd(cluster: str, port: int | None, open_browser: bool, show_token: bool,
                  as_json: bool) -> None:
    """Print the Ray dashboard's URL, its job list, and how to log in.

    With token auth the dashboard asks for the cluster's token once per browser: the command
    says where the token is (and prints it only with --show-token). Jobs show their workload,
    cluster and topology in the Name column. For a KubeRay cluster, or with --port, the
    command holds a port-forward and stays in the foreground until Ctrl-C, so the URL it
    printed keeps working (also with --json).

    Example: ray101 dashboard --cluster local-multi --open
    """
    from ray101 import targets
    from ray101.models import K8S

    target = targets.resolve(cluster)
    with connect(target, dashboard_port=port) as conn:
        forwarding = target.kind == K8S or port is not None
        info = dashboard_info(target, conn.jobs_url, forwarding,
                              conn.token if show_token else None)
        if as_json:
            print_json(info)
        else:
            click.echo(f"Ray dashboard of {target.name}: {info['dashboard']}")
            click.echo(f"Its jobs (Name: workload on cluster (topology, repeat)): {info['jobs']}")
            click.echo(f"Log in: {info['login']}")
            if info["token"]:
                click.echo(f"Token: {info['token']}")
        sys.stdout.flush()
        if open_browser:
            import webbrowser

            if not webbrowser.open(info["jobs"]):
                click.echo(f"No web browser found here: open {info['jobs']} yourself.", err=True)
        if forwarding:
            click.echo(f"Port-forward open on {conn.jobs_url}; press Ctrl-C to close it.",
                       err=True)
            try:
                signal.pause()
            except KeyboardInterrupt:
                sys.exit(0)


COMMANDS = [dashboard_cmd]
