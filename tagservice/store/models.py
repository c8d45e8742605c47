"""Database models: clinicians and their credentials, patients, tags, the audit trail.

No table holds a summary, a tag payload or a patient's name in the clear: tags
are stored by id and key ids only, and a patient's draft summary and card
details only encrypted under the key-encryption key, so a stolen database
reveals who scanned what, not what the tags say. Times are timezone-aware UTC
(`UTCDateTime`).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from tagservice import clock
from tagservice.store.db import UTCDateTime, db

GENESIS_HASH = "0" * 64
TAG_ID_RE = re.compile(r"[0-9a-f]{16}")


class Role(StrEnum):
    PARAMEDIC = "paramedic"
    DOCTOR = "doctor"
    NURSE = "nurse"
    ADMIN = "admin"
    RECEPTIONIST = "receptionist"  # the A&E desk: arrival and card status, never a summary


class Register(StrEnum):
    HCPC = "HCPC"
    GMC = "GMC"
    NMC = "NMC"


class ClinicianStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class TagStatus(StrEnum):
    ACTIVE = "active"
    SUPERSEDED = "superseded"
    REVOKED = "revoked"
    EXPIRED = "expired"


class ActorType(StrEnum):
    CLINICIAN = "clinician"
    PATIENT = "patient"
    ADMIN = "admin"
    SYSTEM = "system"
    CLI = "cli"


class Outcome(StrEnum):
    SUCCESS = "success"
    DENIED = "denied"
    FAILED = "failed"
    ERROR = "error"


def _one_of(column: str, values: type[StrEnum]) -> CheckConstraint:
    allowed = ", ".join(f"'{v.value}'" for v in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=f"{column}_valid")


class Clinician(db.Model):
    """A registered professional who may unlock tags (or, as admin, run the service)."""

    __tablename__ = "clinician"
    __table_args__ = (
        _one_of("role", Role),
        _one_of("register", Register),
        _one_of("status", ClinicianStatus),
        CheckConstraint(
            "role = 'receptionist' OR (register IS NOT NULL AND registration_number IS NOT NULL)",
            name="registration_needed",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    register: Mapped[str | None] = mapped_column(String(8))  # None: a receptionist
    registration_number: Mapped[str | None] = mapped_column(String(32))
    organisation: Mapped[str] = mapped_column(String(200))
    registration_expires: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default=ClinicianStatus.ACTIVE.value)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    totp_secret_enc: Mapped[str | None] = mapped_column(String(255))
    totp_last_counter: Mapped[int | None] = mapped_column(Integer)
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.utcnow)

    passkeys: Mapped[list[Passkey]] = relationship(
        back_populates="clinician", cascade="all, delete-orphan", passive_deletes=True
    )
    api_tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="clinician", cascade="all, delete-orphan", passive_deletes=True
    )

    @validates("email")
    def _lower_email(self, _key: str, value: str) -> str:
        return value.strip().lower()

    @property
    def registration(self) -> str | None:
        """The register and number together, as printed in audit events: "HCPC PA12345"."""
        return f"{self.register} {self.registration_number}" if self.register else None

    def can_unlock(self, today: date) -> bool:
        """Active, and the professional registration has not lapsed (expiry day included)."""
        expires = self.registration_expires
        return self.status == ClinicianStatus.ACTIVE and (expires is None or today <= expires)

    def __repr__(self) -> str:  # no name or email: reprs end up in logs
        return f"<Clinician {self.id} {self.role} {self.status}>"


class Passkey(db.Model):
    """A WebAuthn credential: the stronger sign-in path."""

    __tablename__ = "passkey"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    clinician_id: Mapped[int] = mapped_column(
        ForeignKey("clinician.id", ondelete="CASCADE"), index=True
    )
    credential_id: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(Integer, default=0)
    transports: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    clinician: Mapped[Clinician] = relationship(back_populates="passkeys")


class ApiToken(db.Model):
    """A bearer token for the JSON API; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    clinician_id: Mapped[int] = mapped_column(
        ForeignKey("clinician.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked: Mapped[bool] = mapped_column(default=False)

    clinician: Mapped[Clinician] = relationship(back_populates="api_tokens")


class Tag(db.Model):
    """An issued tag, by id: enough to refuse a revoked card without decrypting it."""

    __tablename__ = "tag"
    __table_args__ = (
        _one_of("status", TagStatus),
        CheckConstraint("length(tag_id) = 16", name="tag_id_length"),
    )

    tag_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    issuer_kid: Mapped[str] = mapped_column(String(64), index=True)
    reader_kid: Mapped[str] = mapped_column(String(64), index=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    review_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default=TagStatus.ACTIVE.value)
    superseded_by: Mapped[str | None] = mapped_column(String(16))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoke_reason: Mapped[str | None] = mapped_column(String(200))
    patient_id: Mapped[int | None] = mapped_column(Integer, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.utcnow)

    @validates("tag_id", "superseded_by")
    def _check_tag_id(self, _key: str, value: str | None) -> str | None:
        if value is not None and not TAG_ID_RE.fullmatch(value):
            raise ValueError("a tag id is 16 lower-case hexadecimal characters")
        return value

    def __repr__(self) -> str:
        return f"<Tag {self.tag_id} {self.status}>"


class Patient(db.Model):
    """A patient (or carer) account in the portal: signs in, edits, issues and revokes cards.

    Everything about their health is in the `*_enc` columns, encrypted under
    the KEK with a label naming this row, so a value copied into another
    patient's row does not decrypt. The email is the sign-in name only; it is
    not verified.
    """

    __tablename__ = "patient"

    # The audit trail's actor fields: a patient has no registration, role or organisation.
    registration = None
    role = None
    organisation = None

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    totp_secret_enc: Mapped[str | None] = mapped_column(String(255))
    totp_last_counter: Mapped[int | None] = mapped_column(Integer)
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    draft_enc: Mapped[str | None] = mapped_column(Text)
    card_enc: Mapped[str | None] = mapped_column(Text)
    print_critical_enc: Mapped[str | None] = mapped_column(Text)
    refuse_superseded: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.utcnow)

    @validates("email")
    def _lower_email(self, _key: str, value: str) -> str:
        return value.strip().lower()

    def __repr__(self) -> str:  # no email: reprs end up in logs
        return f"<Patient {self.id}>"


class WebSession(db.Model):
    """A signed-in browser, server-side: signing out deletes the row, so a copied cookie
    (which names the row by a random id) opens nothing afterwards.

    Only the SHA-256 of the cookie's id is stored. `proved_at` is the last time the
    person proved who they are (sign-in or re-authentication), for actions that need
    a fresh proof, such as adding a passkey.
    """

    __tablename__ = "web_session"
    __table_args__ = (
        CheckConstraint("(clinician_id IS NULL) <> (patient_id IS NULL)", name="one_account"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    clinician_id: Mapped[int | None] = mapped_column(
        ForeignKey("clinician.id", ondelete="CASCADE"), index=True
    )
    patient_id: Mapped[int | None] = mapped_column(
        ForeignKey("patient.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.utcnow)
    proved_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.utcnow)


class WebauthnChallenge(db.Model):
    """A passkey ceremony's challenge, kept until it is used once or expires.

    The browser's session names it too, but only this row makes it usable: a
    verify request replayed with a copied cookie finds the row gone.
    """

    __tablename__ = "webauthn_challenge"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the challenge
    purpose: Mapped[str] = mapped_column(String(16))
    clinician_id: Mapped[int | None] = mapped_column(ForeignKey("clinician.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class SigninFailure(db.Model):
    """One failed sign-in, kept for the throttling window (tagservice.accounts.throttle).

    `account_key` is a hash of the typed email and the realm, not an account id, so
    an email with no account is throttled exactly like one that has an account.
    """

    __tablename__ = "signin_failure"
    __table_args__ = (
        Index("ix_signin_failure_account", "account_key", "at"),
        Index("ix_signin_failure_client", "client", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_key: Mapped[str] = mapped_column(String(64))
    client: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class AuditEvent(db.Model):
    """One link of the hash chain; `id` is the chain order. Never holds patient data."""

    __tablename__ = "audit_event"
    __table_args__ = (
        _one_of("actor_type", ActorType),
        _one_of("outcome", Outcome),
        Index("ix_audit_event_actor", "actor_type", "actor_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    registration: Mapped[str | None] = mapped_column(String(48))
    role: Mapped[str | None] = mapped_column(String(16))
    organisation: Mapped[str | None] = mapped_column(String(200))
    tag_id: Mapped[str | None] = mapped_column(String(16), index=True)
    reason: Mapped[str | None] = mapped_column(String(32))
    reason_text: Mapped[str | None] = mapped_column(String(500))
    outcome: Mapped[str] = mapped_column(String(16))
    client: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[str] = mapped_column(Text, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    def __repr__(self) -> str:
        return f"<AuditEvent {self.id} {self.kind} {self.outcome}>"


class AuditHead(db.Model):
    """The single row (id=1) naming the last event; locked while appending."""

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_id: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64), default=GENESIS_HASH)


@event.listens_for(AuditHead.__table__, "after_create")
def _seed_audit_head(table, connection, **_kw) -> None:
    """`create_all` starts the chain too (the initial migration inserts the same row)."""
    connection.execute(table.insert().values(id=1, last_id=0, last_hash=GENESIS_HASH))


class LinkedTag(db.Model):
    """The server half of a linked (format v2) tag: its summary, sealed under a key that
    also needs the card (tagservice/linked.py), and the issuer's signature.

    The card key is never stored; `tag_id` is derived one-way from it. Status
    (active, superseded, revoked, expired) is the `tag` row of the same id, so
    revocation and expiry work for both kinds in one place.
    """

    __tablename__ = "linked_tag"

    tag_id: Mapped[str] = mapped_column(
        String(16), ForeignKey("tag.tag_id", ondelete="CASCADE"), primary_key=True
    )
    record: Mapped[bytes] = mapped_column(LargeBinary)  # header | nonce | ciphertext
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    issuer_kid: Mapped[str] = mapped_column(String(64))
    reader_kid: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.utcnow)
