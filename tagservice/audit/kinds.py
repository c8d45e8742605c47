"""What can happen to a tag, an account or a key: the kinds of audit event."""

from __future__ import annotations

from enum import StrEnum


class EventKind(StrEnum):
    TAG_SCANNED = "tag.scanned"
    TAG_UNLOCKED = "tag.unlocked"
    TAG_REJECTED = "tag.rejected"
    TAG_UNLOCK_DENIED = "tag.unlock_denied"
    TAG_DECODED_BY_ADMIN = "tag.decoded_by_admin"
    TAG_ISSUED = "tag.issued"
    TAG_EXPORTED = "tag.exported"  # printed on A4 or saved as FHIR IPS after an unlock
    TAG_ARRIVAL_RECORDED = "tag.arrival_recorded"  # reception scanned the card: no summary
    TAG_UPDATED = "tag.updated"  # a linked tag's summary replaced; same card, same URL
    TAG_SUPERSEDED = "tag.superseded"
    TAG_REVOKED = "tag.revoked"
    TAG_EXPIRED = "tag.expired"
    TAG_STATUS_LOOKED_UP = "tag.status_looked_up"  # a typed Tag ID at the desk: status only
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
