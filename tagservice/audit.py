"""The audit trail: append-only, hash-chained events; verification; FHIR export.

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

import copy
import hashlib
import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from blinker import Namespace
from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm.util import identity_key

from . import driver
from .db import begin_write, db, end_reads, in_write_transaction, utcnow
from .driver import DriverStatement
from .models import (
    GENESIS_HASH,
    TAG_ID_RE,
    ActorType,
    AuditEvent,
    AuditHead,
    Clinician,
    Outcome,
    Patient,
)

log = logging.getLogger(__name__)


class EventKind(StrEnum):
    TAG_SCANNED = "tag.scanned"
    TAG_UNLOCKED = "tag.unlocked"
    TAG_REJECTED = "tag.rejected"
    TAG_UNLOCK_DENIED = "tag.unlock_denied"
    TAG_DECODED_BY_ADMIN = "tag.decoded_by_admin"
    TAG_ISSUED = "tag.issued"
    TAG_SUPERSEDED = "tag.superseded"
    TAG_REVOKED = "tag.revoked"
    TAG_EXPIRED = "tag.expired"
    TAG_STATUS_LOOKED_UP = "tag.status_looked_up"  # a typed Tag ID at the desk: status only
    TAG_EXPORTED = "tag.exported"  # printed on A4 or saved as FHIR IPS after an unlock
    TAG_ARRIVAL_RECORDED = "tag.arrival_recorded"  # reception scanned the card: no summary
    CLINICIAN_SIGNED_IN = "clinician.signed_in"
    CLINICIAN_SIGNIN_FAILED = "clinician.signin_failed"
    CLINICIAN_LOCKED_OUT = "clinician.locked_out"
    CLINICIAN_SIGNED_OUT = "clinician.signed_out"
    CLINICIAN_SIGNED_OUT_EVERYWHERE = "clinician.signed_out_everywhere"
    CLINICIAN_REAUTHENTICATED = "clinician.reauthenticated"
    CLINICIAN_ADDED = "clinician.added"
    CLINICIAN_UPDATED = "clinician.updated"
    CLINICIAN_SUSPENDED = "clinician.suspended"
    CLINICIAN_REINSTATED = "clinician.reinstated"
    CLINICIAN_PASSWORD_CHANGED = "clinician.password_changed"  # noqa: S105 (an event name)
    CLINICIAN_TOTP_RESET = "clinician.totp_reset"
    CLINICIAN_PASSKEY_ADDED = "clinician.passkey_added"
    CLINICIAN_PASSKEY_REMOVED = "clinician.passkey_removed"
    CLINICIAN_TOKEN_CREATED = "clinician.token_created"  # noqa: S105 (an event name)
    CLINICIAN_TOKEN_REVOKED = "clinician.token_revoked"  # noqa: S105 (an event name)
    PATIENT_SIGNED_UP = "patient.signed_up"
    PATIENT_SIGNED_IN = "patient.signed_in"
    PATIENT_SIGNIN_FAILED = "patient.signin_failed"
    PATIENT_LOCKED_OUT = "patient.locked_out"
    PATIENT_TOTP_CHANGED = "patient.totp_changed"
    PATIENT_SIGNED_OUT = "patient.signed_out"
    PATIENT_SIGNED_OUT_EVERYWHERE = "patient.signed_out_everywhere"
    KEY_CREATED = "key.created"
    KEY_ROTATED = "key.rotated"
    KEY_RETIRED = "key.retired"
    KEY_DESTROYED = "key.destroyed"
    KEY_KEK_CHANGED = "key.kek_changed"
    AUDIT_EXPORTED = "audit.exported"


class AuditWriteError(RuntimeError):
    """The event could not be committed; whatever it was guarding must not happen."""


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
    values["created_at"] = _iso(values["created_at"])
    data = fields["prev_hash"] + canonical_json(values)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def _iso(when: datetime | str) -> str:
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
    when = (now or utcnow()).astimezone(UTC)
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
    head = _HEAD_FOR_UPDATE.rows(conn)
    if not head:
        raise AuditWriteError("the audit trail has no head row: run `tagservice init`")
    last_id, last_hash = head[0]
    values["id"] = last_id + 1
    values["prev_hash"] = last_hash
    values["created_at"] = when
    values["hash"] = event_hash(values)
    _INSERT_EVENT.execute(conn, *(values[name] for name in EVENT_COLUMNS))
    _MOVE_HEAD.execute(conn, values["id"], values["hash"])


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


# Committed events, announced for tagservice.metrics: `events` is a list of
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


_HEAD = AuditHead.__table__
_EVENT = AuditEvent.__table__
_HEAD_FOR_UPDATE = DriverStatement(
    "SELECT last_id, last_hash FROM audit_head WHERE id = 1",
    returns=(_HEAD.c.last_id, _HEAD.c.last_hash),
    for_update=True,
)
_HEAD_KEY = identity_key(AuditHead, 1)
EVENT_COLUMNS = (*HASHED_FIELDS, "hash")  # every column: tests check none is missed
_INSERT_EVENT = DriverStatement(
    "INSERT INTO audit_event (id, created_at, kind, actor_type, actor_id, registration, role,"
    " organisation, tag_id, reason, reason_text, outcome, client, details, prev_hash, hash)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    binds=tuple(_EVENT.c[name] for name in EVENT_COLUMNS),
)
_MOVE_HEAD = DriverStatement(
    "UPDATE audit_head SET last_id = ?, last_hash = ? WHERE id = 1",
    binds=(_HEAD.c.last_id, _HEAD.c.last_hash),
)


def _expire_loaded_head(session) -> None:
    """The head row moved behind the ORM's back: forget a copy a caller may hold."""
    loaded = session.identity_map.get(_HEAD_KEY)
    if loaded is not None:
        session.expire(loaded)


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
    data["created_at"] = _iso(event.created_at)
    return data


