"""Reading the trail back: verify every hash and link, list events, export them as rows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from tagservice.audit.chain import HASHED_FIELDS, event_hash, iso_time
from tagservice.store.db import db
from tagservice.store.models import (
    GENESIS_HASH,
    AuditEvent,
    AuditHead,
)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    count: int
    first_broken_id: int | None
    message: str


def verify_chain() -> VerifyResult:
    """Recompute every hash and link, then check the head names the last event.

    Reads one consistent snapshot (its own connection; REPEATABLE READ on
    PostgreSQL) so events appended while it runs cannot look like tampering.
    """
    table = AuditEvent.__table__
    with db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        query = select(table).order_by(table.c.id)
        expected_prev, count = GENESIS_HASH, 0
        with conn.execution_options(yield_per=1000).execute(query) as rows:
            for row in rows.mappings():
                expected_id = count + 1
                if row["id"] != expected_id:
                    return _broken(count, row["id"], f"event {expected_id} is missing")
                if row["prev_hash"] != expected_prev:
                    return _broken(count, row["id"], "it does not link to the event before it")
                if event_hash(row) != row["hash"]:
                    return _broken(count, row["id"], "its contents do not match its hash")
                expected_prev, count = row["hash"], expected_id
        head = conn.execute(select(AuditHead.__table__)).mappings().all()
    if len(head) != 1:
        return VerifyResult(False, count, None, "Audit head is missing or duplicated")
    last_id, last_hash = head[0]["last_id"], head[0]["last_hash"]
    if last_id > count:
        return _broken(count, count + 1, f"event {count + 1} is missing (the head names {last_id})")
    if (last_id, last_hash) != (count, expected_prev):
        return VerifyResult(
            False, count, None, f"Audit head does not match the last event (event {count})"
        )
    return VerifyResult(True, count, None, f"Audit chain intact: {count} events")


def _broken(count: int, event_id: int, why: str) -> VerifyResult:
    return VerifyResult(False, count, event_id, f"Audit chain broken at event {event_id}: {why}")


def iter_events(batch: int = 1000) -> Iterator[AuditEvent]:
    """Every event in chain order, streamed."""
    query = select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=batch)
    yield from db.session.scalars(query)


def events_for_tag(tag_id: str, limit: int = 200) -> list[AuditEvent]:
    """Who looked at a tag and why, newest first (for the patient's access log)."""
    query = (
        select(AuditEvent)
        .where(AuditEvent.tag_id == tag_id)
        .order_by(AuditEvent.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query))


def event_to_dict(event: AuditEvent) -> dict[str, Any]:
    """All stored fields, as written; `details` stays the exact hashed JSON text."""
    data = {name: getattr(event, name) for name in (*HASHED_FIELDS, "hash")}
    data["created_at"] = iso_time(event.created_at)
    return data


