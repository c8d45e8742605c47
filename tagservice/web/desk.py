"""The A&E desk's field: a scan opens a tag; a typed Tag ID only looks up its status.

The Tag ID is printed on the card's back (16 hexadecimal characters, often in
groups of four). Looking it up shows whether the card is valid and never any
clinical content: the summary is only in the QR code. Each lookup is audited.
"""

from __future__ import annotations

from tagservice.audit import EventKind, record_event
from tagservice.store.models import TAG_ID_RE
from tagservice.store.tags import UNKNOWN, tag_status

NOT_A_SCAN = (
    "This field takes a scan of the QR code on the patient's card, or the 16-character "
    "Tag ID printed on the card's back (for example 1a2b 3c4d 5e6f 7a8b)."
)

#: What the desk says for each status: a short name and what to do.
STATUS_WORDS = {
    "active": ("Active", "This is the patient's current card. Scan its QR code to open it."),
    "superseded": (
        "Replaced by a newer card",
        "It still opens, with a warning that it may be out of date. Ask for the newer card.",
    ),
    "revoked": ("Cancelled", "It can no longer be opened. Treat the patient as unknown."),
    "expired": (
        "Expired",
        "The service's keys changed; it can no longer be opened. Treat the patient as unknown.",
    ),
    UNKNOWN: (
        "Not registered here",
        "No card with this Tag ID was issued by this service. Check the characters, "
        "or scan the QR code.",
    ),
}


def as_tag_id(text: str) -> str | None:
    """The compact Tag ID if `text` is one (spaces and case ignored), else None."""
    compact = "".join(text.split()).lower()
    return compact if TAG_ID_RE.fullmatch(compact) else None


def look_up(tag_id: str, clinician, client: str | None) -> tuple[str, str, str]:
    """Status, its name and advice for `tag_id`; audited first (raises AuditWriteError)."""
    status = tag_status(tag_id)
    record_event(
        EventKind.TAG_STATUS_LOOKED_UP,
        outcome="success",
        actor=clinician,
        tag_id=tag_id,
        client=client,
        status=status,
    )
    name, advice = STATUS_WORDS.get(status, STATUS_WORDS[UNKNOWN])
    return status, name, advice
