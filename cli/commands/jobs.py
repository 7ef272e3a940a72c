"""`ray101 jobs`."""

import click


def register(cli: click.Group) -> None:
    pass
