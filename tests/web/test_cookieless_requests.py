"""Requests without a session cookie skip the cookie session's set-up; cookies work as before.

bench/unlock.py counts the workers' CPU per request: Flask built a signing
serializer on every request, cookie or not (tagservice.web.core.cookie_session).
"""

from __future__ import annotations

import pytest
from flask.sessions import SecureCookieSessionInterface

from tagservice.store import driver
from tagservice.store.db import db
from tagservice.web import auth
from tests.helpers import csrf_from, sign_in


@pytest.fixture
def serializers_built(monkeypatch) -> list[int]:
    """Every time Flask's own code builds a session signing serializer."""
    built: list[int] = []
    original = SecureCookieSessionInterface.get_signing_serializer

    def counting(self, app):
        built.append(1)
        return original(self, app)

    monkeypatch.setattr(SecureCookieSessionInterface, "get_signing_serializer", counting)
    return built


@pytest.fixture
def statements(app, monkeypatch) -> list[str]:
    """The SQL of every statement, through SQLAlchemy or straight to the driver."""
    from sqlalchemy import event

    seen: list[str] = []
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", lambda _c, _k, sql, *_a: seen.append(sql))
    original = driver.DriverStatement.rows

    def recording(statement, conn, *params):
        seen.append(statement.sql)
        return original(statement, conn, *params)

    monkeypatch.setattr(driver.DriverStatement, "rows", recording)
    return seen


def _token(app, make_clinician) -> str:
    with app.test_request_context():
        token, _expires = auth.issue_api_token(make_clinician())
        db.session.commit()
    return token


def test_a_bearer_unlock_builds_no_cookie_session_and_reads_no_session_row(
    app, client, tag_url, make_clinician, serializers_built, statements
):
    token = _token(app, make_clinician)
    statements.clear()
    response = client.post(
        "/api/v1/unlock",
        json={"tag": tag_url, "reason": "999"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200
    assert serializers_built == []
    assert "Set-Cookie" not in response.headers
    assert statements, "the unlock ran its statements"
    assert not any("web_session" in sql for sql in statements)


def test_a_health_check_builds_no_cookie_session(client, serializers_built):
    assert client.get("/healthz").status_code == 200
    assert serializers_built == []


def test_a_signed_in_clinician_stays_signed_in_and_builds_the_serializer_once(
    app, client, serializers_built
):
    sign_in(client, app)
    for _ in range(3):
        assert client.get("/account").status_code == 200
    assert len(serializers_built) == 1


def test_a_forged_session_cookie_signs_no_one_in(app, client):
    client.set_cookie("session", "eyJjbGluaWNpYW5faWQiOjF9.forged.signature")
    response = client.get("/account")
    assert response.status_code == 302
    assert "/signin" in response.headers["Location"]


def test_a_new_secret_key_ends_sessions_signed_with_the_old_one(app, client):
    sign_in(client, app)
    assert client.get("/account").status_code == 200
    app.secret_key = "a-different-secret-key-for-this-test-only"
    assert client.get("/account").status_code == 302


def test_signing_out_still_deletes_the_cookie(app, client):
    sign_in(client, app)
    response = client.post("/signout", data={"csrf_token": csrf_from(client.get("/account").text)})
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("session=;") and "Expires=Thu, 01 Jan 1970" in cookie
    assert client.get("/account").status_code == 302


def test_a_request_that_reads_the_session_still_varies_on_cookie(client):
    response = client.get("/signin")  # reads the session to know who is signed in
    assert "Cookie" in response.headers.get("Vary", "")
