"""Production mode refuses the demo account, and instance files are owner-only
(issue 12, deliverable 11)."""

from __future__ import annotations

import os
import stat
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from click.testing import CliRunner

from tagservice import demo as demo_module
from tagservice.accounts import clinicians
from tagservice.accounts.clinicians import DEMO_EMAIL, DEMO_PASSWORD
from tagservice.cli import main
from tests.helpers import csrf_from, enable_clinician_sign_in, plant_clinician_session


@pytest.fixture
def demo(app, settings):
    """The demo paramedic, made in development as `make run` makes it; its TOTP."""
    enable_clinician_sign_in(app, settings)
    with app.app_context():
        creds = demo_module.ensure_demo_clinician()
        demo_id = clinicians.find_clinician(DEMO_EMAIL).id
    secret = parse_qs(urlsplit(creds.otpauth_uri).query)["secret"][0]
    return demo_id, pyotp.TOTP(secret)


def go_production(app, settings) -> None:
    """The same instance, now started with TAGSERVICE_ENV=production."""
    app.config["TAGSERVICE"] = settings.with_overrides(env="production", demo=False)


def api_sign_in(app, code, email=DEMO_EMAIL, password=DEMO_PASSWORD):
    body = {"email": email, "password": password, "totp": code}
    return app.test_client().post("/api/v1/session", json=body)


def test_the_demo_clinician_cannot_sign_in_in_production(app, settings, demo):
    _, totp = demo
    go_production(app, settings)
    refused = api_sign_in(app, totp.now())
    unknown = api_sign_in(app, "000000", email="nobody@example.org")
    assert refused.status_code == unknown.status_code == 401
    assert refused.get_json() == unknown.get_json()
    client = app.test_client()
    token = csrf_from(client.get("/signin").text)
    form = {"csrf_token": token, "email": DEMO_EMAIL, "password": DEMO_PASSWORD, "code": "000000"}
    assert client.post("/signin", data=form).status_code == 401


def test_a_demo_api_token_from_before_is_refused_in_production(app, settings, demo):
    _, totp = demo
    token = api_sign_in(app, totp.now()).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert (
        app.test_client().get("/api/v1/tags/0000000000000000", headers=headers).status_code == 404
    )
    go_production(app, settings)
    assert (
        app.test_client().get("/api/v1/tags/0000000000000000", headers=headers).status_code == 401
    )


def test_a_demo_session_from_before_opens_nothing_in_production(app, settings, demo):
    demo_id, _ = demo
    client = app.test_client()
    plant_clinician_session(client, app, demo_id)
    assert client.get("/account").status_code == 200
    go_production(app, settings)
    assert client.get("/account").status_code == 302


def test_other_clinicians_still_sign_in_in_production(app, settings, demo):
    from tests.helpers import clinician_with_totp

    totp = clinician_with_totp(app, "ann@example.nhs.uk", "correct horse battery")
    go_production(app, settings)
    response = api_sign_in(app, totp.now(), "ann@example.nhs.uk", "correct horse battery")
    assert response.status_code == 200


@pytest.fixture
def loose_umask():
    """The usual umask (022), which left files readable by every user."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_and_demo_create_instance_files_readable_by_the_owner_only(
    tmp_path, monkeypatch, loose_umask
):
    home = tmp_path / "new-instance"
    monkeypatch.setenv("TAGSERVICE_HOME", str(home))
    monkeypatch.setenv("TAGSERVICE_ENV", "development")
    for name in (
        "TAGSERVICE_SECRET_KEY",
        "TAGSERVICE_KEK",
        "DATABASE_URL",
        "TAGSERVICE_DATABASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    cli = CliRunner()
    assert cli.invoke(main, ["init"]).exit_code == 0
    result = cli.invoke(main, ["demo", "--no-qr"])
    assert result.exit_code == 0, result.output
    assert mode(home) == 0o700
    files = [p for p in home.iterdir() if p.is_file()]
    names = {p.name for p in files}
    assert {"tagservice.sqlite3", "demo-tag.txt", "keys.json", "kek", "secret_key"} <= names
    loose = {p.name: oct(mode(p)) for p in files if mode(p) & 0o077}
    assert loose == {}
