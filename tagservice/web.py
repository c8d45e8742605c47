"""Blueprint wiring for the web app; grows with the scan/unlock issue."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, jsonify

bp = Blueprint("core", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/.well-known/jwks.json")
def jwks():
    from .keys import load_keyring

    settings = current_app.config["TAGSERVICE"]
    return jsonify(load_keyring(settings).jwks())


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
