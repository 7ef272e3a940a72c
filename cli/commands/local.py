"""`ray101 local`."""

import click


def register(cli: click.Group) -> None:
    pass
