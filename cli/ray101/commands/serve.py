"""`ray101 dashboard` and `ray101 serve call`: reach what runs on a cluster."""

from __future__ import annotations

import sys
import time

import click

from ray101.commands.options import cluster_option, json_option, print_json


@click.command("dashboard")
@cluster_option
@click.option("--open", "open_browser", is_flag=True, help="Open it in a web browser.")
@json_option
def dashboard_cmd(cluster: str, open_browser: bool, as_json: bool) -> None:
    """Print the Ray dashboard's URL and the link to the cluster's job list.

    Jobs carry their workload, cluster and topology in their metadata. For a KubeRay cluster
    the command keeps a port-forward open until Ctrl-C.

    Example: ray101 dashboard --cluster local-multi
    """
    from ray101 import targets
    from ray101.commands import waiting
    from ray101.models import K8S

    target = targets.resolve(cluster)
    with waiting.connect(target) as conn:
        jobs = f"{conn.jobs_url}/#/jobs"
        info = {"cluster": target.name, "dashboard": conn.jobs_url,
                "jobs": jobs, "token_file": target.token_file,
                "token_secret": target.token_secret}
        if as_json:
            print_json(info)
        else:
            click.echo(f"Ray dashboard of {target.name}: {info['dashboard']}")
            click.echo(f"Its jobs (tagged with workload and topology): {info['jobs']}")
            if target.auth == "token":
                where = target.token_file or f"Secret {target.token_secret}"
                click.echo(f"The dashboard asks for the auth token: it is in {where}.")
        if open_browser:
            import webbrowser

            webbrowser.open(jobs)
        if target.kind == K8S and not as_json:
            click.echo("Port-forward open; press Ctrl-C to close it.")
            try:
                while True:
                    time.sleep(1)
            except KeyboardInterrupt:
                sys.exit(0)


@click.group("serve")
def serve_group() -> None:
    """Talk to the Ray Serve apps the workloads deploy.

    Example: ray101 serve call --cluster local-multi --data Hello
    """


@serve_group.command("call")
@cluster_option
@click.option("--data", required=True, help="Text to send as ?data=.")
@json_option
def call_cmd(cluster: str, data: str, as_json: bool) -> None:
    """Call the echo service that the serve-echo workload left running.

    Example: ray101 serve call --cluster local-single --data Hello
    """
    import urllib.error
    import urllib.parse
    import urllib.request

    from ray101 import targets
    from ray101.commands import waiting
    from ray101.errors import Ray101Error

    target = targets.resolve(cluster)
    with waiting.connect(target) as conn:
        if not conn.serve_url:
            raise Ray101Error(f"cluster {target.name} has no known Serve address")
        url = f"{conn.serve_url}?{urllib.parse.urlencode({'data': data})}"
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                status, text = resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read().decode()
        except OSError as exc:
            raise Ray101Error(
                f"the echo service at {conn.serve_url} does not answer ({exc}); deploy it "
                f"with `ray101 run serve-echo --cluster {target.name}`"
            ) from None
    if as_json:
        print_json({"status": status, "body": text})
    elif status == 200:
        click.echo(text)
    if status != 200:
        raise Ray101Error(f"the echo service answered HTTP {status}: {text.strip()}")


COMMANDS = [dashboard_cmd, serve_group]
