"""Patient accounts and their tags, without HTTP: patients.py and patient_tags.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from sqlalchemy import select

from tagservice import audit, keys
from tagservice.accounts import patient_tags, patients
from tagservice.accounts.throttle import SignInError, Throttled
from tagservice.audit import access_log
from tagservice.keys import KeyStoreError
from tagservice.store import tags
from tagservice.store.db import db
from tagservice.store.models import AuditEvent, Patient, TagStatus
from tagservice.summary import model as summary_model
from tests.helpers import FAST_ARGON2, fixture

PASSWORD = "correct horse battery staple"


@pytest.fixture
def ctx(app, settings):
    """An app context with keys, a KEK and cheap argon2."""
    keys.init_instance(settings)
    app.config["ARGON2_PARAMS"] = FAST_ARGON2
    with app.app_context():
        yield app


def new_patient(email="pat@example.com") -> Patient:
    return patients.sign_up(email, PASSWORD, PASSWORD, "test")


def tag_events(kind):
    query = select(AuditEvent).where(AuditEvent.kind == kind).order_by(AuditEvent.id)
    return list(db.session.scalars(query))


# --- accounts --------------------------------------------------------------------


def test_sign_up_stores_a_lower_case_email_and_only_a_password_hash(ctx):
    patient = new_patient(" Pat@Example.COM ")
    assert patient.email == "pat@example.com"
    assert PASSWORD not in patient.password_hash
    assert patient.password_hash.startswith("$argon2id$")


@pytest.mark.parametrize(
    ("email", "password", "confirm", "field"),
    [
        ("not-an-email", PASSWORD, PASSWORD, "email"),
        ("pat@example.com", "short", "short", "password"),
        ("pat@example.com", PASSWORD, PASSWORD + "x", "confirm"),
    ],
)
def test_sign_up_says_which_field_is_wrong(ctx, email, password, confirm, field):
    with pytest.raises(patients.PatientError) as caught:
        patients.sign_up(email, password, confirm, None)
    assert caught.value.field == field


def test_an_email_can_hold_only_one_account_and_signing_up_again_changes_nothing(ctx):
    first = new_patient()
    assert (
        patients.sign_up("PAT@example.com", "another long password", "another long password", None)
        is None
    )
    assert db.session.scalars(select(Patient)).all() == [first]
    assert patients.authenticate("pat@example.com", PASSWORD, "", None) == first


def test_sign_in_needs_the_right_password_and_does_not_say_what_was_wrong(ctx):
    new_patient()
    assert patients.authenticate("pat@example.com", PASSWORD, "", None).email == "pat@example.com"
    with pytest.raises(SignInError) as wrong:
        patients.authenticate("pat@example.com", "wrong password!", "", None)
    with pytest.raises(SignInError) as unknown:
        patients.authenticate("nobody@example.com", PASSWORD, "", None)
    assert wrong.value.message == unknown.value.message


def test_five_failures_make_that_client_wait_while_another_client_signs_in(ctx):
    # (Was: five failures locked the account against the right password from anywhere.)
    new_patient()
    now = datetime.now(UTC)
    for _ in range(5):
        with pytest.raises(SignInError):
            patients.authenticate("pat@example.com", "wrong password!", "", "a", now=now)
    with pytest.raises(Throttled):
        patients.authenticate("pat@example.com", PASSWORD, "", "a", now=now)
    assert patients.authenticate("pat@example.com", PASSWORD, "", "b", now=now)
    later = now + timedelta(minutes=16)
    assert patients.authenticate("pat@example.com", PASSWORD, "", "a", now=later)


def test_totp_once_on_is_needed_at_sign_in_and_a_code_is_accepted_once(ctx):
    patient = new_patient()
    secret = patients.new_totp_secret()
    with pytest.raises(patients.PatientError):
        patients.enable_totp(patient, secret, "000000", None)
    now = datetime.now(UTC)
    patients.enable_totp(patient, secret, pyotp.TOTP(secret).at(now), None)
    with pytest.raises(SignInError):
        patients.authenticate("pat@example.com", PASSWORD, "", None)
    later = now + timedelta(seconds=30)
    next_code = pyotp.TOTP(secret).at(later)
    assert patients.authenticate("pat@example.com", PASSWORD, next_code, None, now=later)
    with pytest.raises(SignInError):  # the same code again is a replay
        patients.authenticate("pat@example.com", PASSWORD, next_code, None, now=later)


def test_a_totp_secret_is_stored_encrypted_and_bound_to_its_patient(ctx):
    first, second = new_patient("a@example.com"), new_patient("b@example.com")
    secret = patients.new_totp_secret()
    patients.enable_totp(first, secret, pyotp.TOTP(secret).now(), None)
    assert secret not in first.totp_secret_enc
    second.totp_secret_enc = first.totp_secret_enc
    with pytest.raises(KeyStoreError):
        patients.match_totp(second, "123456", datetime.now(UTC))


def test_turning_totp_off_needs_a_current_code(ctx):
    patient = new_patient()
    secret = patients.new_totp_secret()
    now = datetime.now(UTC)
    patients.enable_totp(patient, secret, pyotp.TOTP(secret).at(now), None)
    with pytest.raises(patients.PatientError):
        patients.disable_totp(patient, "000000", None)
    later_code = pyotp.TOTP(secret).at(now + timedelta(seconds=30))
    patients.disable_totp(patient, later_code, None)
    assert patient.totp_secret_enc is None


def test_signing_out_everywhere_moves_the_session_epoch(ctx):
    patient = new_patient()
    assert patients.sign_out_everywhere(patient, None) == 1


def test_account_events_are_audited_with_patient_kinds(ctx):
    patient = new_patient()
    patients.authenticate("pat@example.com", PASSWORD, "", "test")
    now = datetime.now(UTC)
    for _ in range(6):
        with pytest.raises(SignInError):
            patients.authenticate("pat@example.com", "wrong password!", "", "test", now=now)
    with pytest.raises(SignInError):
        patients.authenticate("nobody@example.com", PASSWORD, "", "test")
    rows = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [(e.kind, e.actor_type, e.actor_id) for e in rows[:2]] == [
        ("patient.signed_up", "patient", str(patient.id)),
        ("patient.signed_in", "patient", str(patient.id)),
    ]
    assert [e.kind for e in rows[2:]] == ["patient.signin_failed"] * 5 + [
        "patient.locked_out",
        "patient.signin_failed",
    ]
    assert rows[-1].actor_id is None and audit.verify_chain().ok
    assert rows[0].registration is None and rows[0].role is None


# --- encrypted storage ---------------------------------------------------------


def test_the_draft_is_stored_encrypted_and_only_opens_for_its_own_patient(ctx):
    first, second = new_patient("a@example.com"), new_patient("b@example.com")
    patients.save_draft(first, fixture("summary-typical.json"))
    raw = db.session.execute(db.text("SELECT draft_enc FROM patient WHERE id = :id"),
                             {"id": first.id}).scalar_one()  # fmt: skip
    assert "Jane" not in raw and "Penicillin" not in raw
    assert patients.load_draft(first)["identity"]["name"] == "Jane Smith"
    second.draft_enc = first.draft_enc
    with pytest.raises(KeyStoreError):
        patients.load_draft(second)


def test_a_new_patient_has_no_draft_card_or_printed_lines(ctx):
    patient = new_patient()
    assert patients.load_draft(patient) is None
    assert patients.load_card(patient) is None
    assert patients.load_print_critical(patient) == []


# --- tags ------------------------------------------------------------------------


def test_issuing_registers_a_tag_for_the_patient_and_audits_it_as_theirs(ctx):
    patient = new_patient()
    issued = patient_tags.issue(
        patient, fixture("summary-typical.json"), refuse_superseded=False, client="test"
    )
    tag = tags.get_tag(issued.tag.tag_id)
    assert tag.patient_id == patient.id and tag.status == TagStatus.ACTIVE
    (event,) = tag_events(audit.EventKind.TAG_ISSUED)
    assert (event.actor_type, event.actor_id, event.tag_id) == ("patient", str(patient.id),
                                                               tag.tag_id)  # fmt: skip
    card = patients.load_card(patient)
    assert card["first_name"] == "Jane" and card["url"] == issued.url
    assert card["critical"][0] == "ANAPHYLAXIS: Penicillin"
    assert "Jane" not in patient.card_enc


def test_reissuing_supersedes_the_previous_tag(ctx):
    patient = new_patient()
    summary = fixture("summary-typical.json")
    first = patient_tags.issue(patient, summary, refuse_superseded=False, client=None)
    second = patient_tags.issue(patient, summary, refuse_superseded=False, client=None)
    assert second.previous == first.tag.tag_id and not second.previous_revoked
    old = tags.get_tag(first.tag.tag_id)
    assert (old.status, old.superseded_by) == (TagStatus.SUPERSEDED, second.tag.tag_id)
    assert patient_tags.current_tag(patient).tag_id == second.tag.tag_id
    assert [e.tag_id for e in tag_events(audit.EventKind.TAG_SUPERSEDED)] == [first.tag.tag_id]


def test_reissuing_when_old_cards_are_refused_revokes_the_previous_tag(ctx):
    patient = new_patient()
    summary = fixture("summary-typical.json")
    first = patient_tags.issue(patient, summary, refuse_superseded=False, client=None)
    second = patient_tags.issue(patient, summary, refuse_superseded=True, client=None)
    assert second.previous_revoked
    assert tags.get_tag(first.tag.tag_id).status == TagStatus.REVOKED
    assert patient.refuse_superseded is True


def test_a_new_card_after_a_lost_one_leaves_the_lost_one_cancelled(ctx):
    patient = new_patient()
    summary = fixture("summary-typical.json")
    lost = patient_tags.issue(patient, summary, refuse_superseded=False, client=None)
    patient_tags.revoke(patient, lost.tag.tag_id, "lost", None)
    new = patient_tags.issue(patient, summary, refuse_superseded=False, client=None)
    old = tags.get_tag(lost.tag.tag_id)
    assert (old.status, old.superseded_by) == (TagStatus.REVOKED, new.tag.tag_id)
    assert not new.previous_revoked and tag_events(audit.EventKind.TAG_SUPERSEDED) == []
    assert patient_tags.current_tag(patient).tag_id == new.tag.tag_id


def test_an_invalid_or_oversized_summary_issues_nothing(ctx):
    patient = new_patient()
    summary = fixture("summary-typical.json")
    summary["identity"]["nhs_number"] = "943 476 5918"
    with pytest.raises(summary_model.SummaryError):
        patient_tags.issue(patient, summary, refuse_superseded=False, client=None)
    assert patient_tags.patient_tags(patient) == []


def test_if_the_audit_event_cannot_be_written_no_tag_is_registered(ctx, monkeypatch):
    patient = new_patient()

    def refuse(*_args, **_kwargs):
        raise audit.AuditWriteError("the audit event could not be written")

    monkeypatch.setattr(patient_tags, "record_event", refuse)
    with pytest.raises(audit.AuditWriteError):
        patient_tags.issue(patient, fixture("summary-typical.json"), refuse_superseded=False,
                           client=None)  # fmt: skip
    db.session.rollback()
    assert patient_tags.patient_tags(patient) == []


def test_a_patient_can_revoke_only_their_own_tags(ctx):
    owner, other = new_patient("a@example.com"), new_patient("b@example.com")
    issued = patient_tags.issue(owner, fixture("summary-typical.json"), refuse_superseded=False,
                                client=None)  # fmt: skip
    with pytest.raises(LookupError):
        patient_tags.revoke(other, issued.tag.tag_id, "lost", None)
    patient_tags.revoke(owner, issued.tag.tag_id, "lost", None)
    assert tags.get_tag(issued.tag.tag_id).status == TagStatus.REVOKED
    (event,) = tag_events(audit.EventKind.TAG_REVOKED)
    assert (event.actor_type, event.actor_id) == ("patient", str(owner.id))


def test_the_access_log_describes_a_break_glass_opening_in_plain_words(ctx, make_clinician):
    patient = new_patient()
    issued = patient_tags.issue(patient, fixture("summary-typical.json"), refuse_superseded=False,
                                client=None)  # fmt: skip
    admin = make_clinician(name="Ada Admin", role="admin", organisation="Trust Office")
    audit.record_event(
        audit.EventKind.TAG_UNLOCKED, outcome="success", actor=admin, tag_id=issued.tag.tag_id,
        reason="break-glass", reason_text="Unconscious in reception", stated_reason="other",
    )  # fmt: skip
    opened, made = access_log.page(patient).lines
    assert opened.what == "Opened and read"
    assert opened.who == "Ada Admin (Service administrator, Trust Office)"
    assert "Unconscious in reception" in opened.reason and opened.flagged
    assert made.what == "You made this card" and made.who is None


def test_first_name_is_the_first_word_only():
    assert patient_tags.first_name("Zofia Kowalczyk-Brown") == "Zofia"
    assert patient_tags.first_name("  ") == ""


def test_an_email_with_a_nul_byte_is_refused_at_sign_up_and_unknown_at_sign_in(ctx):
    with pytest.raises(patients.PatientError):
        patients.sign_up("pat\x00@example.com", PASSWORD, PASSWORD, "test")
    assert patients.find_patient("pat\x00@example.com") is None
