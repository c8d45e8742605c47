"""Admin / Caldicott guardian page: recent unlocks, break-glass to review, anomalies.

Read-only. Names come from the clinician table; the trail itself holds ids,
registrations and tag ids, never patient data.
"""

from __future__ import annotations

import functools
from collections import Counter
from datetime import timedelta

from flask import Blueprint, Flask, abort, g, render_template
from sqlalchemy import select

from tagservice import audit, clock
from tagservice.store.db import db
from tagservice.store.models import AuditEvent, Clinician, Role
from tagservice.web.auth import clinician_required

bp = Blueprint("admin", __name__, url_prefix="/admin")

ANOMALY_WINDOW = timedelta(hours=1)
ANOMALY_DISTINCT_TAGS = 10  # more distinct tags than this in the window is unusual


def admin_required(view):
    @functools.wraps(view)
    @clinician_required
    def wrapped(*args, **kwargs):
        if g.clinician.role != Role.ADMIN:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def recent_unlocks(limit: int = 50) -> list[AuditEvent]:
    query = (
        select(AuditEvent)
        .where(AuditEvent.kind == audit.EventKind.TAG_UNLOCKED)
        .order_by(AuditEvent.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query))


def break_glass(limit: int = 50) -> list[AuditEvent]:
    query = (
        select(AuditEvent)
        .where(AuditEvent.kind == audit.EventKind.TAG_UNLOCKED, AuditEvent.reason == "break-glass")
        .order_by(AuditEvent.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query))


def anomalies(
    now=None, window: timedelta = ANOMALY_WINDOW, threshold: int = ANOMALY_DISTINCT_TAGS
) -> list[tuple[str, int]]:
    """(actor id, distinct tags unlocked) for clinicians over the threshold in the window."""
    since = (now or clock.utcnow()) - window
    rows = db.session.execute(
        select(AuditEvent.actor_id, AuditEvent.tag_id)
        .where(AuditEvent.kind == audit.EventKind.TAG_UNLOCKED, AuditEvent.created_at >= since)
        .distinct()
    )
    counts = Counter(actor for actor, _tag in rows)
    return sorted(((a, n) for a, n in counts.items() if n > threshold), key=lambda r: -r[1])


def _names(events, extra_ids=()) -> dict[str, str]:
    ids = {int(e.actor_id) for e in events if e.actor_id and e.actor_id.isdigit()}
    ids |= {int(i) for i in extra_ids if i and i.isdigit()}
    if not ids:
        return {}
    rows = db.session.execute(select(Clinician.id, Clinician.name).where(Clinician.id.in_(ids)))
    return {str(i): name for i, name in rows}


@bp.get("")
@admin_required
def index():
    unlocks, flagged, unusual = recent_unlocks(), break_glass(), anomalies()
    return render_template(
        "admin/index.html",
        unlocks=unlocks,
        flagged=flagged,
        unusual=unusual,
        names=_names(unlocks + flagged, [a for a, _ in unusual]),
        chain=audit.verify_chain(),
        window_minutes=int(ANOMALY_WINDOW.total_seconds() // 60),
        threshold=ANOMALY_DISTINCT_TAGS,
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
