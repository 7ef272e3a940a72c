"""`ray101 clusters`."""

import click


def register(cli: click.Group) -> None:
    pass
