"""Blueprint wiring for the web app; grows with the scan/unlock issue."""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, abort, current_app, jsonify

bp = Blueprint("core", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/.well-known/jwks.json")
def jwks():
    """The public trust list, published only from a ring whose keys check out."""
    from tagservice.keys import KeyStoreError, load_keyring, load_keyset

    settings = current_app.config["TAGSERVICE"]
    try:
        load_keyset(settings)  # cached; checks each public key against its private key
    except KeyStoreError as e:
        log.error("not publishing the trust list: %s", e)  # names a key id, never a key
        abort(503)
    return jsonify(load_keyring(settings).jwks())


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
