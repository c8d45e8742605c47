"""Reception at the A&E desk: a scan records the patient's arrival and shows the card's status.

A receptionist's account opens no summary (tagservice.accounts.roles). Scanning a card at
the desk verifies it without decrypting, records the arrival in the audit trail
(the patient sees it in their access log) and says whether the card is valid, so
the clinician who opens it next knows what to expect. Scanned from a tag link
outside the desk, it only shows the status.
"""

from __future__ import annotations

from flask import render_template

from tagservice.accounts import roles
from tagservice.audit import EventKind, record_event
from tagservice.store.tags import UNKNOWN
from tagservice.web.desk import STATUS_WORDS


def page(scanned, clinician, client: str | None, *, at_desk: bool):
    """The reception page for a verified scan; at the desk, the arrival is audited first.

    Raises AuditWriteError when the arrival cannot be recorded (nothing is shown).
    """
    if at_desk:
        record_event(
            EventKind.TAG_ARRIVAL_RECORDED,
            outcome="success",
            actor=clinician,
            tag_id=scanned.tag_id,
            client=client,
            status=scanned.status,
        )
    name, advice = STATUS_WORDS.get(scanned.status, STATUS_WORDS[UNKNOWN])
    return render_template(
        "scan/reception.html",
        tag_id=scanned.tag_id,
        status_name=name,
        advice=advice,
        arrival=at_desk,
        cannot_open=roles.CANNOT_OPEN,
    )
