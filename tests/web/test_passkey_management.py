"""Passkeys as an account holder and an administrator manage them (issue 12, findings
"high" #1 and "low" replay): a fresh proof to add one, listing and removing, audit,
single-use challenges and sign counts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from sqlalchemy import select, update

from tagservice.accounts import clinicians
from tagservice.cli.clinicians import clinician_group
from tagservice.store.db import db
from tagservice.store.models import AuditEvent, Passkey, WebSession
from tests.passkey_helpers import (  # noqa: F401 (fixtures, found by name)
    EMAIL,
    ORIGIN,
    PASSWORD,
    csrf_token,
    passkey_sign_in,
    phone_fixture,
    register,
    registered_fixture,
    settings_fixture,
    signed_in_fixture,
    totp_fixture,
    web_app_fixture,
)
from tests.webauthn_soft import SoftAuthenticator


def age_proof(app, minutes: float) -> None:
    """Move every session's last proof of identity `minutes` into the past."""
    with app.app_context():
        then = datetime.now(UTC) - timedelta(minutes=minutes)
        db.session.execute(update(WebSession).values(proved_at=then))
        db.session.commit()


def passkeys(app) -> list[Passkey]:
    with app.app_context():
        return list(db.session.scalars(select(Passkey)))


def kinds(app, kind: str) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.kind == kind)))


def later_code(totp: pyotp.TOTP) -> str:
    """The next time step's code: the sign-in already used this one."""
    return totp.at(datetime.now(UTC) + timedelta(seconds=30))


def confirm(client, code, password=PASSWORD, next_url="/passkeys/new"):
    form = {"password": password, "code": code, "next": next_url}
    form["csrf_token"] = csrf_token(client, "/account")
    return client.post("/account/confirm", data=form)


# -- a fresh proof to add one ------------------------------------------------------------


def test_a_session_whose_sign_in_is_older_than_five_minutes_cannot_add_a_passkey(
    app, signed_in, phone
):
    # Given a session (perhaps a stolen cookie) whose sign-in was six minutes ago
    age_proof(app, 6)
    # Then the passkey page asks to confirm first, and the ceremony is refused
    page = signed_in.get("/passkeys/new")
    assert page.status_code == 302
    assert page.location == "/account/confirm?next=/passkeys/new"
    headers = {"X-CSRFToken": csrf_token(signed_in, "/account")}
    options = signed_in.post("/passkeys/register/options", headers=headers)
    assert options.status_code == 403
    assert options.get_json()["error"] == "reauthentication_required"
    assert passkeys(app) == []


def test_a_registration_started_while_fresh_is_refused_if_finished_after_the_proof_expired(
    app, signed_in, phone
):
    headers = {"X-CSRFToken": csrf_token(signed_in, "/passkeys/new")}
    options = signed_in.post("/passkeys/register/options", headers=headers).get_json()
    age_proof(app, 6)
    response = signed_in.post(
        "/passkeys/register/verify", json=phone.create(options), headers=headers
    )
    assert response.status_code == 403
    assert passkeys(app) == []


def test_confirming_with_password_and_code_lets_the_clinician_add_a_passkey(
    app, signed_in, phone, totp
):
    age_proof(app, 6)
    response = confirm(signed_in, later_code(totp))
    assert response.status_code == 302 and response.location == "/passkeys/new"
    assert register(signed_in, phone).status_code == 200
    assert len(passkeys(app)) == 1
    [event] = kinds(app, "clinician.reauthenticated")
    assert json.loads(event.details)["method"] == "password+totp"


def test_a_wrong_confirmation_is_refused_counted_and_audited(app, signed_in, phone, totp):
    age_proof(app, 6)
    failed_before = len(kinds(app, "clinician.signin_failed"))
    response = confirm(signed_in, later_code(totp), password="not my password")
    assert response.status_code == 401
    assert len(kinds(app, "clinician.signin_failed")) == failed_before + 1
    headers = {"X-CSRFToken": csrf_token(signed_in, "/account")}
    assert signed_in.post("/passkeys/register/options", headers=headers).status_code == 403


