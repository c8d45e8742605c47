"""tagservice: emergency medical summaries on signed, encrypted QR tags."""

from __future__ import annotations

from flask import Flask

from tagservice.config import Settings, load_settings, read_secret_key

__version__ = "0.1.0"


def create_app(test_config: dict | None = None) -> Flask:
    """Application factory: settings, extensions, blueprints.

    `test_config` may hold `settings` (a Settings object) and any Flask config
    keys to override; tests use it to point at a temporary instance folder.
    Raises ConfigError (one line, naming what to fix) if the service cannot work,
    e.g. a key-encryption key that does not open the keyring.
    """
    from tagservice.keys import check_kek_opens_keyring

    test_config = dict(test_config or {})
    settings: Settings = test_config.pop("settings", None) or load_settings()
    check_kek_opens_keyring(settings)
    app = Flask(__name__, instance_path=str(settings.home), instance_relative_config=True)
    app.config["TAGSERVICE"] = settings
    app.config["MAX_CONTENT_LENGTH"] = 4 * 1024 * 1024  # a FHIR upload; nothing else is big
    app.config["SECRET_KEY"] = test_config.pop("SECRET_KEY", None) or read_secret_key(settings)
    app.config.update(test_config)

    from tagservice.store import db, models  # noqa: F401  (models: every table on db.metadata)
    from tagservice.web import dates, errors, security

    db.init_app(app)
    dates.init_app(app)
    security.init_app(app)
    errors.init_app(app)

    from tagservice import views
    from tagservice.web import (
        account_security,
        admin,
        api,
        auth,
        core,
        desk_export,
        linked_views,
        metrics,
        pages,
        passkey_offer,
        passkeys,
        portal,
    )

    # Blueprints, one per actor; their request hooks run in this order.
    for blueprints in (
        core,
        pages,
        auth,
        passkeys,
        passkey_offer,
        account_security,
        views,
        linked_views,
        desk_export,
        api,
        admin,
        portal,
        metrics,
    ):
        blueprints.init_app(app)
    return app
