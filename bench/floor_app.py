"""The real app plus one route that does only what no unlock can skip (bench/unlock.py).

`POST /bench/floor {"tag": "..."}` verifies the tag's signature, commits one
small row durably (SQLite, WAL, synchronous=FULL, as the audit trail commits),
then decrypts and returns the summary as JSON. No bearer token, reason, tag
status, hash chain, rate limiter or metrics: the gap between this route and
`POST /api/v1/unlock` on the same server is what those cost. It is an
optimistic floor: each worker commits to a file of its own, so the workers
never wait for each other as they do for the one audit trail.

Served only by the benchmark: `gunicorn --pythonpath bench floor_app:app`.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime

from flask import jsonify, request

from tagservice import crypto, keys
from tagservice.web.security import csrf
from wsgi import app

_connections: dict[int, sqlite3.Connection] = {}  # by pid: opened after gunicorn forks


def _durable_log() -> sqlite3.Connection:
    conn = _connections.get(os.getpid())
    if conn is None:
        home = app.config["TAGSERVICE"].home
        conn = sqlite3.connect(home / f"bench-floor-{os.getpid()}.sqlite3", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE IF NOT EXISTS access (tag_id TEXT, at TEXT)")
        _connections[os.getpid()] = conn
    return conn


@csrf.exempt
def floor():
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("tag"), str):
        return jsonify(error="bad_request"), 400
    now = datetime.now(UTC)
    keyset = keys.load_keyset(app.config["TAGSERVICE"])
    data = crypto.decode_payload(body["tag"])
    header = crypto.verify_tag(data, keyset)
    log = _durable_log()
    log.execute("BEGIN IMMEDIATE")
    log.execute("INSERT INTO access VALUES (?, ?)", (header.tag_id_hex, now.isoformat()))
    log.execute("COMMIT")
    opened = crypto.open_verified(data, header, keyset, now)
    return jsonify(summary=opened.summary)


app.add_url_rule("/bench/floor", "bench_floor", floor, methods=["POST"])
