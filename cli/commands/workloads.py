"""`ray101 workloads`."""

import click


def register(cli: click.Group) -> None:
    pass
