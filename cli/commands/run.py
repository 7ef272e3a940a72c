"""`ray101 run`."""

import click


def register(cli: click.Group) -> None:
    pass
