"""`ray101 serve call`: talk to the Ray Serve app the serve-echo workload deploys."""

from __future__ import annotations

import click

from ray101.commands.options import cluster_option, json_option
from ray101.commands.output import connect, print_json


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
    from ray101.errors import Ray101Error

    target = targets.resolve(cluster)
    with connect(target) as conn:
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


COMMANDS = [serve_group]
