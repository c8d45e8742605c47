"""The `tagservice` command: a Flask CLI group with one module per concern."""

from __future__ import annotations

from flask.cli import FlaskGroup

from .. import create_app


def _app_factory():
    return create_app()


main = FlaskGroup(
    name="tagservice",
    help="Issue, read and administer emergency-summary tags.",
    create_app=_app_factory,
    add_default_commands=True,
    add_version_option=False,
    set_debug_flag=False,
    load_dotenv=False,
)