# FHIR R4 AuditEvent export ---------------------------------------------------

DCM = "http://dicom.nema.org/resources/ontology/DCM"
TERMINOLOGY = "http://terminology.hl7.org/CodeSystem"
PURPOSE_OF_USE = f"{TERMINOLOGY}/v3-ActReason"  # holds the v3 PurposeOfUse codes
ROLE_TYPES = f"{TERMINOLOGY}/extra-security-role-type"
SOURCE = {
    "observer": {"display": "tagservice"},
    "type": [{"system": f"{TERMINOLOGY}/security-source-type", "code": "4"}],  # app server
}
EVENT_KIND_SYSTEM = "urn:tagservice:audit-event-kind"
TAG_ID_SYSTEM = "urn:tagservice:tag-id"
REGISTER_SYSTEMS = {
    "GMC": "https://fhir.hl7.org.uk/Id/gmc-number",
    "NMC": "https://fhir.hl7.org.uk/Id/nmc-number",
    "HCPC": "https://fhir.hl7.org.uk/Id/hcpc-number",
}
# success 0; a refusal or failed attempt is a minor failure (4); an error is serious (8).
FHIR_OUTCOME = {"success": "0", "denied": "4", "failed": "4", "error": "8"}
# FHIR action codes: Create, Read, Update, Delete; everything else is Execute.
_ACTIONS = {
    kind: action
    for action, kinds in {
        "C": "tag.issued clinician.added clinician.passkey_added clinician.token_created"
        " key.created",
        "R": "tag.scanned tag.unlocked tag.unlock_denied tag.decoded_by_admin audit.exported"
        " tag.status_looked_up tag.exported tag.arrival_recorded",
        "U": "tag.superseded tag.revoked tag.expired clinician.updated clinician.suspended"
        " clinician.reinstated clinician.totp_reset clinician.password_changed key.rotated"
        " key.retired key.kek_changed",
        "D": "clinician.passkey_removed clinician.token_revoked key.destroyed",
    }.items()
    for kind in kinds.split()
}


