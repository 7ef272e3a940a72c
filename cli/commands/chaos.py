"""`ray101 chaos`."""

import click


def register(cli: click.Group) -> None:
    pass
