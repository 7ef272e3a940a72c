"""`ray101 serve`."""

import click


def register(cli: click.Group) -> None:
    pass
