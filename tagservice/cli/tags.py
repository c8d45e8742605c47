"""`tagservice init | issue | decode | capacity`: making and reading tags."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import current_app

from .. import capacity, crypto, keys
from .. import summary as summary_model
from ..config import ConfigError, load_settings
from . import CommandError, main


def _settings():
    return current_app.config["TAGSERVICE"]


def load_summary_file(path: str, today) -> tuple[dict, list[str]]:
    """Read native JSON or a FHIR IPS Bundle; return (validated summary, warnings)."""
    from .. import fhir

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise CommandError(f"cannot read {path}: {e.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CommandError(f"{path} is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise CommandError(f"{path} must hold a JSON object")
    warnings: list[str] = []
    try:
        if fhir.is_fhir_bundle(data):
            data, warnings = fhir.summary_from_ips(data, today)
        data.setdefault("meta", {}).setdefault("issued", today.isoformat())
        return summary_model.validate(data), warnings
    except summary_model.SummaryError as e:
        raise CommandError(_field_errors(e)) from None
    except ValueError as e:  # FhirImportError and friends carry a readable message
        raise CommandError(str(e)) from None


def _field_errors(error: summary_model.SummaryError) -> str:
    return "; ".join(f"{e.path}: {e.message}" for e in error.errors)


@main.command("init", with_appcontext=False)
def init_command():
    """Create keys, secret key and database for a local instance (idempotent)."""
    from .. import create_app, db

    try:
        settings = load_settings()
        for line in keys.init_instance(settings):
            click.echo(line)
        app = create_app()
    except ConfigError as e:
        raise CommandError(str(e)) from None
    with app.app_context():
        db.upgrade_database(app)
    click.echo(f"instance ready in {settings.home}")


@main.command("issue")
@click.argument("summary_file", type=click.Path(dir_okay=False))
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False),
    help="tag.txt (the URL) or x.png (the QR code)",
)
def issue_command(summary_file: str, out: str):
    """Issue a tag for SUMMARY_FILE (native JSON or a FHIR IPS Bundle)."""
    from .. import audit, tags
    from ..audit import EventKind

    settings = _settings()
    if Path(out).suffix.lower() not in (".txt", ".png"):
        raise CommandError(f"--out must end in .txt or .png, not {Path(out).name}")
    now = datetime.now(UTC)
    summary, warnings = load_summary_file(summary_file, now.date())
    for warning in warnings:
        click.echo(f"note: {warning}", err=True)
    try:
        capacity.check_fits(summary, settings.base_url)
        tag = crypto.seal(summary, keys.load_keyset(settings), now)
    except summary_model.SummaryError as e:
        raise CommandError(_field_errors(e)) from None
    except ConfigError as e:
        raise CommandError(str(e)) from None
    header = crypto.verify_tag(tag, keys.load_keyset(settings))
    url = crypto.tag_url(settings.base_url, tag)
    review = summary["meta"].get("review")
    tags.register_tag(
        header.tag_id_hex,
        header.issuer_kid.hex(),
        header.reader_kid.hex(),
        now,
        datetime.fromisoformat(review).date() if review else None,
    )
    audit.record_event(
        EventKind.TAG_ISSUED, outcome="success", actor_type="cli", tag_id=header.tag_id_hex
    )
    _write_output(Path(out), url)
    click.echo(f"issued tag {header.tag_id_hex} -> {out}")
    click.echo(capacity.measure(summary, settings.base_url).describe())


def _write_output(path: Path, url: str) -> None:
    from cards import qr_png

    suffix = path.suffix.lower()
    if suffix == ".txt":
        path.write_text(url + "\n")
    else:
        path.write_bytes(qr_png(url))


@main.command("decode")
@click.argument("tag_url")
@click.option(
    "--reason",
    default="admin decode",
    show_default=True,
    help="why you are reading this tag (recorded in the audit trail)",
)
def decode_command(tag_url: str, reason: str):
    """Print the decrypted summary of TAG_URL as JSON (admin; audited first)."""
    from .. import audit
    from ..audit import EventKind

    settings = _settings()
    keyset = keys.load_keyset(settings)
    try:
        data = crypto.decode_payload(tag_url.strip())
        header = crypto.verify_tag(data, keyset)
    except crypto.InvalidTag as e:
        audit.record_event(
            EventKind.TAG_REJECTED, outcome="failed", actor_type="cli", error=e.__class__.__name__
        )
        raise CommandError(str(e)) from None
    # the access is recorded (and committed) before anything is decrypted
    audit.record_event(
        EventKind.TAG_DECODED_BY_ADMIN,
        outcome="success",
        actor_type="cli",
        tag_id=header.tag_id_hex,
        reason="other",
        reason_text=reason,
    )
    try:
        opened = crypto.open_tag(data, keyset, datetime.now(UTC))
    except crypto.InvalidTag as e:
        raise CommandError(str(e)) from None
    for warning in opened.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(json.dumps(opened.summary, indent=2, ensure_ascii=False))


@main.command("capacity", with_appcontext=False)
@click.argument("summary_file", type=click.Path(dir_okay=False))
def capacity_command(summary_file: str):
    """Show how full a tag for SUMMARY_FILE would be, and what to shorten."""
    try:
        settings = load_settings()
    except ConfigError as e:
        raise CommandError(str(e)) from None
    summary, warnings = load_summary_file(summary_file, datetime.now(UTC).date())
    for warning in warnings:
        click.echo(f"note: {warning}", err=True)
    meter = capacity.measure(summary, settings.base_url)
    click.echo(meter.describe())
    if not meter.fits:
        raise SystemExit(1)