def _event_type(kind: str) -> dict[str, str]:
    if kind.startswith("tag."):
        return {"system": DCM, "code": "110110", "display": "Patient Record"}
    if kind.startswith(("clinician.signe", "clinician.locked", "patient.signe", "patient.locked")):
        return {"system": DCM, "code": "110114", "display": "User Authentication"}
    if kind.startswith("audit."):
        return {"system": DCM, "code": "110101", "display": "Audit Log Used"}
    if kind.startswith("key."):
        return {"system": DCM, "code": "110113", "display": "Security Alert"}
    return {"system": DCM, "code": "110100", "display": "Application Activity"}


def _purpose(event: AuditEvent) -> list[dict[str, Any]]:
    if event.reason is None:
        return []
    if event.reason == "break-glass":
        coding = {"system": PURPOSE_OF_USE, "code": "BTG", "display": "break the glass"}
    else:
        coding = {"system": PURPOSE_OF_USE, "code": "ETREAT", "display": "Emergency Treatment"}
    concept: dict[str, Any] = {"coding": [coding]}
    if event.reason_text:
        concept["text"] = event.reason_text
    return [concept]


def _agents(event: AuditEvent, purpose: list[dict[str, Any]]) -> list[dict[str, Any]]:
    human = event.actor_type in ("clinician", "patient", "admin")
    role_type = {"system": ROLE_TYPES, "code": "humanuser" if human else "dataprocessor"}
    agent: dict[str, Any] = {
        "type": {"coding": [role_type], "text": event.actor_type},
        "requestor": True,
        "who": {"display": f"{event.actor_type} {event.actor_id or ''}".strip()},
    }
    if event.registration:
        register, _, number = event.registration.partition(" ")
        agent["who"] = {
            "type": "Practitioner",
            "identifier": {"system": REGISTER_SYSTEMS.get(register, "urn:tagservice:register"),
                           "value": number},
        }  # fmt: skip
    if event.actor_id:
        agent["altId"] = event.actor_id
    if event.role:
        agent["role"] = [{"text": event.role}]
    if event.client:
        agent["network"] = {"address": event.client, "type": "2"}  # 2 = IP address
    if purpose:
        agent["purposeOfUse"] = purpose
    agents = [agent]
    if event.organisation:
        agents.append(
            {
                "type": {"text": "organisation"},
                "requestor": False,
                "who": {"type": "Organization", "display": event.organisation},
            }
        )
    return agents


def to_fhir_audit_event(event: AuditEvent) -> dict[str, Any]:
    """One event as a FHIR R4 AuditEvent resource (a plain dict, ready for JSON)."""
    purpose = _purpose(event)
    entity: dict[str, Any] = {}
    if event.tag_id:
        entity["what"] = {"identifier": {"system": TAG_ID_SYSTEM, "value": event.tag_id}}
        entity["type"] = {"system": f"{TERMINOLOGY}/audit-entity-type", "code": "2"}
    details = json.loads(event.details or "{}")
    chain = {"prev_hash": event.prev_hash, "hash": event.hash}
    entity["detail"] = [
        {"type": key, "valueString": value if isinstance(value, str) else canonical_json(value)}
        for key, value in sorted({**details, **chain}.items())
    ]
    resource: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": str(event.id),
        "type": _event_type(event.kind),
        "subtype": [{"system": EVENT_KIND_SYSTEM, "code": event.kind}],
        "action": _ACTIONS.get(event.kind, "E"),
        "recorded": _iso(event.created_at),
        "outcome": FHIR_OUTCOME[event.outcome],
        "outcomeDesc": event.outcome,
        "agent": _agents(event, purpose),
        "source": copy.deepcopy(SOURCE),
        "entity": [entity],
    }
    if purpose:
        resource["purposeOfEvent"] = purpose
    return resource