def test_another_of_the_clinicians_passkeys_is_a_fresh_proof_too(app, signed_in, registered):
    # Given the clinician's proof has expired, and they have a passkey
    age_proof(app, 6)
    headers = {"X-CSRFToken": csrf_token(signed_in, "/account")}
    # When they confirm with it
    options = signed_in.post("/account/confirm/passkey/options", headers=headers).get_json()
    assert [c["id"] for c in options["allowCredentials"]]
    body = {"credential": registered.get(options), "next": "/passkeys/new"}
    response = signed_in.post("/account/confirm/passkey/verify", json=body, headers=headers)
    assert response.status_code == 200 and response.get_json()["next"] == "/passkeys/new"
    # Then they may add another
    assert register(signed_in, SoftAuthenticator(ORIGIN)).status_code == 200
    assert len(passkeys(app)) == 2


# -- seeing and removing -------------------------------------------------------------------


def test_the_account_page_lists_each_passkey_with_its_dates_and_the_history(
    app, signed_in, registered
):
    page = signed_in.get("/account").text
    label = passkeys(app)[0]
    from tagservice.accounts.passkey_store import short_label

    short = short_label(label.credential_id)
    assert f"Passkey {short}" in page and "never used" in page
    assert f"passkey {short} added by you" in page
    assert f"Remove passkey {short}" in page


def test_a_clinician_removes_their_own_passkey_and_it_no_longer_signs_in(
    app, signed_in, registered
):
    [passkey] = passkeys(app)
    data = {"csrf_token": csrf_token(signed_in, "/account")}
    response = signed_in.post(f"/passkeys/{passkey.id}/remove", data=data)
    assert response.status_code == 302
    assert passkeys(app) == []
    assert "removed by you" in signed_in.get("/account").text
    assert passkey_sign_in(app.test_client(), registered).status_code == 401
    [event] = kinds(app, "clinician.passkey_removed")
    assert event.actor_type == "clinician"


def test_a_clinician_cannot_remove_another_clinicians_passkey(app, registered):
    [passkey] = passkeys(app)
    other = app.test_client()
    with app.app_context():
        clinicians.add_clinician(
            "bob@example.nhs.uk",
            "Bob",
            "paramedic",
            "HCPC",
            "PA54321",
            "Example",
            password=PASSWORD,
        )
        bob = clinicians.find_clinician("bob@example.nhs.uk").id
    from tests.helpers import plant_clinician_session

    plant_clinician_session(other, app, bob)
    data = {"csrf_token": csrf_token(other, "/account")}
    assert other.post(f"/passkeys/{passkey.id}/remove", data=data).status_code == 404
    assert len(passkeys(app)) == 1


# -- the administrator's side ---------------------------------------------------------------


@pytest.fixture
def cli(runner):
    def invoke(*args):
        return runner.invoke(clinician_group, list(args))

    return invoke


def test_an_administrator_lists_and_removes_one_passkey_by_its_id(app, cli, registered):
    from tagservice.accounts.passkey_store import credential_label

    full = credential_label(registered.credential_id)
    listed = cli("passkeys", "list", EMAIL)
    assert listed.exit_code == 0 and full in listed.output and "last used never" in listed.output
    removed = cli("passkeys", "remove", EMAIL, full[:8])
    assert removed.exit_code == 0, removed.output
    assert "removed 1 passkey" in removed.output and "no passkeys remain" in removed.output
    assert passkeys(app) == []
    [event] = kinds(app, "clinician.passkey_removed")
    assert event.actor_type == "cli"
    assert passkey_sign_in(app.test_client(), registered).status_code == 401


def test_removing_needs_an_id_or_all_and_an_unknown_id_is_one_line(cli, registered):
    assert cli("passkeys", "remove", EMAIL).exit_code == 2
    unknown = cli("passkeys", "remove", EMAIL, "zzzzzzzz")
    assert unknown.exit_code == 2 and "is not a passkey of" in unknown.output


