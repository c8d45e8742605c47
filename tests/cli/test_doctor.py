"""`tagservice doctor`: every check passes on a good instance and names the fix on a bad one."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from tagservice import audit, keys
from tagservice.accounts import clinicians
from tagservice.cli import main
from tagservice.cli.doctor import run_checks
from tagservice.cli.doctor_checks import FAIL, PASS, WARN, clock_problems
from tagservice.store.db import db, upgrade_database
from tests.helpers import FAST_ARGON2


@pytest.fixture
def environ(app, settings, database_url):
    """The environment of a working local instance (keys, secrets, migrated database)."""
    keys.init_instance(settings)
    return {
        "TAGSERVICE_HOME": str(settings.home),
        "TAGSERVICE_ENV": "development",
        "DATABASE_URL": database_url,
    }


@pytest.fixture
def production(environ):
    return environ | {
        "TAGSERVICE_ENV": "production",
        "TAGSERVICE_BASE_URL": "https://tags.example.nhs.uk",
        "TAGSERVICE_PROXY_FIX": "1",
        "TAGSERVICE_KEK": (environ_home(environ) / "kek").read_text().strip(),
    }


def environ_home(environ):
    return Path(environ["TAGSERVICE_HOME"])


def by_name(results, name):
    return [r for r in results if r.name == name]


def statuses(results, name):
    return [r.status for r in by_name(results, name)]


def failures(results):
    return [r for r in results if r.status == FAIL]


# ------------------------------------------------------------------ the good case


def test_a_fresh_local_instance_passes_every_check(environ):
    results = run_checks(environ)
    assert failures(results) == [] and all(r.status == PASS for r in results), results
    names = {r.name for r in results}
    assert names >= {
        "secret key", "key-encryption key", "tag keys", "base URL", "database", "migrations",
        "audit chain", "clock", "rate limiting", "demo accounts",
    }  # fmt: skip


def test_a_well_configured_production_instance_passes(production):
    results = run_checks(production)
    assert failures(results) == []
    # One host: limits counted per worker is a decision for the operator, so a warning.
    assert [r.name for r in results if r.status == WARN] == ["rate limiting"]


def test_a_service_that_cannot_start_fails_without_printing_the_error_text(environ):
    def factory(_config):
        raise RuntimeError("could not parse postgresql://svc:hunter2secret@db/tags")

    results = run_checks(environ, app_factory=factory)
    [result] = by_name(results, "service")
    assert result.status == FAIL and "RuntimeError" in result.detail
    assert "hunter2secret" not in result.detail


def test_the_command_exits_0_when_healthy_and_1_when_anything_fails(environ, monkeypatch):
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    healthy = CliRunner().invoke(main, ["doctor"])
    assert healthy.exit_code == 0, healthy.output
    assert "healthy" in healthy.output.splitlines()[-1]
    os.chmod(environ_home(environ) / "keys.json", 0o644)
    broken = CliRunner().invoke(main, ["doctor"])
    assert broken.exit_code == 1
    assert "FAIL  tag keys" in broken.output and "chmod 600" in broken.output


def test_warnings_alone_do_not_fail(environ, monkeypatch):
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TAGSERVICE_RATELIMIT_ENABLED", "false")
    result = CliRunner().invoke(main, ["doctor"])
    assert result.exit_code == 0
    assert "WARN  rate limiting" in result.output


def test_nothing_secret_is_printed(environ, monkeypatch):
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    home = environ_home(environ)
    output = CliRunner().invoke(main, ["doctor"]).output
    for secret in ("secret_key", "kek"):
        assert (home / secret).read_text().strip() not in output
    assert "private" not in output


# ------------------------------------------------------------------ files and settings


def test_a_missing_instance_fails_and_says_to_run_init(tmp_path):
    results = run_checks({"TAGSERVICE_HOME": str(tmp_path / "nowhere")})
    assert statuses(results, "instance folder") == [FAIL]
    assert "tagservice init" in by_name(results, "instance folder")[0].detail
    assert statuses(results, "service") == [FAIL]  # the app is not even tried


def test_bad_settings_fail_with_the_configuration_message(tmp_path):
    results = run_checks({"TAGSERVICE_HOME": str(tmp_path), "TAGSERVICE_ENV": "staging"})
    assert [(r.status, r.name) for r in results] == [(FAIL, "settings")]
    assert "TAGSERVICE_ENV" in results[0].detail


@pytest.mark.parametrize(
    "filename,check",
    [("secret_key", "secret key"), ("kek", "key-encryption key"), ("keys.json", "tag keys")],
)
def test_a_secret_file_other_users_can_read_fails(environ, filename, check):
    path = environ_home(environ) / filename
    os.chmod(path, 0o640)
    [result] = by_name(run_checks(environ), check)
    assert result.status == FAIL and f"chmod 600 {path}" in result.detail


@pytest.mark.parametrize("filename", ["secret_key", "kek", "keys.json"])
def test_a_missing_secret_file_says_to_restore_it(environ, filename):
    (environ_home(environ) / filename).unlink()
    results = run_checks(environ)
    assert any("restore it from backup" in r.detail for r in failures(results))


def test_a_wrong_key_encryption_key_fails_the_keyring(environ):
    other = keys.generate_kek()
    [result] = by_name(run_checks(environ | {"TAGSERVICE_KEK": other}), "tag keys")
    assert result.status == FAIL and "wrong key-encryption key" in result.detail


def test_an_open_instance_folder_warns(environ):
    os.chmod(environ_home(environ), 0o755)  # noqa: S103 (the misconfiguration under test)
    assert statuses(run_checks(environ), "instance folder") == [WARN]


@pytest.mark.parametrize("secret", ["dev", "test-secret", "short-but-random-6f2a"])
def test_a_weak_secret_key_warns_locally_and_fails_in_production(environ, production, secret):
    assert statuses(run_checks(environ | {"TAGSERVICE_SECRET_KEY": secret}), "secret key") == [WARN]
    assert statuses(run_checks(production | {"TAGSERVICE_SECRET_KEY": secret}), "secret key") == [
        FAIL
    ]


def test_production_needs_an_https_base_url(production):
    results = run_checks(production | {"TAGSERVICE_BASE_URL": "http://tags.example.nhs.uk"})
    [result] = by_name(results, "base URL")
    assert result.status == FAIL and "https://" in result.detail


def test_a_base_url_with_a_path_fails(environ):
    results = run_checks(environ | {"TAGSERVICE_BASE_URL": "https://example.nhs.uk/tags"})
    assert statuses(results, "base URL") == [FAIL]


def test_production_behind_a_proxy_without_proxy_fix_warns(production):
    results = run_checks(production | {"TAGSERVICE_PROXY_FIX": "0"})
    assert statuses(results, "reverse proxy") == [WARN]


def test_a_kek_file_beside_the_keyring_warns_in_production(production):
    environ = {k: v for k, v in production.items() if k != "TAGSERVICE_KEK"}
    [result] = by_name(run_checks(environ), "key-encryption key")
    assert result.status == WARN and "TAGSERVICE_KEK" in result.detail


def test_rate_limits_switched_off_warn(environ):
    results = run_checks(environ | {"TAGSERVICE_RATELIMIT_ENABLED": "false"})
    [result] = by_name(results, "rate limiting")
    assert result.status == WARN and "TAGSERVICE_RATELIMIT_ENABLED=false" in result.detail


def test_per_process_rate_limits_in_production_warn(production):
    [result] = by_name(run_checks(production), "rate limiting")
    assert result.status == WARN and "redis://" in result.detail


def test_a_key_older_than_two_years_warns(environ):
    later = datetime.now(UTC) + timedelta(days=800)
    results = run_checks(environ, now=later)
    warned = [r for r in by_name(results, "tag keys") if r.status == WARN]
    assert len(warned) == 2 and "keys rotate" in warned[0].detail


def test_a_metrics_directory_that_cannot_be_written_fails(environ, tmp_path):
    missing = tmp_path / "no-such-dir"
    results = run_checks(environ | {"PROMETHEUS_MULTIPROC_DIR": str(missing)})
    assert statuses(results, "metrics") == [FAIL]
    missing.mkdir()
    results = run_checks(environ | {"PROMETHEUS_MULTIPROC_DIR": str(missing)})
    assert statuses(results, "metrics") == [PASS]


def test_a_short_metrics_token_warns(environ):
    results = run_checks(environ | {"TAGSERVICE_METRICS_TOKEN": "abc"})
    assert statuses(results, "metrics") == [WARN]


# ------------------------------------------------------------------ the database


def test_an_unreachable_database_fails_without_printing_its_address(environ):
    url = "postgresql+psycopg://tagservice:hunter2secret@127.0.0.1:1/tagservice"
    results = run_checks(environ | {"DATABASE_URL": url})
    [result] = by_name(results, "database")
    assert result.status == FAIL and "DATABASE_URL" in result.detail
    assert "hunter2secret" not in " ".join(r.detail for r in results)
    assert by_name(results, "audit chain") == []


def test_a_database_behind_the_code_says_to_upgrade(settings, database_url, app):
    with app.app_context():
        db.drop_all()
        db.session.execute(text("DROP TABLE IF EXISTS alembic_version"))
        db.session.commit()
    upgrade_database(app, "0001")
    keys.init_instance(settings)
    environ = {"TAGSERVICE_HOME": str(settings.home), "DATABASE_URL": database_url}
    [result] = by_name(run_checks(environ), "migrations")
    assert result.status == FAIL and "tagservice db upgrade" in result.detail


def test_a_tampered_audit_chain_fails(environ, app):
    with app.app_context():
        audit.record_event("key.rotated", outcome="success", kid="abcd1234")
        db.session.execute(text("UPDATE audit_event SET reason = 'ae' WHERE id = 1"))
        db.session.commit()
    [result] = by_name(run_checks(environ), "audit chain")
    assert result.status == FAIL and "broken at event 1" in result.detail


def test_a_clock_behind_the_newest_audit_event_fails(environ, app):
    # Given an event written by a machine whose clock was an hour ahead
    with app.app_context():
        future = datetime.now(UTC) + timedelta(hours=1)
        audit.record_event("key.rotated", outcome="success", now=future, kid="abcd1234")
    # Then this machine's (correct) clock looks an hour behind the trail
    [result] = by_name(run_checks(environ), "clock")
    assert result.status == FAIL and "behind the newest audit event" in result.detail


@pytest.mark.parametrize(
    "apart,status",
    [(timedelta(0), PASS), (timedelta(seconds=30), WARN), (timedelta(hours=1), FAIL)],
)
def test_the_clock_is_compared_with_the_database_server(apart, status):
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    [result] = clock_problems(now, now - timedelta(minutes=5), now + apart)
    assert result.status == status


def test_production_with_an_active_demo_paramedic_fails_until_it_is_suspended(production, app):
    app.config["ARGON2_PARAMS"] = FAST_ARGON2
    with app.app_context():
        clinicians.add_clinician(*clinicians.DEMO_ACCOUNT, password=clinicians.DEMO_PASSWORD)
    [result] = by_name(run_checks(production), "demo accounts")
    assert result.status == FAIL and "clinician suspend" in result.detail
    with app.app_context():
        clinicians.suspend(clinicians.DEMO_EMAIL)
    assert statuses(run_checks(production), "demo accounts") == [PASS]
