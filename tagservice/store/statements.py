"""Every raw SQL statement of the service, in one place (the rest goes through the ORM).

Most run on the database driver (store/driver.py) because they sit on the unlock
path, where the ORM's per-statement machinery costs more than the statement: the
audit append (lock the head, insert the event, move the head), a bearer token's
clinician, and a tag's status. Each is typed by the columns it binds and returns,
so values are converted exactly as the ORM would convert them. The last few are
SQLAlchemy text for the operator's commands (doctor, change-kek).
"""

from __future__ import annotations

from sqlalchemy import text

from tagservice.store.driver import DriverStatement
from tagservice.store.models import ApiToken, AuditEvent, AuditHead, Clinician, Tag

_HEAD = AuditHead.__table__
_EVENT = AuditEvent.__table__
_CLINICIAN = Clinician.__table__
_TOKEN = ApiToken.__table__

# The audit append, in this order, inside one write transaction.
AUDIT_HEAD_FOR_UPDATE = DriverStatement(
    "SELECT last_id, last_hash FROM audit_head WHERE id = 1",
    returns=(_HEAD.c.last_id, _HEAD.c.last_hash),
    for_update=True,
)
# Every column of audit_event, in the INSERT's order (tests check none is missed).
AUDIT_EVENT_COLUMNS = (
    "id", "created_at", "kind", "actor_type", "actor_id", "registration", "role",
    "organisation", "tag_id", "reason", "reason_text", "outcome", "client", "details",
    "prev_hash", "hash",
)  # fmt: skip
AUDIT_INSERT_EVENT = DriverStatement(
    "INSERT INTO audit_event (id, created_at, kind, actor_type, actor_id, registration, role,"
    " organisation, tag_id, reason, reason_text, outcome, client, details, prev_hash, hash)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    binds=tuple(_EVENT.c[name] for name in AUDIT_EVENT_COLUMNS),
)
AUDIT_MOVE_HEAD = DriverStatement(
    "UPDATE audit_head SET last_id = ?, last_hash = ? WHERE id = 1",
    binds=(_HEAD.c.last_id, _HEAD.c.last_hash),
)

# One statement on every API request: the token's row and its clinician together.
BEARER_CLINICIAN_COLUMNS = (
    "id", "role", "register", "registration_number", "organisation", "registration_expires",
    "status",
)  # fmt: skip
BEARER_CLINICIAN = DriverStatement(
    "SELECT c.id, c.role, c.register, c.registration_number, c.organisation,"
    " c.registration_expires, c.status"
    " FROM api_token t JOIN clinician c ON c.id = t.clinician_id"
    " WHERE t.token_hash = ? AND t.revoked = ? AND t.expires_at > ? AND c.status = ?"
    " AND c.email <> ?",
    binds=(
        _TOKEN.c.token_hash,
        _TOKEN.c.revoked,
        _TOKEN.c.expires_at,
        _CLINICIAN.c.status,
        _CLINICIAN.c.email,
    ),
    returns=tuple(_CLINICIAN.c[name] for name in BEARER_CLINICIAN_COLUMNS),
)

# One column, on every scan and unlock.
TAG_STATUS = DriverStatement(
    "SELECT status FROM tag WHERE tag_id = ?", binds=(Tag.tag_id,), returns=(Tag.status,)
)


# For `tagservice doctor` and `tagservice keys change-kek` (SQLAlchemy text).
PING = text("SELECT 1")
DATABASE_NOW = text("SELECT now()")  # PostgreSQL's clock, compared with this machine's
KEK_CHANGES_NEWEST_FIRST = text(
    "SELECT details FROM audit_event WHERE kind = 'key.kek_changed' ORDER BY id DESC"
)