def test_reset_totp_says_how_many_passkeys_still_sign_in(app, cli, registered):
    result = cli("reset-totp", EMAIL)
    assert result.exit_code == 0
    assert "1 passkey still signs in" in result.output
    assert passkey_sign_in(app.test_client(), registered).status_code == 200


def test_reset_totp_with_remove_passkeys_leaves_no_way_in_for_a_lost_phone(app, cli, registered):
    result = cli("reset-totp", EMAIL, "--remove-passkeys")
    assert result.exit_code == 0 and "no passkeys remain" in result.output
    assert passkey_sign_in(app.test_client(), registered).status_code == 401
    assert len(kinds(app, "clinician.passkey_removed")) == 1


def test_after_suspend_with_remove_passkeys_and_reinstate_the_old_passkey_is_refused(
    app, cli, registered
):
    # (The finding: an attacker's passkey survived suspension and reinstatement.)
    assert cli("suspend", EMAIL, "--remove-passkeys").exit_code == 0
    result = cli("reinstate", EMAIL)
    assert "no passkeys remain" in result.output
    assert passkey_sign_in(app.test_client(), registered).status_code == 401


def test_suspend_without_the_flag_says_the_passkeys_remain(cli, registered):
    result = cli("suspend", EMAIL)
    assert "1 passkey still signs in" in result.output
    assert "--remove-passkeys" in result.output


def test_remove_all_takes_every_passkey_of_the_clinician(app, cli, signed_in, registered):
    assert register(signed_in, SoftAuthenticator(ORIGIN)).status_code == 200
    result = cli("passkeys", "remove", EMAIL, "--all")
    assert "removed 2 passkeys" in result.output
    assert passkeys(app) == []


# -- single-use challenges and sign counts ------------------------------------------------


class ZeroCounter(SoftAuthenticator):
    """An authenticator that always reports a sign count of 0 (allowed by WebAuthn)."""

    def get(self, options):
        self.sign_count = -1
        return super().get(options)


def test_a_replayed_passkey_sign_in_request_gives_no_second_session(app, signed_in):
    # Given a passkey that always reports a sign count of 0
    zero = ZeroCounter(ORIGIN)
    assert register(signed_in, zero).status_code == 200
    # And an attacker who captured a sign-in: its cookie (naming the challenge) and its body
    victim = app.test_client()
    headers = {"X-CSRFToken": csrf_token(victim, "/signin")}
    options = victim.post("/signin/passkey/options", headers=headers).get_json()
    cookie = victim.get_cookie("session").value
    body = {"credential": zero.get(options)}
    assert victim.post("/signin/passkey/verify", json=body, headers=headers).status_code == 200
    # When the attacker replays the request within the 300 seconds
    attacker = app.test_client()
    attacker.set_cookie("session", cookie)
    replay = attacker.post("/signin/passkey/verify", json=body, headers=headers)
    # Then there is no second session
    assert replay.status_code == 400
    assert attacker.get("/account").status_code == 302
    whys = [json.loads(e.details)["why"] for e in kinds(app, "clinician.signin_failed")]
    assert whys == ["challenge_expired_or_used"]


def test_a_passkey_that_always_says_zero_still_signs_in_each_time(app, signed_in):
    zero = ZeroCounter(ORIGIN)
    assert register(signed_in, zero).status_code == 200
    assert passkey_sign_in(app.test_client(), zero).status_code == 200
    assert passkey_sign_in(app.test_client(), zero).status_code == 200


def test_a_count_that_falls_back_to_zero_is_refused(app, registered):
    assert passkey_sign_in(app.test_client(), registered).status_code == 200  # count 1 stored
    registered.sign_count = -1  # the next assertion says 0
    assert passkey_sign_in(app.test_client(), registered).status_code == 401
