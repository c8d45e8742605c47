"""`tagservice audit head | check-head`: anchor the audit chain outside the database.

The hash chain shows any edit to an event, unless someone with write access
to the database recomputes every hash after it. Against that, an operator
regularly copies the chain's head (last event id and hash) somewhere that
person cannot write: a ticket, a log server, another trust's mailbox. Later,
`check-head ID HASH` proves that the event is still there with the same hash,
so nothing at or before it has been rewritten. See docs/security.md.

Reading the head is not itself audited: it reveals nothing about patients,
and recording it would move the head it is reporting.
"""

from __future__ import annotations

import json
import sys

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from ..audit import verify_chain
from ..db import db
from ..models import AuditEvent, AuditHead
from .audit import audit


def _iso(event: AuditEvent) -> str:
    return event.created_at.isoformat(timespec="seconds")


@audit.command("head")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of a text line.")
@with_appcontext
def head(as_json: bool) -> None:
    """Print the last event's id, hash and time, after checking the whole chain.

    Keep the line somewhere the database's administrators cannot change; a
    broken chain prints nothing on standard output and exits 1.
    """
    result = verify_chain()
    if not result.ok:
        click.echo(result.message, err=True)
        sys.exit(1)
    row = db.session.get(AuditHead, 1)
    event = db.session.get(AuditEvent, row.last_id) if row.last_id else None
    at = _iso(event) if event else None
    if as_json:
        click.echo(json.dumps({"id": row.last_id, "hash": row.last_hash, "at": at}))
    else:
        click.echo(f"{row.last_id} {row.last_hash} {at or '-'}")


@audit.command("check-head")
@click.argument("event_id", type=click.IntRange(min=1))
@click.argument("event_hash")
@with_appcontext
def check_head(event_id: int, event_hash: str) -> None:
    """Check that event EVENT_ID still has EVENT_HASH (a head recorded earlier), chain intact."""
    result = verify_chain()
    if not result.ok:
        click.echo(result.message, err=True)
        sys.exit(1)
    stored = db.session.scalar(select(AuditEvent.hash).where(AuditEvent.id == event_id))
    if stored is None:
        click.echo(
            f"Anchor check failed: event {event_id} is not in the trail ({result.count} events). "
            "The trail is shorter than when it was anchored: restored from an older backup, "
            "or cut short.",
            err=True,
        )
        sys.exit(1)
    if stored != event_hash.strip().lower():
        click.echo(
            f"Anchor check failed: event {event_id} has a different hash than was recorded. "
            "The trail was rewritten at or before that event and every later hash recomputed.",
            err=True,
        )
        sys.exit(1)
    click.echo(f"Anchor holds: event {event_id} is unchanged; {result.message}")
