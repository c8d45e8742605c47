"""tagservice: emergency medical summaries on signed, encrypted QR tags."""

from __future__ import annotations

from flask import Flask

from .config import Settings, load_settings, read_secret_key

__version__ = "0.1.0"


def create_app(test_config: dict | None = None) -> Flask:
    """Application factory: settings, extensions, blueprints.

    `test_config` may hold `settings` (a Settings object) and any Flask config
    keys to override; tests use it to point at a temporary instance folder.
    Raises ConfigError (one line, naming what to fix) if the service cannot work,
    e.g. a key-encryption key that does not open the keyring.
    """
    from .keys import check_kek_opens_keyring

    test_config = dict(test_config or {})
    settings: Settings = test_config.pop("settings", None) or load_settings()
    check_kek_opens_keyring(settings)
    app = Flask(__name__, instance_path=str(settings.home), instance_relative_config=True)
    app.config["TAGSERVICE"] = settings
    app.config["MAX_CONTENT_LENGTH"] = 4 * 1024 * 1024  # a FHIR upload; nothing else is big
    app.config["SECRET_KEY"] = test_config.pop("SECRET_KEY", None) or read_secret_key(settings)
    app.config.update(test_config)

    from . import dates, db, errors, security

    db.init_app(app)
    dates.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    # Blueprints, one per actor: one import and one init_app line each.
    # isort: off
    from . import web
    from . import pages
    from . import auth
    from . import views
    from . import desk_export
    from . import api
    from . import admin
    from . import portal
    from . import metrics

    # isort: on
    web.init_app(app)
    pages.init_app(app)
    auth.init_app(app)
    views.init_app(app)
    desk_export.init_app(app)
    api.init_app(app)
    admin.init_app(app)
    portal.init_app(app)
    metrics.init_app(app)
    return app
