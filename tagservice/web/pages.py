"""Plain pages for people who arrive without a tag: what this is and where to go."""

from __future__ import annotations

from flask import Blueprint, Flask, render_template

bp = Blueprint("pages", __name__)


@bp.get("/")
def index():
    return render_template("index.html")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
