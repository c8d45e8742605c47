"""The models: what is stored, how, and the few rules that live on them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from tagservice.store.db import db
from tagservice.store.models import Clinician, Passkey, Tag

TODAY = date(2026, 3, 1)


def test_email_is_stored_lower_case(make_clinician):
    clinician = make_clinician(email="  Jo.Bloggs@Example.NHS.uk ")
    assert clinician.email == "jo.bloggs@example.nhs.uk"


def test_two_clinicians_cannot_share_an_email(make_clinician):
    make_clinician(email="jo@example.nhs.uk")
    with pytest.raises(IntegrityError):
        make_clinician(email="JO@example.nhs.uk")
    db.session.rollback()


def test_active_clinician_with_current_registration_can_unlock(make_clinician):
    clinician = make_clinician(registration_expires=TODAY)
    assert clinician.can_unlock(TODAY)


def test_clinician_without_an_expiry_date_can_unlock(make_clinician):
    assert make_clinician(registration_expires=None).can_unlock(TODAY)


def test_clinician_with_expired_registration_cannot_unlock(make_clinician):
    clinician = make_clinician(registration_expires=TODAY - timedelta(days=1))
    assert not clinician.can_unlock(TODAY)


def test_suspended_clinician_cannot_unlock(make_clinician):
    assert not make_clinician(status="suspended").can_unlock(TODAY)


def test_registration_reads_as_register_and_number(make_clinician):
    clinician = make_clinician(register="GMC", registration_number="7654321", role="doctor")
    assert clinician.registration == "GMC 7654321"


def test_an_unknown_role_is_refused_by_the_database(make_clinician):
    with pytest.raises(IntegrityError):
        make_clinician(role="surgeon")
    db.session.rollback()


def test_counters_start_at_zero(make_clinician):
    clinician = make_clinician()
    assert clinician.session_epoch == 0
    assert clinician.password_hash is None and clinician.totp_last_counter is None


def test_repr_shows_no_name_or_email(make_clinician):
    text_ = repr(make_clinician(email="jo@example.nhs.uk", name="Jo Bloggs"))
    assert "jo" not in text_.lower() and "bloggs" not in text_.lower()


def test_times_come_back_timezone_aware_utc(make_clinician):
    # Given a time given in another zone
    plus_two = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    clinician = make_clinician(created_at=plus_two)
    db.session.expire_all()
    # When it is read back, it is the same instant, in UTC, to the microsecond
    stored = db.session.get(Clinician, clinician.id).created_at
    assert stored == plus_two and stored.tzinfo == UTC
    assert stored.microsecond == 123456
    assert db.session.get(Clinician, clinician.id).created_at.tzinfo == UTC


def test_a_naive_datetime_is_refused(make_clinician):
    with pytest.raises(StatementError, match="naive datetime"):
        make_clinician(created_at=datetime(2026, 3, 1, 12, 0))
    db.session.rollback()


def test_deleting_a_clinician_deletes_their_passkeys(make_clinician):
    clinician = make_clinician()
    db.session.add(Passkey(clinician_id=clinician.id, credential_id=b"\x01\x02", public_key=b"pk"))
    db.session.commit()
    db.session.execute(text("DELETE FROM clinician WHERE id = :id"), {"id": clinician.id})
    db.session.commit()
    assert db.session.scalars(select(Passkey)).all() == []


def test_a_passkey_must_belong_to_a_clinician(app_context):
    db.session.add(Passkey(clinician_id=999, credential_id=b"\x01", public_key=b"pk"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_tag_ids_are_sixteen_lower_case_hex_characters(app_context):
    with pytest.raises(ValueError, match="16 lower-case"):
        Tag(tag_id="0123456789ABCDEF")
    with pytest.raises(ValueError):
        Tag(tag_id="0123")


def test_no_table_can_hold_a_summary_or_a_payload(app_context):
    columns = {
        column["name"]
        for table in inspect(db.engine).get_table_names()
        for column in inspect(db.engine).get_columns(table)
    }
    for forbidden in ("summary", "payload", "plaintext", "ciphertext", "nhs_number", "dob"):
        assert not any(forbidden in name for name in columns)


def test_sqlite_connections_get_the_pragmas_a_web_service_needs(app_context):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite pragmas")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
