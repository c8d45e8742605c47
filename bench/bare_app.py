"""A bare Flask app with one route: the yardstick of bench/unlock.py.

`GET /` answers "hello". Served by its own gunicorn with the same settings as
the service in the same run, so the workers' CPU per request of every route of
the service is compared with what Flask + gunicorn cost and nothing else.

Served only by the benchmark: `gunicorn --pythonpath bench bare_app:app`.
"""

from __future__ import annotations

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "hello"
