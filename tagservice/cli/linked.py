"""`tagservice issue --linked` and `tagservice update`: linked (format v2) tags."""

from __future__ import annotations

from datetime import datetime

import click
from flask import current_app

from tagservice import clock, crypto, keys
from tagservice.cli.group import CommandError, main
from tagservice.cli.summary_files import field_errors, load_summary_file
from tagservice.config import ConfigError
from tagservice.store import linked_tags
from tagservice.summary import model as summary_model


def issue_linked(summary: dict, settings, now: datetime) -> tuple[str, str]:
    """Seal and register a linked tag; return (tag id, URL). The card key is only in the URL."""
    try:
        issued = linked_tags.issue(summary, keys.load_keyset(settings), settings.base_url, now)
    except summary_model.SummaryError as e:
        raise CommandError(field_errors(e)) from None
    except (ConfigError, ValueError) as e:
        raise CommandError(str(e)) from None
    return issued.tag_id, issued.url


@main.command("update")
@click.argument("tag_url")
@click.argument("summary_file", type=click.Path(dir_okay=False))
def update_command(tag_url: str, summary_file: str):
    """Replace the summary behind the linked card TAG_URL; the printed card stays valid.

    Holding the card's URL is the proof: the current summary must open with it.
    Audited as an update.
    """
    settings = current_app.config["TAGSERVICE"]
    now = clock.utcnow()
    summary, warnings = load_summary_file(summary_file, now.date(), settings.base_url)
    for warning in warnings:
        click.echo(f"note: {warning}", err=True)
    try:
        row = linked_tags.update(tag_url, summary, keys.load_keyset(settings), now)
    except summary_model.SummaryError as e:
        raise CommandError(field_errors(e)) from None
    except (crypto.InvalidTag, linked_tags.UpdateRefused, ConfigError, ValueError) as e:
        raise CommandError(str(e)) from None
    click.echo(f"updated tag {row.tag_id} (revision {row.revision}); the card's URL is unchanged")
