"""Scan and unlock: the rules, shared by the pages and the JSON API.

The order is the product's promise: verify the tag (no decryption), check its
status, check the clinician and the reason, commit the audit event, and only
then decrypt. If the audit commit fails, nothing is decrypted or shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app

from tagservice import audit, clock, crypto, keys
from tagservice.accounts import roles
from tagservice.audit import AuditWriteError, EventKind
from tagservice.store import linked_tags, tags
from tagservice.store.models import Clinician, Role, TagStatus

REASONS = {
    "999": "999 call / ambulance attendance",
    "ae": "A&E attendance",
    "other": "Other (explain)",
}
# Roles that treat patients in an emergency: their 999/A&E reasons are routine.
CLINICAL_ROLES = frozenset({Role.PARAMEDIC, Role.DOCTOR, Role.NURSE})
MAX_REASON_TEXT = 200


class UnlockRefused(Exception):
    """The unlock cannot go ahead; `status` is the HTTP code, `message` for people."""

    def __init__(self, status: int, error: str, message: str):
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


class TagRevoked(UnlockRefused):
    def __init__(self):
        super().__init__(
            410,
            "revoked",
            "This tag has been cancelled by its owner (lost or replaced card). "
            "It cannot be opened. Treat the patient as having no summary.",
        )


@dataclass(frozen=True)
class ScannedTag:
    data: bytes
    header: crypto.Header
    status: str

    @property
    def tag_id(self) -> str:
        return self.header.tag_id_hex


@dataclass(frozen=True)
class Unlocked:
    scanned: ScannedTag
    summary: dict
    warnings: tuple[str, ...]
    audit_id: int
    break_glass: bool


def _keyset() -> crypto.KeySet:
    return keys.load_keyset(current_app.config["TAGSERVICE"])


def scan(
    text: str,
    client: str | None,
    actor: Clinician | None = None,
    keyset: crypto.KeySet | None = None,
) -> ScannedTag:
    """Verify a scanned tag and look up its status, without decrypting.

    The tag must also be one this service can still decrypt: a reader key that is
    unknown is an invalid tag, and a retired (or destroyed) one refuses the card as
    expired here, before any unlock is audited as a success.

    Raises crypto.InvalidTag (audited) or UnlockRefused (audited).
    """
    keyset = keyset or _keyset()
    try:
        data, header = linked_tags.read(text.strip(), keyset)  # either format
        reader_gone = _reader_key_gone(header, keyset)
    except crypto.InvalidTag as e:
        audit.record_event(
            EventKind.TAG_REJECTED,
            outcome="failed",
            actor=actor,
            client=client,
            error=e.__class__.__name__,
        )
        raise
    status = tags.tag_status(header.tag_id_hex)
    scanned = ScannedTag(data, header, status)
    refusals = {
        TagStatus.REVOKED: TagRevoked,
        TagStatus.EXPIRED: lambda: UnlockRefused(
            410, "expired", "This tag has expired. Ask the owner for a new card."
        ),
    }
    refusal, why = refusals.get(status), status
    if refusal is None and reader_gone is not None:  # the register may not know it yet
        refusal = lambda: UnlockRefused(410, "expired", str(reader_gone))  # noqa: E731
        destroyed = isinstance(reader_gone, crypto.DestroyedKey)
        why = "reader_key_destroyed" if destroyed else "reader_key_retired"
    if refusal is not None:
        audit.record_event(
            EventKind.TAG_UNLOCK_DENIED,
            outcome="denied",
            actor=actor,
            tag_id=scanned.tag_id,
            client=client,
            why=why,
        )
        raise refusal()
    return scanned


def _reader_key_gone(header: crypto.Header, keyset: crypto.KeySet) -> crypto.RetiredKey | None:
    """The reason the tag's reader key can no longer decrypt it, if it is retired or destroyed.

    An unknown reader key raises crypto.UnknownKey: no key of ours ever could.
    """
    try:
        keyset.reader(header.reader_kid)
    except crypto.RetiredKey as gone:
        return gone
    return None


def classify_reason(role: str, reason: str, reason_text: str, override: bool) -> bool:
    """Check the reason; return True when the access is break-glass (flagged for review).

    Paramedics, doctors and nurses give 999 or A&E routinely. "Other" needs
    words and is flagged. Any other role (an admin) must tick the emergency
    override and explain; that is flagged too.
    """
    if reason not in REASONS:
        raise UnlockRefused(400, "bad_reason", "Choose why you are opening this summary.")
    if len(reason_text) > MAX_REASON_TEXT:
        raise UnlockRefused(
            400, "bad_reason", f"Keep the reason under {MAX_REASON_TEXT} characters."
        )
    if not reason_text.isprintable():  # it goes into the audit trail (PostgreSQL refuses NUL)
        raise UnlockRefused(400, "bad_reason", "Write the reason as plain text on one line.")
    routine = role in CLINICAL_ROLES and reason in ("999", "ae")
    if routine:
        return False
    if reason == "other" and not reason_text.strip():
        raise UnlockRefused(400, "bad_reason", "Say briefly why you are opening this summary.")
    if role not in CLINICAL_ROLES and not override:
        raise UnlockRefused(
            403,
            "override_required",
            "Your role does not normally open summaries. Tick 'emergency override' and say why; "
            "the access will be reviewed.",
        )
    if role not in CLINICAL_ROLES and not reason_text.strip():
        raise UnlockRefused(400, "bad_reason", "Say briefly why you need the emergency override.")
    return True


def unlock(
    text: str,
    clinician: Clinician,
    reason: str,
    reason_text: str = "",
    override: bool = False,
    client: str | None = None,
    now: datetime | None = None,
) -> Unlocked:
    """The whole unlock: scan, check, audit (committed), then decrypt."""
    now = now or clock.utcnow()
    keyset = _keyset()  # once per unlock: the same keys verify and then decrypt
    scanned = scan(text, client, clinician, keyset)
    today: date = now.date()
    refusal = None
    if not roles.opens_summaries(clinician.role):
        refusal = "role", UnlockRefused(403, "role_cannot_open", roles.CANNOT_OPEN)
    elif not clinician.can_unlock(today):
        refusal = "registration", UnlockRefused(
            403,
            "not_permitted",
            "Your account is suspended or your professional registration has expired, so you "
            "cannot open summaries. Contact your administrator.",
        )
    if refusal is not None:
        why, refused = refusal
        audit.record_event(
            EventKind.TAG_UNLOCK_DENIED,
            outcome="denied",
            actor=clinician,
            tag_id=scanned.tag_id,
            client=client,
            why=why,
        )
        raise refused
    reason_text = reason_text.strip()
    break_glass = classify_reason(clinician.role, reason, reason_text, override)
    try:
        event = audit.record_event(
            EventKind.TAG_UNLOCKED,
            outcome="success",
            actor=clinician,
            tag_id=scanned.tag_id,
            reason="break-glass" if break_glass else reason,
            reason_text=reason_text or None,
            client=client,
            break_glass=break_glass,
            stated_reason=reason,
        )
    except AuditWriteError:
        raise UnlockRefused(
            503,
            "unavailable",
            "The service cannot record this access right now, so the summary cannot be shown.",
        ) from None
    try:
        # steps 8-12 only: the scan verified these very bytes a moment ago
        opened = linked_tags.open_scanned(scanned.data, scanned.header, keyset, now)
    except crypto.InvalidTag as e:  # signed by us yet unreadable: record that it failed
        audit.record_event(
            EventKind.TAG_REJECTED,
            outcome="error",
            actor=clinician,
            tag_id=scanned.tag_id,
            client=client,
            error=e.__class__.__name__,
            after_audit_id=event.id,
        )
        raise
    warnings = list(opened.warnings)
    if scanned.status == TagStatus.SUPERSEDED:
        warnings.insert(
            0,
            "This card has been replaced by a newer one: details may be out of "
            "date. Ask the patient or carer for the new card.",
        )
    elif scanned.status == tags.UNKNOWN:
        warnings.insert(
            0,
            "This tag is not in the service's register (it may predate a restore "
            "from backup). Its signature is valid; confirm details with the patient.",
        )
    return Unlocked(scanned, opened.summary, tuple(warnings), event.id, break_glass)
