"""Driver statements (tagservice.store.driver): the unlock path's SQL without the ORM.

They must write and read exactly what the ORM would, fail as SQLAlchemy errors
without leaking their values, and keep the audit chain whole under concurrency.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from tagservice.audit import HASHED_FIELDS, EventKind, record_event, verify_chain
from tagservice.store import driver, statements
from tagservice.store.db import begin_write, db, reading
from tagservice.store.models import ApiToken, AuditEvent, Tag
from tagservice.web import auth

WHEN = datetime(2026, 3, 1, 3, 14, 15, 926535, tzinfo=UTC)
TAG = "0123456789abcdef"

_TAG_BY_ISSUED = driver.DriverStatement(
    "SELECT tag_id, issued_at FROM tag WHERE issued_at = ?",
    binds=(Tag.__table__.c.issued_at,),
    returns=(Tag.__table__.c.tag_id, Tag.__table__.c.issued_at),
)


def _tag(issued: datetime = WHEN) -> Tag:
    return Tag(tag_id=TAG, issuer_kid="00" * 4, reader_kid="11" * 4, issued_at=issued)


def _add_tag(issued: datetime) -> None:
    db.session.add(_tag(issued))
    db.session.commit()


def test_one_bind_column_per_placeholder():
    with pytest.raises(ValueError, match="placeholder"):
        driver.DriverStatement("SELECT 1 FROM tag WHERE tag_id = ?")


def test_the_insert_names_every_audit_column():
    assert sorted(statements.AUDIT_EVENT_COLUMNS) == sorted(AuditEvent.__table__.c.keys())


def test_values_go_through_the_column_types_both_ways(app_context):
    _add_tag(WHEN)  # written by the ORM
    with reading() as conn:
        rows = _TAG_BY_ISSUED.rows(conn, WHEN)
    assert rows == [(TAG, WHEN)]  # found by an aware datetime, read back aware
    assert rows[0][1].tzinfo is not None


def test_an_event_written_by_the_driver_reads_back_the_same_through_the_orm(app_context):
    event = record_event(
        EventKind.TAG_UNLOCKED, outcome="success", tag_id=TAG, reason="999", now=WHEN, why="x"
    )
    stored = db.session.get(AuditEvent, event.id)
    for name in statements.AUDIT_EVENT_COLUMNS:
        assert getattr(stored, name) == getattr(event, name), name
    assert verify_chain().ok


def test_the_bearer_query_matches_the_orm_rules(app_context, make_clinician):
    clinician = make_clinician()
    now = datetime.now(UTC)
    tokens = {
        "good": dict(expires_at=now + timedelta(hours=1), revoked=False),
        "expired": dict(expires_at=now - timedelta(seconds=1), revoked=False),
        "revoked": dict(expires_at=now + timedelta(hours=1), revoked=True),
    }
    for name, fields in tokens.items():
        db.session.add(
            ApiToken(
                clinician_id=clinician.id,
                token_hash=auth.token_hash(name),
                created_at=now,
                **fields,
            )
        )
    db.session.commit()
    found = {}
    for name in tokens:
        with reading() as conn:
            found[name] = statements.BEARER_CLINICIAN.rows(
                conn, auth.token_hash(name), False, datetime.now(UTC), "active", ""
            )
    assert [row[0] for row in found["good"]] == [clinician.id]
    assert found["expired"] == [] and found["revoked"] == []
    snapshot = auth.BearerClinician(*found["good"][0])
    assert snapshot.registration == clinician.registration
    assert snapshot.can_unlock(date.today()) == clinician.can_unlock(date.today())
    assert isinstance(snapshot.registration_expires, date | None)
    # the last bind is the one email refused (the demo account, in production)
    with reading() as conn:
        refused = statements.BEARER_CLINICIAN.rows(
            conn, auth.token_hash("good"), False, datetime.now(UTC), "active", clinician.email
        )
    assert refused == []


def test_driver_errors_arrive_as_sqlalchemy_errors_without_their_values(app_context):
    missing = driver.DriverStatement(
        "SELECT tag_id FROM no_such_table WHERE tag_id = ?",
        binds=(Tag.__table__.c.tag_id,),
        returns=(Tag.__table__.c.tag_id,),
    )
    with pytest.raises(SQLAlchemyError) as caught:
        with reading() as conn:
            missing.rows(conn, "secret-value-0123")
    assert "secret-value-0123" not in str(caught.value)


def test_a_write_transaction_rolls_back_when_its_block_raises(app_context):
    columns = ("tag_id", "issuer_kid", "reader_kid", "issued_at", "status", "created_at")
    insert = driver.DriverStatement(
        f"INSERT INTO tag ({', '.join(columns)}) VALUES (?, ?, ?, ?, ?, ?)",  # noqa: S608
        binds=tuple(Tag.__table__.c[n] for n in columns),
    )
    with pytest.raises(RuntimeError):
        with driver.transaction(db.engine, write=True) as conn:
            insert.execute(conn, TAG, "00" * 4, "11" * 4, WHEN, "active", WHEN)
            raise RuntimeError("after the insert")
    assert db.session.scalar(select(Tag).where(Tag.tag_id == TAG)) is None


def test_sqlite_writers_queue_on_a_private_lock_file(app_context):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL queues writers on the head row's lock")
    record_event(EventKind.TAG_SCANNED, outcome="success")
    lock = f"{db.engine.url.database}-writers"
    assert stat.S_IMODE(os.stat(lock).st_mode) == 0o600


def test_a_session_with_pending_changes_commits_them_with_its_event(app_context):
    db.session.add(_tag())
    record_event(EventKind.TAG_ISSUED, outcome="success", tag_id=TAG)
    db.session.rollback()  # nothing left to roll back: both were committed together
    assert db.session.scalar(select(Tag.tag_id)) == TAG
    assert db.session.get(AuditEvent, 1).kind == "tag.issued"


def test_an_event_joins_an_open_write_transaction(app_context):
    begin_write()
    record_event(EventKind.TAG_SCANNED, outcome="success", commit=False)
    db.session.rollback()
    assert db.session.get(AuditEvent, 1) is None


def test_the_bearer_statement_selects_the_snapshot_fields_in_their_order():
    selected = statements.BEARER_CLINICIAN.sql.split("SELECT ", 1)[1].split(" FROM ", 1)[0]
    names = [column.strip().removeprefix("c.") for column in selected.split(",")]
    assert names == [field.name for field in dataclasses.fields(auth.BearerClinician)]
    assert list(statements.BEARER_CLINICIAN_COLUMNS) == names


def test_the_insert_writes_the_hashed_fields_in_their_order_then_the_hash():
    assert statements.AUDIT_EVENT_COLUMNS == (*HASHED_FIELDS, "hash")


def test_a_read_on_postgresql_runs_in_autocommit_and_hands_back_a_transactional_connection(
    app_context,
):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite's driver reads in autocommit by itself")
    from psycopg.pq import TransactionStatus

    # Given a read on a pooled connection
    with driver.transaction(db.engine, write=False) as conn:
        raw = conn.connection.dbapi_connection
        driver.DriverStatement("SELECT 1").rows(conn)
        # Then no transaction was begun for it (no BEGIN or COMMIT round trip)
        assert raw.autocommit and raw.info.transaction_status == TransactionStatus.IDLE
    # And the connection goes back to the pool as sessions expect it
    assert raw.autocommit is False
    with driver.transaction(db.engine, write=True) as conn:
        assert conn.connection.dbapi_connection.autocommit is False
