"""`ray101 compare`."""

import click


def register(cli: click.Group) -> None:
    pass
