"""`tagservice audit head | anchor | check-head`: anchor the audit chain outside the database.

The hash chain shows any edit to an event, unless someone with write access
to the database recomputes every hash after it. Against that, an operator
regularly copies the chain's head (last event id and hash) somewhere that
person cannot write: a ticket, a log server, another trust's mailbox. Later,
`check-head ID HASH` proves that the event is still there with the same hash,
so nothing at or before it has been rewritten. See docs/security.md.

`anchor FILE` is the scheduled form (a systemd timer or cron, docs/operations.md
section 8): it first checks the last head already in FILE, so a trail that went
back in time (an older backup restored) or was rewritten is caught on the next
run, then appends the current head as one JSON line, flushed to disk.

Reading the head is not itself audited: it reveals nothing about patients,
and recording it would move the head it is reporting.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from tagservice import clock
from tagservice.audit import verify_chain
from tagservice.cli.audit import audit
from tagservice.store.db import db
from tagservice.store.models import AuditEvent, AuditHead


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
    head, _count = _current_head()
    if as_json:
        click.echo(json.dumps(head))
    else:
        click.echo(f"{head['id']} {head['hash']} {head['at'] or '-'}")


def _current_head() -> tuple[dict, int]:
    """The head of an intact chain as {"id", "hash", "at"}, and the number of events.

    Exits 1 on a broken chain.
    """
    result = verify_chain()
    if not result.ok:
        click.echo(result.message, err=True)
        sys.exit(1)
    row = db.session.get(AuditHead, 1)
    event = db.session.get(AuditEvent, row.last_id) if row.last_id else None
    return {"id": row.last_id, "hash": row.last_hash, "at": _iso(event) if event else None}, (
        result.count
    )


def _anchor_failure(event_id: int, event_hash: str, count: int) -> str | None:
    """Why the recorded head EVENT_ID/EVENT_HASH no longer holds, or None if it holds."""
    if event_id == 0:  # anchored while the trail was empty
        return None
    stored = db.session.scalar(select(AuditEvent.hash).where(AuditEvent.id == event_id))
    if stored is None:
        return (
            f"Anchor check failed: event {event_id} is not in the trail ({count} events). "
            "The trail is shorter than when it was anchored: restored from an older backup, "
            "or cut short."
        )
    if stored != event_hash.strip().lower():
        return (
            f"Anchor check failed: event {event_id} has a different hash than was recorded. "
            "The trail was rewritten at or before that event and every later hash recomputed."
        )
    return None


def _last_anchor(path: Path) -> dict | None:
    """The last head recorded in an anchor log (JSON lines), or None for a new log."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return None
    for line in reversed(lines):
        if line.strip():
            try:
                head = json.loads(line)
                return {"id": int(head["id"]), "hash": str(head["hash"])}
            except (ValueError, KeyError, TypeError):
                click.echo(f"{path}: its last line is not a head from `audit anchor`.", err=True)
                sys.exit(1)
    return None


@audit.command("anchor")
@click.argument("log", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def anchor(log: Path) -> None:
    """Append the chain's head to LOG (JSON lines) after checking the last head in LOG.

    Run it on a schedule and keep LOG where the database's administrators cannot
    write. Exits 1, appending nothing, if the chain is broken or the last head in
    LOG no longer holds (the trail went back in time or was rewritten).
    """
    head, count = _current_head()
    last = _last_anchor(log)
    if last is not None:
        failure = _anchor_failure(last["id"], last["hash"], count)
        if failure:
            click.echo(failure, err=True)
            sys.exit(1)
    line = json.dumps({**head, "anchored_at": clock.utcnow().isoformat(timespec="seconds")})
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    click.echo(f"{head['id']} {head['hash']} {head['at'] or '-'}")


@audit.command("check-head")
@click.argument("event_id", type=click.IntRange(min=1), required=False)
@click.argument("event_hash", required=False)
@click.option(
    "--from", "log", type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Check the last head recorded in this anchor log instead of EVENT_ID EVENT_HASH.",
)  # fmt: skip
@with_appcontext
def check_head(event_id: int | None, event_hash: str | None, log: Path | None) -> None:
    """Check that event EVENT_ID still has EVENT_HASH (a head recorded earlier), chain intact."""
    if log is not None:
        last = _last_anchor(log)
        if last is None:
            click.echo(f"{log} holds no head yet.", err=True)
            sys.exit(1)
        event_id, event_hash = last["id"], last["hash"]
    elif event_id is None or event_hash is None:
        raise click.UsageError("Give EVENT_ID and EVENT_HASH, or --from LOG.")
    result = verify_chain()
    if not result.ok:
        click.echo(result.message, err=True)
        sys.exit(1)
    failure = _anchor_failure(event_id, event_hash, result.count)
    if failure:
        click.echo(failure, err=True)
        sys.exit(1)
    click.echo(f"Anchor holds: event {event_id} is unchanged; {result.message}")
