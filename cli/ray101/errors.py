"""One error type for everything a user can get wrong or the world can break.

Raised anywhere in ray101; Click prints it as one line, ``Error: ...``, and exits 1.
"""

import click


class Ray101Error(click.ClickException):
    """A failure to report to the user in one line, never as a traceback."""

    exit_code = 1
