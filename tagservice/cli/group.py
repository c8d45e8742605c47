"""The `tagservice` command group itself, and the one way a command fails.

Every command module imports `main` from here and adds its commands to it;
cli/__init__.py imports those modules, so `tagservice.cli:main` has them all.
"""

from __future__ import annotations

import click
from flask.cli import FlaskGroup

from tagservice import create_app
from tagservice.config import ConfigError


class CommandError(click.ClickException):
    """One line on stderr, exit code 2, no traceback."""

    exit_code = 2


def _app_factory():
    try:
        return create_app()
    except ConfigError as e:
        raise CommandError(str(e)) from None


main = FlaskGroup(
    name="tagservice",
    help="Issue, read and administer emergency-summary tags.",
    create_app=_app_factory,
    add_default_commands=True,
    add_version_option=False,
    set_debug_flag=False,
    load_dotenv=False,
)
