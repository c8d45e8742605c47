"""The `tagservice` command: a Flask CLI group with one module per concern."""

from __future__ import annotations

import click
from flask.cli import FlaskGroup

from .. import create_app
from ..config import ConfigError


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

from . import demo as _demo  # noqa: E402, F401  (these register commands on `main`)
from . import doctor as _doctor  # noqa: E402, F401
from . import linked as _linked  # noqa: E402, F401
from . import tags as _tags  # noqa: E402, F401
from .audit import audit as _audit_group  # noqa: E402
from .clinicians import clinician_group as _clinician_group  # noqa: E402
from .keys import keys_group as _keys_group  # noqa: E402

for _group in (_keys_group, _audit_group, _clinician_group):
    main.add_command(_group)
