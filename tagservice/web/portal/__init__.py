"""The patient portal (/my): accounts, the summary editor and the card."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    # Each page module adds its routes to the one blueprint when imported.
    from tagservice.web.portal import accounts, card, linked, summary  # noqa: F401
    from tagservice.web.portal.blueprint import bp

    app.register_blueprint(bp)
