"""`tagservice audit`: prove the trail is intact, and hand it over."""

from __future__ import annotations

import json
import os
import sys

import click
from flask.cli import with_appcontext

from tagservice import clock
from tagservice.audit import (
    EventKind,
    event_to_dict,
    iter_events,
    record_event,
    to_fhir_audit_event,
    verify_chain,
)


@click.group()
def audit() -> None:
    """Verify and export the hash-chained audit trail."""


@audit.command()
@with_appcontext
def verify() -> None:
    """Recompute every event's hash and link; exit 1 naming the first broken event."""
    result = verify_chain()
    if not result.ok:
        click.echo(result.message, err=True)
        sys.exit(1)
    click.echo(result.message)


@audit.command()
@click.option("--fhir", is_flag=True, help="A FHIR R4 Bundle of AuditEvents instead of JSON lines.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True),
    help="Write to FILE (created 0600) instead of standard output.",
)
@with_appcontext
def export(fhir: bool, out: str | None) -> None:
    """Export every event in chain order.

    The export is recorded first, like an unlock: if that fails nothing is written,
    and the export ends with its own `audit.exported` event.
    """
    record_event(
        EventKind.AUDIT_EXPORTED,
        outcome="success",
        actor_type="cli",
        format="fhir" if fhir else "jsonl",
        to_file=bool(out),
    )
    target = _open_private(out) if out else click.open_file("-", "w")
    count = 0
    with target as stream:
        if fhir:
            header = {"resourceType": "Bundle", "type": "collection", "timestamp": _now()}
            stream.write(json.dumps(header, ensure_ascii=False)[:-1] + ',"entry":[')
        for event in iter_events():
            if fhir:
                resource = json.dumps({"resource": to_fhir_audit_event(event)}, ensure_ascii=False)
                stream.write(("," if count else "") + resource)
            else:
                stream.write(json.dumps(event_to_dict(event), ensure_ascii=False) + "\n")
            count += 1
        if fhir:
            stream.write("]}\n")
    if out:
        click.echo(f"Exported {count} audit events to {out}", err=True)


def _open_private(path: str):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode otherwise
    return open(fd, "w", encoding="utf-8")


def _now() -> str:
    return clock.utcnow().isoformat(timespec="seconds")
