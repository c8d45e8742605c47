"""The audit chain: append-only, hash-chained events, committed before anything they guard.

Every event's hash covers the previous event's hash and the event's own
fields, so editing, deleting or reordering a row breaks the chain from that
row on. The single `audit_head` row names the last event; appending locks it
(`SELECT ... FOR UPDATE` on PostgreSQL, `BEGIN IMMEDIATE` on SQLite) so two
workers can never both link to the same predecessor. (Someone able to rewrite
every later hash too is caught only by comparing with a head hash kept elsewhere.)

`record_event` commits before it returns. The unlock path depends on that:
commit succeeded, then decrypt; if the commit raises, the caller shows nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from blinker import Namespace
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm.util import identity_key

from tagservice import clock
from tagservice.audit.kinds import AuditWriteError, EventKind
from tagservice.store import driver, statements
from tagservice.store.db import begin_write, db, end_reads, in_write_transaction
from tagservice.store.models import (
    TAG_ID_RE,
    ActorType,
    AuditHead,
    Clinician,
    Outcome,
    Patient,
)

log = logging.getLogger(__name__)


# The fields an event's hash covers. Fixed on purpose: a column added later must not
# change the hash of events written before it (that needs a new hash version).
HASHED_FIELDS = (
    "id", "created_at", "kind", "actor_type", "actor_id", "registration", "role",
    "organisation", "tag_id", "reason", "reason_text", "outcome", "client", "details",
    "prev_hash",
)  # fmt: skip

# Detail keys that would put patient data or secrets into the trail.
FORBIDDEN_DETAILS = frozenset(
    {"summary", "payload", "plaintext", "name", "dob", "nhs_number", "password",
     "totp", "totp_secret", "secret", "private_key", "kek", "token"}
)  # fmt: skip
MAX_DETAILS_CHARS = 4000


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 characters kept: one byte string per value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_hash(fields: Mapping[str, Any]) -> str:
    """SHA-256 over prev_hash followed by the canonical JSON of the hashed fields.

    `fields` may be a database row or a line of `tagservice audit export`
    (created_at already an ISO string), so exports can be checked offline too.
    """
    values = {name: fields[name] for name in HASHED_FIELDS}
    values["created_at"] = iso_time(values["created_at"])
    data = fields["prev_hash"] + canonical_json(values)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def iso_time(when: datetime | str) -> str:
    if isinstance(when, str):
        return when
    return when.astimezone(UTC).isoformat(timespec="microseconds")


def _clip(text: str | None, limit: int) -> str | None:
    return None if text is None else text[:limit]


def _details_json(details: dict[str, Any]) -> str:
    bad = FORBIDDEN_DETAILS.intersection(k.lower() for k in details)
    if bad:
        raise ValueError(f"audit details must not carry {', '.join(sorted(bad))}")
    text = canonical_json(details)  # TypeError for values JSON cannot hold
    if len(text) > MAX_DETAILS_CHARS:
        raise ValueError(f"audit details are limited to {MAX_DETAILS_CHARS} characters")
    return text


def record_event(
    kind: EventKind | str,
    *,
    outcome: Outcome | str,
    actor: Clinician | Patient | None = None,
    actor_type: ActorType | str | None = None,
    tag_id: str | None = None,
    reason: str | None = None,
    reason_text: str | None = None,
    client: str | None = None,
    commit: bool = True,
    now: datetime | None = None,
    **details: Any,
) -> RecordedEvent:
    """Append one event to the chain and (by default) commit it.

    With `commit=False` the event joins a write transaction the caller opened with
    `db.begin_write()`, so it commits or rolls back with the caller's own changes.
    Raises AuditWriteError if the database refuses the event.
    """
    kind = EventKind(kind)
    outcome = Outcome(outcome)
    actor_type = ActorType(actor_type or (ActorType.CLINICIAN if actor else ActorType.SYSTEM))
    if tag_id is not None and not TAG_ID_RE.fullmatch(tag_id):
        raise ValueError("tag_id must be 16 lower-case hexadecimal characters")
    if reason is not None and len(reason) > 32:
        raise ValueError("reason is a short code such as '999' or 'break-glass'")
    details_json = _details_json(details)
    session = db.session
    if not commit and not in_write_transaction(session):
        raise RuntimeError("record_event(commit=False) needs db.begin_write() first")
    values = {
        "kind": kind.value,
        "actor_type": actor_type.value,
        "actor_id": None if actor is None else str(actor.id),
        # a Patient actor has no registration, role or organisation
        "registration": getattr(actor, "registration", None),
        "role": getattr(actor, "role", None),
        "organisation": getattr(actor, "organisation", None),
        "tag_id": tag_id,
        "reason": reason,
        "reason_text": _clip(reason_text, 500),
        "outcome": outcome.value,
        "client": _clip(client, 64),
        "details": details_json,
    }
    when = (now or clock.utcnow()).astimezone(UTC)
    try:
        if commit and end_reads():
            # Nothing of the caller's to commit with it (an API unlock never opens the
            # session; a page has only read): a pooled connection and transaction of
            # its own, without the session's machinery, which cost more than the
            # statements themselves, and queued with the other SQLite writers.
            with driver.transaction(db.engine, write=True) as conn:
                _append(conn, values, when)
            _announce([_counted(values)])
        else:
            begin_write(session)
            # The caller's own pending changes go first, so every writer takes its row
            # locks before the head's (an INSERT's foreign key locks the row it names on
            # PostgreSQL): one lock order, no deadlock between a sign-in and a token.
            session.flush()
            conn = session.connection()
            _append(conn, values, when)
            # announced (events_committed) when, and only if, this transaction commits
            conn.info.setdefault(_PENDING, []).append(_counted(values))
            _expire_loaded_head(session)
            if commit:
                session.commit()
    except (SQLAlchemyError, AuditWriteError, OSError) as e:
        try:
            session.rollback()
        except SQLAlchemyError:  # a dead connection may refuse even that: refuse the event
            session.close()
        if isinstance(e, AuditWriteError):
            raise
        raise AuditWriteError("the audit event could not be written") from e
    # A snapshot, not a mapped object: callers read event.id for free, and changing
    # it cannot change the stored event.
    return RecordedEvent(**values)


def _append(conn, values: dict[str, Any], when: datetime) -> None:
    """Link `values` to the head and insert it, in `conn`'s write transaction."""
    head = statements.AUDIT_HEAD_FOR_UPDATE.rows(conn)
    if not head:
        raise AuditWriteError("the audit trail has no head row: run `tagservice init`")
    last_id, last_hash = head[0]
    values["id"] = last_id + 1
    values["prev_hash"] = last_hash
    values["created_at"] = when
    values["hash"] = event_hash(values)
    statements.AUDIT_INSERT_EVENT.execute(
        conn, *(values[name] for name in statements.AUDIT_EVENT_COLUMNS)
    )
    statements.AUDIT_MOVE_HEAD.execute(conn, values["id"], values["hash"])


