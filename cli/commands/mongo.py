"""`ray101 mongo`."""

import click


def register(cli: click.Group) -> None:
    pass
