"""Prometheus metrics: who may read them, what they count, and gunicorn multiprocess mode."""

from __future__ import annotations

import os
import re
import subprocess
import urllib.error
import urllib.request

import pytest
from prometheus_client import REGISTRY

from tagservice import audit, create_app
from tagservice.config import load_settings
from tagservice.store import tags
from tagservice.store.db import begin_write, db, upgrade_database
from tagservice.web import metrics
from tests.helpers import csrf_from, gunicorn_serving, path_of, sign_in, tag_id_of, unlock_form
from tests.robustness.served import BIN, free_port

TOKEN = "a-long-random-scrape-token-for-tests"


def value(name: str, **labels) -> float:
    """The current value of one sample in this process's registry (0 when never set)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def token_app(settings):
    app = create_app(
        {
            "settings": settings,
            "SECRET_KEY": "test-secret",
            "TESTING": True,
            "TAGSERVICE_METRICS_TOKEN": TOKEN,
        }
    )
    upgrade_database(app)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


# ------------------------------------------------------------------ who may read


def test_metrics_are_served_to_a_client_on_this_machine(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    for name in (
        "tagservice_scans_total",
        "tagservice_unlocks_total",
        "tagservice_failures_total",
        "tagservice_unlock_seconds",
    ):
        assert f"# TYPE {name.removesuffix('_total')}" in response.text


def test_metrics_refuse_another_machine_without_a_token(client):
    response = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert response.status_code == 403
    assert "tagservice_" not in response.text


@pytest.mark.parametrize("header", ["X-Forwarded-For", "Forwarded", "X-Real-IP"])
def test_metrics_refuse_loopback_requests_that_came_through_a_proxy(client, header):
    # Behind nginx every request arrives from 127.0.0.1: the proxy header gives it away.
    assert client.get("/metrics", headers={header: "203.0.113.9"}).status_code == 403


def test_with_a_token_set_every_client_must_send_it(token_app):
    client = token_app.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics").headers["WWW-Authenticate"] == "Bearer"
    wrong = {"Authorization": "Bearer not-the-token"}
    assert client.get("/metrics", headers=wrong).status_code == 401
    right = {"Authorization": f"Bearer {TOKEN}"}
    remote = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/metrics", headers=right, environ_base=remote).status_code == 200


def test_the_token_is_read_from_the_environment(settings):
    environ = {"TAGSERVICE_HOME": str(settings.home), "TAGSERVICE_METRICS_TOKEN": TOKEN}
    from_env = load_settings(environ).with_overrides(database_url=settings.database_url)
    app = create_app({"settings": from_env, "SECRET_KEY": "test-secret", "TESTING": True})
    assert app.test_client().get("/metrics").status_code == 401


# ------------------------------------------------------------------ what is counted


def test_a_scan_and_an_unlock_are_counted_with_their_latency(client, app, tag_url):
    scans = value("tagservice_scans_total", code="200")
    unlocks = value("tagservice_unlocks_total", code="200")
    timed = value("tagservice_unlock_seconds_count", outcome="success")
    sign_in(client, app)
    assert unlock_form(client, tag_url).status_code == 200  # one scan, then one unlock
    assert value("tagservice_scans_total", code="200") == scans + 1
    assert value("tagservice_unlocks_total", code="200") == unlocks + 1
    assert value("tagservice_unlock_seconds_count", outcome="success") == timed + 1
    assert value("tagservice_unlock_seconds_sum", outcome="success") > 0


def test_an_unlock_through_the_api_is_counted_too(client, app, tag_url):
    unlocks = value("tagservice_unlocks_total", code="401")
    client.post("/api/v1/unlock", json={"tag": tag_url, "reason": "999"})
    assert value("tagservice_unlocks_total", code="401") == unlocks + 1


def test_a_damaged_tag_counts_as_a_scan_and_a_failure_of_its_kind(client, tag_url):
    scans = value("tagservice_scans_total", code="400")
    failures = value("tagservice_failures_total", kind="bad_signature")
    assert client.get(path_of(tag_url)[:-6] + "AAAAAA").status_code == 400
    assert value("tagservice_scans_total", code="400") == scans + 1
    assert value("tagservice_failures_total", kind="bad_signature") == failures + 1


def test_a_revoked_tag_counts_as_a_revoked_failure(client, app, tag_url, settings):
    before = value("tagservice_failures_total", kind="tag_revoked")
    with app.app_context():
        tags.revoke_tag(tag_id_of(tag_url, settings), "card lost")
    assert client.get(path_of(tag_url)).status_code == 410
    assert value("tagservice_failures_total", kind="tag_revoked") == before + 1


def test_an_audit_write_failure_counts_as_unavailable(client, app, tag_url, monkeypatch):
    sign_in(client, app)
    page = client.get(path_of(tag_url))
    before = value("tagservice_failures_total", kind="unavailable")
    timed = value("tagservice_unlock_seconds_count", outcome="failure")

    def failing(kind, **kw):
        raise audit.AuditWriteError("disk full")

    monkeypatch.setattr(audit, "record_event", failing)
    form = {"csrf_token": csrf_from(page.text), "tag": path_of(tag_url)[3:], "reason": "999"}
    assert client.post("/unlock", data=form).status_code == 503
    assert value("tagservice_failures_total", kind="unavailable") == before + 1
    assert value("tagservice_unlock_seconds_count", outcome="failure") == timed + 1


def test_failed_sign_ins_are_counted(client, app):
    before = value("tagservice_failures_total", kind="signin_failed")
    page = client.get("/signin")
    client.post(
        "/signin",
        data={
            "csrf_token": csrf_from(page.text),
            "email": "nobody@example.nhs.uk",
            "password": "wrong password here",
            "code": "123456",
        },
    )
    assert value("tagservice_failures_total", kind="signin_failed") == before + 1


def test_an_audit_event_is_counted_only_once_it_has_committed(app_context):
    before = value("tagservice_audit_events_total", kind="key.rotated", outcome="success")
    begin_write()
    audit.record_event("key.rotated", outcome="success", commit=False, kid="abcd1234")
    db.session.rollback()
    assert value("tagservice_audit_events_total", kind="key.rotated", outcome="success") == before
    audit.record_event("key.rotated", outcome="success", kid="abcd1234")
    assert (
        value("tagservice_audit_events_total", kind="key.rotated", outcome="success") == before + 1
    )


@pytest.mark.parametrize(
    "kind,outcome,details,expected",
    [
        ("tag.rejected", "failed", '{"error":"RetiredKey"}', "retired_key"),
        ("tag.rejected", "failed", '{"error":"SomethingNew"}', "invalid_tag"),
        ("tag.unlock_denied", "denied", '{"why":"expired"}', "tag_expired"),
        ("tag.unlock_denied", "denied", '{"why":"registration"}', "not_permitted"),
        ("tag.unlock_denied", "denied", '{"why":"reader_key_retired"}', "retired_key"),
        ("tag.unlock_denied", "denied", '{"why":"reader_key_destroyed"}', "destroyed_key"),
        ("tag.rejected", "failed", '{"error":"DestroyedKey"}', "destroyed_key"),
        ("clinician.locked_out", "denied", "{}", "locked_out"),
        ("patient.signin_failed", "failed", '{"why":"password"}', "patient_signin_failed"),
        ("tag.rejected", "error", "not json", "invalid_tag"),
        ("key.rotated", "error", "{}", "audited_error"),
        ("tag.unlocked", "success", "{}", None),
    ],
)
def test_failure_kinds_are_a_small_fixed_set(kind, outcome, details, expected):
    assert metrics.failure_kind(kind, outcome, details) == expected


def test_no_label_carries_a_tag_id_an_address_or_patient_data(client, app, tag_url, settings):
    sign_in(client, app)
    unlock_form(client, tag_url)
    client.get(path_of(tag_url)[:-6] + "AAAAAA")
    text = client.get("/metrics").text
    labels = " ".join(re.findall(r"\{[^}]*\}", text))
    for secret in (tag_id_of(tag_url, settings), "127.0.0.1", "Jane", "Penicillin", "HCPC"):
        assert secret not in labels


# ------------------------------------------------------------------ gunicorn


def _get(url: str, token: str | None = None) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 (loopback)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_multiprocess_mode_adds_up_every_gunicorn_worker(tmp_path):
    # Given gunicorn with two workers sharing a PROMETHEUS_MULTIPROC_DIR
    port = free_port()
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    env = {
        **os.environ,
        "TAGSERVICE_HOME": str(tmp_path / "instance"),
        "TAGSERVICE_BASE_URL": f"http://127.0.0.1:{port}",
        "TAGSERVICE_METRICS_TOKEN": TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
    }
    env.pop("DATABASE_URL", None)
    subprocess.run(
        [str(BIN / "tagservice"), "init"], env=env, check=True, capture_output=True, timeout=60
    )
    with gunicorn_serving(env, port, tmp_path / "gunicorn.log") as base:
        # When ten damaged tags are scanned, whichever worker takes each request
        for _ in range(10):
            assert _get(base + "/T/AAAAAAAA")[0] == 400
        # Then every scrape, whichever worker answers it, counts all ten
        for _ in range(4):
            status, text = _get(base + "/metrics", TOKEN)
            assert status == 200
            assert 'tagservice_scans_total{code="400"} 10.0' in text
            assert 'tagservice_failures_total{kind="truncated_tag"} 10.0' in text
        assert _get(base + "/metrics")[0] == 401