def _counted(values: dict[str, Any]) -> tuple[str, str, str]:
    return values["kind"], values["outcome"], values["details"]


@dataclass(frozen=True)
class RecordedEvent:
    """The event as committed (the columns of AuditEvent)."""

    id: int
    created_at: datetime
    kind: str
    actor_type: str
    actor_id: str | None
    registration: str | None
    role: str | None
    organisation: str | None
    tag_id: str | None
    reason: str | None
    reason_text: str | None
    outcome: str
    client: str | None
    details: str
    prev_hash: str
    hash: str


# Committed events, announced for tagservice.web.metrics: `events` is a list of
# (kind, outcome, details JSON). Events written in a session's transaction wait
# in its connection's info until the transaction commits (a rollback drops them).
events_committed = Namespace().signal("tagservice.audit.events-committed")
_PENDING = "tagservice_audit_pending"


def _announce(events: list[tuple[str, str, str]]) -> None:
    """Tell the listeners; a listener's failure must not undo or hide a committed event."""
    try:
        events_committed.send(None, events=events)
    except Exception as e:  # logged by type only: counting is not worth a failed unlock
        log.warning("an events_committed listener failed: %s", type(e).__name__)


def install_commit_hooks(engine: Engine) -> None:
    """Announce a session transaction's events when it commits; forget them otherwise."""

    def on_commit(conn) -> None:
        pending = conn.info.pop(_PENDING, None)
        if pending:
            _announce(pending)

    def on_rollback(conn) -> None:
        conn.info.pop(_PENDING, None)

    def on_pool_reset(_dbapi_connection, connection_record, _reset_state) -> None:
        connection_record.info.pop(_PENDING, None)

    event.listen(engine, "commit", on_commit)
    event.listen(engine, "rollback", on_rollback)
    event.listen(engine, "reset", on_pool_reset)


_HEAD_KEY = identity_key(AuditHead, 1)


def _expire_loaded_head(session) -> None:
    """The head row moved behind the ORM's back: forget a copy a caller may hold."""
    loaded = session.identity_map.get(_HEAD_KEY)
    if loaded is not None:
        session.expire(loaded)


