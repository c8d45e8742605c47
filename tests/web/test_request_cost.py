"""Per-request machinery: work that a request does not need is not done.

Measured by bench/unlock.py (workers' CPU per request against a bare Flask app);
these tests pin the behaviour behind each saving so it cannot quietly come back.
"""

from __future__ import annotations

import pytest
from flask_limiter import Limiter

from tagservice import create_app
from tagservice.store.db import db
from tagservice.web import auth


@pytest.fixture
def limiter_evaluations(monkeypatch) -> list[str]:
    """Every time Flask-Limiter itself starts evaluating a request's limits."""
    calls: list[str] = []
    original = Limiter._check_request_limit

    def recording(self, callable_name=None, in_middleware=True):
        calls.append(callable_name or "before_request")
        return original(self, callable_name, in_middleware)

    monkeypatch.setattr(Limiter, "_check_request_limit", recording)
    return calls


def _unlock(app, make_token, tag_url):
    with app.test_request_context():
        token = make_token()
    return app.test_client().post(
        "/api/v1/unlock",
        json={"tag": tag_url, "reason": "999"},
        headers={"Authorization": f"Bearer {token}"},
    )


@pytest.fixture
def make_token(make_clinician):
    def make() -> str:
        token, _expires = auth.issue_api_token(make_clinician())
        db.session.commit()
        return token

    return make


def test_with_rate_limits_off_an_unlock_evaluates_no_limit(
    settings, tag_factory, make_token, limiter_evaluations
):
    app = create_app({"settings": settings.with_overrides(ratelimit_enabled=False)})
    tag_url = tag_factory()
    assert _unlock(app, make_token, tag_url).status_code == 200
    assert limiter_evaluations == []


def test_with_rate_limits_on_an_unlock_still_evaluates_its_limit(
    app, tag_url, make_token, limiter_evaluations
):
    assert _unlock(app, make_token, tag_url).status_code == 200
    assert any("api_unlock" in name for name in limiter_evaluations)
