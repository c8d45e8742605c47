"""`tagservice init | issue | decode | capacity`: making and reading tags."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import click
from flask import current_app

from tagservice import clock, crypto, keys, tag_digits
from tagservice.cli.group import CommandError, main
from tagservice.cli.summary_files import field_errors, load_summary_file
from tagservice.config import ConfigError, load_settings
from tagservice.summary import alerts, capacity
from tagservice.summary import model as summary_model

LAYOUTS = ("wallet", "keyring", "wristband", "lockscreen")
OUTPUT_SUFFIXES = (".txt", ".png", ".pdf", ".ndef")


def _settings():
    return current_app.config["TAGSERVICE"]


@main.command("init", with_appcontext=False)
def init_command():
    """Create keys, secret key and database for a local instance (idempotent)."""
    from tagservice import create_app
    from tagservice.store import db

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
    help="tag.txt (the URL), card.png (front; the back goes to card-back.png), "
    "card.pdf (front and back with crop marks) or tag.ndef (an NFC URI record for a sticker)",
)
@click.option(
    "--layout",
    type=click.Choice(LAYOUTS),
    default="wallet",
    show_default=True,
    help="wallet card (85.6 x 54 mm), key-ring / bracelet insert, wristband strip (25 mm "
    "tall: linked tags only) or phone lock screen (PNG, 1170x2532 and 1080x2400)",
)
@click.option(
    "--critical-line",
    metavar="TEXT",
    help='print this line on the back, e.g. "Penicillin ANAPHYLAXIS · On warfarin"',
)
@click.option(
    "--critical-auto",
    is_flag=True,
    help="print the summary's critical alerts on the back (refused if they do not fit)",
)
@click.option("--sheet", is_flag=True, help="PDF only: an A4 sheet of cards to cut out")
@click.option(
    "--linked",
    "linked_tag",
    is_flag=True,
    help="format v2: a tiny code holding only the card key; the summary is kept (sealed) "
    "by this service and can be changed with `tagservice update` without reprinting",
)
@click.option(
    "--strict",
    is_flag=True,
    help="refuse a FHIR record that does not fit the card whole, instead of fitting it "
    "and naming what was left off",
)
def issue_command(
    summary_file: str,
    out: str,
    layout: str,
    critical_line: str | None,
    critical_auto: bool,
    sheet: bool,
    linked_tag: bool,
    strict: bool,
):
    """Issue a tag for SUMMARY_FILE (native JSON or a FHIR IPS Bundle).

    A FHIR record larger than a card is fitted in emergency priority; each item
    left off or shortened is printed as a `note:` line (--strict refuses instead).
    No critical line is printed unless --critical-line or --critical-auto asks.
    """
    from tagservice import audit
    from tagservice.audit import EventKind
    from tagservice.store import tags

    settings = _settings()
    _check_output_options(Path(out), layout, critical_line, critical_auto, sheet)
    now = clock.utcnow()
    summary, warnings = load_summary_file(summary_file, now.date(), settings.base_url, strict)
    for warning in warnings:
        click.echo(f"note: {warning}", err=True)
    card = _card_words(Path(out), layout, critical_line, critical_auto, sheet, summary, settings)
    if linked_tag:
        from tagservice.cli.linked import issue_linked

        tag_id, url = issue_linked(summary, settings, now)
        review = summary["meta"].get("review")
        written = _write_output(Path(out), url, card, tag_id, now.date(), review)
        click.echo(f"issued tag {tag_id} -> {', '.join(map(str, written))}")
        click.echo("linked tag: this service keeps the summary; `tagservice update` changes it")
        return
    try:
        capacity.check_fits(summary, settings.base_url)
        _check_qr_fits(Path(out), layout, capacity.tag_size(summary), settings.base_url)
        tag = crypto.seal(summary, keys.load_keyset(settings), now)
    except summary_model.SummaryError as e:
        raise CommandError(field_errors(e)) from None
    except ConfigError as e:
        raise CommandError(str(e)) from None
    header = crypto.verify_tag(tag, keys.load_keyset(settings))
    url = tag_digits.tag_url(settings.base_url, tag)
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
    if Path(out).suffix.lower() == ".ndef":  # NFC stores bytes: base32 is shorter than digits
        url = crypto.tag_url(settings.base_url, tag)
    written = _write_output(Path(out), url, card, header.tag_id_hex, now.date(), review)
    click.echo(f"issued tag {header.tag_id_hex} -> {', '.join(map(str, written))}")
    click.echo(capacity.measure(summary, settings.base_url).describe())


def _check_output_options(path: Path, layout, critical_line, critical_auto, sheet) -> None:
    """Refuse option mistakes before anything is sealed, registered or audited."""
    suffix = path.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise CommandError(f"--out must end in .txt, .png, .pdf or .ndef, not {path.name}")
    if critical_line is not None and critical_auto:
        raise CommandError("give --critical-line TEXT or --critical-auto, not both")
    if suffix in (".txt", ".ndef") and (
        layout != "wallet" or critical_line or critical_auto or sheet
    ):
        raise CommandError("--layout, --critical-* and --sheet need --out card.png or card.pdf")
    if layout == "lockscreen" and suffix != ".png":
        raise CommandError("a lock-screen wallpaper is a picture: use --out lock.png")
    if sheet and suffix != ".pdf":
        raise CommandError("--sheet makes an A4 PDF: use --out card.pdf")
    if layout != "wallet" and (critical_line is not None or critical_auto):
        raise CommandError(f"a {layout} print has no critical line: use --layout wallet")


def _check_qr_fits(path: Path, layout: str, tag_bytes: int, base_url: str) -> None:
    """Refuse a layout the QR cannot fit (a v1 tag on a wristband) before anything is sealed."""
    import cards

    if path.suffix.lower() not in (".png", ".pdf"):
        return
    placeholder = tag_digits.tag_url(base_url, bytes(tag_bytes))
    try:
        cards.check_qr(placeholder, layout)
    except cards.CardError as e:
        raise CommandError(str(e)) from None


def _card_words(path: Path, layout, critical_line, critical_auto, sheet, summary, settings):
    """What the card will say; refused now (CardError) rather than after issuing."""
    import cards

    words = {
        "first_name": (summary["identity"]["name"].split() or ["?"])[0],
        "issuer": urlsplit(settings.base_url).hostname or settings.base_url,
        "critical_line": critical_line,
        "layout": layout,
    }
    if critical_auto:
        lines = alerts.critical_alerts(summary)
        if not lines:
            click.echo(
                "note: the summary has no critical alerts; no critical line printed", err=True
            )
        words["critical_line"] = " · ".join(lines) or None
    if path.suffix.lower() != ".txt":
        try:
            cards.check_card(**words)
        except cards.CardError as e:
            raise CommandError(str(e)) from None
    return dict(words, sheet=sheet)


def _write_output(path: Path, url: str, card: dict, tag_id: str, issued, review) -> list[Path]:
    """Write the tag URL, card PNG (front, plus -back.png for a wallet) or card PDF.

    A wallet PNG writes both sides at once: issuing again would make a new tag
    with another id, so a back made later would not match this front.
    """
    import cards

    suffix = path.suffix.lower()
    if suffix == ".txt":
        path.write_text(url + "\n")
        return [path]
    if suffix == ".ndef":
        path.write_bytes(cards.uri_record(url))
        return [path]
    review_date = datetime.fromisoformat(review).date() if review else None
    common = dict(card, tag_id=tag_id, issued=issued, review=review_date, fmt=suffix[1:])
    written = {path: {}}
    if suffix == ".png" and card["layout"] == "wallet":
        written[path.with_name(f"{path.stem}-back{path.suffix}")] = {"side": "back"}
    if card["layout"] == "lockscreen":  # both common phone sizes from the one tag
        written = {path: {"screen": "1170x2532"},
                   path.with_name(f"{path.stem}-1080x2400{path.suffix}"): {"screen": "1080x2400"}}
    try:
        images = {
            target: cards.render_card(url, **common, **extra) for target, extra in written.items()
        }
    except cards.CardError as e:
        raise CommandError(str(e)) from None
    for target, data in images.items():
        target.write_bytes(data)
    return list(images)


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
    from tagservice import audit
    from tagservice.audit import EventKind

    settings = _settings()
    keyset = keys.load_keyset(settings)
    from tagservice.store import linked_tags

    try:
        data, header = linked_tags.read(tag_url.strip(), keyset)  # v1 or linked
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
        opened = linked_tags.open_scanned(data, header, keyset, clock.utcnow())
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
    summary, warnings = load_summary_file(summary_file, clock.utcnow().date(),
                                          settings.base_url)
    for warning in warnings:
        click.echo(f"note: {warning}", err=True)
    meter = capacity.measure(summary, settings.base_url)
    click.echo(meter.describe())
    if not meter.fits:
        raise SystemExit(1)


@main.command("revoke")
@click.argument("tag_id")
@click.option("--reason", required=True, help="why (e.g. 'reported lost by phone'); audited")
def revoke_command(tag_id: str, reason: str):
    """Revoke the card with TAG_ID (as printed on its back): scans are refused at once."""
    from tagservice import audit
    from tagservice.audit import EventKind
    from tagservice.store import tags
    from tagservice.store.db import begin_write

    compact_id = "".join(tag_id.split()).lower()
    try:
        begin_write()
        tag = tags.revoke_tag(compact_id, reason, commit=False)
        # commits the revocation and its audit event together
        audit.record_event(
            EventKind.TAG_REVOKED,
            outcome="success",
            actor_type="cli",
            tag_id=tag.tag_id,
            reason_text=reason[:200],
        )
    except (ValueError, LookupError) as e:
        raise CommandError(str(e)) from None
    click.echo(f"revoked {tag.tag_id}: scanning this card is now refused")
