"""`tagservice clinician add | list | suspend | reinstate | reset-totp | passkeys list|remove`.

The admin's side of clinician accounts. A generated password and the TOTP
enrolment URI are printed once, on the terminal that asked for them; the
database keeps only the argon2 hash and the encrypted TOTP secret.
"""

from __future__ import annotations

import sys
from datetime import date

import click
import segno
from flask.cli import AppGroup
from sqlalchemy import select

from tagservice import clock
from tagservice.accounts import clinicians as accounts
from tagservice.accounts import passkey_store
from tagservice.cli.group import CommandError
from tagservice.store.db import db
from tagservice.store.models import Clinician


class _OneLineCommand(click.Command):
    """Usage mistakes too become one line on stderr (exit 2), not a usage screen."""

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as e:
            raise CommandError(" ".join(e.format_message().split())) from None


class _Group(AppGroup):
    command_class = _OneLineCommand


clinician_group = _Group("clinician", help="Add, list, suspend and reinstate clinicians.")


def _expiry(_ctx, _param, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--expires must be a date like 2027-03-31, not {value!r}") from None


def _show_totp(uri: str, qr: bool) -> None:
    click.echo("Add this to the clinician's authenticator app (shown once):")
    click.echo(uri)
    if qr:
        segno.make(uri, error="m").terminal(out=sys.stdout, compact=True)


@clinician_group.command("add")
@click.argument("email")
@click.option("--name", required=True, help="full name as on the register")
@click.option("--role", required=True, type=click.Choice(accounts.ROLES))
@click.option(
    "--register", "register", type=click.Choice(["HCPC", "GMC", "NMC"]),
    help="professional register (not for a receptionist)",
)
@click.option("--registration", help="e.g. PA12345, 1234567, 12A3456E (not for a receptionist)")
@click.option("--org", "organisation", required=True, help="employing organisation")
@click.option("--expires", callback=_expiry, help="registration expiry date, YYYY-MM-DD")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
@click.option("--qr", is_flag=True, help="also draw the TOTP enrolment as a QR code")
def add(email, name, role, register, registration, organisation, expires, password_stdin, qr):
    """Register a clinician; prints the TOTP otpauth:// URI (and a password if generated)."""
    if role != "receptionist" and not (register and registration):
        raise CommandError(f"a {role} needs --register and --registration")
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        clinician, generated, uri = accounts.add_clinician(
            email, name, role, register, registration, organisation, expires, password
        )
    except accounts.ClinicianError as e:
        raise CommandError(str(e)) from None
    registration = clinician.registration or "no registration: cannot open summaries"
    click.echo(f"added {clinician.email} ({clinician.role}, {registration})")
    if generated:
        click.echo(f"password (shown once): {generated}")
    _show_totp(uri, qr)


@clinician_group.command("list")
def list_clinicians():
    """Every clinician: email, role, registration, organisation, expiry, status."""
    today = clock.utcnow().date()
    for c in db.session.scalars(select(Clinician).order_by(Clinician.email)):
        expires = c.registration_expires.isoformat() if c.registration_expires else "-"
        flag = "" if c.can_unlock(today) and c.register else "  (cannot unlock)"
        click.echo(
            f"{c.email}  {c.role}  {c.registration or '-'}  {c.organisation}  "
            f"expires {expires}  {c.status}{flag}"
        )


def _by_email(action, email: str):
    try:
        return action(email)
    except accounts.ClinicianError as e:
        raise CommandError(str(e)) from None


_REMOVE_PASSKEYS = click.option(
    "--remove-passkeys", is_flag=True, help="also remove every passkey of EMAIL"
)


def _say_passkeys_left(email: str) -> None:
    """A passkey outlives a suspension and a TOTP reset unless removed: say so."""
    left = accounts.passkey_count(email)
    if left:
        click.echo(
            f"{left} passkey{'s' if left != 1 else ''} still sign{'s' if left == 1 else ''}"
            f" in as {accounts.normalise_email(email)}: remove with --remove-passkeys or"
            " `tagservice clinician passkeys remove EMAIL --all`"
        )
    else:
        click.echo("no passkeys remain")


@clinician_group.command("suspend")
@click.argument("email")
@_REMOVE_PASSKEYS
def suspend(email, remove_passkeys):
    """Stop EMAIL signing in or unlocking; ends their sessions and API tokens."""
    clinician = _by_email(lambda e: accounts.suspend(e, remove_passkeys=remove_passkeys), email)
    click.echo(f"suspended {clinician.email}; their sessions have ended")
    _say_passkeys_left(email)


@clinician_group.command("reinstate")
@click.argument("email")
def reinstate(email):
    """Let a suspended EMAIL sign in again (their passkeys work again too)."""
    clinician = _by_email(accounts.reinstate, email)
    click.echo(f"reinstated {clinician.email}")
    _say_passkeys_left(email)


@clinician_group.command("reset-totp")
@click.argument("email")
@click.option("--qr", is_flag=True, help="also draw the TOTP enrolment as a QR code")
@_REMOVE_PASSKEYS
def reset_totp(email, qr, remove_passkeys):
    """New authenticator secret for EMAIL (lost phone); ends their sessions."""
    uri = _by_email(lambda e: accounts.reset_totp(e, remove_passkeys=remove_passkeys), email)
    click.echo(f"new TOTP secret for {accounts.normalise_email(email)}; old codes no longer work")
    _say_passkeys_left(email)
    _show_totp(uri, qr)


passkeys_group = _Group("passkeys", help="List and remove a clinician's passkeys.")
clinician_group.add_command(passkeys_group)


def _when(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


@passkeys_group.command("list")
@click.argument("email")
def list_passkeys(email):
    """EMAIL's passkeys: credential id, when added, when last used."""
    clinician = _by_email(accounts.get_clinician, email)
    found = passkey_store.of(clinician)
    if not found:
        click.echo(f"{clinician.email} has no passkeys")
    for p in found:
        click.echo(
            f"{passkey_store.credential_label(p.credential_id)}  added {_when(p.created_at)}"
            f"  last used {_when(p.last_used_at)}  {p.transports or '-'}"
        )


@passkeys_group.command("remove")
@click.argument("email")
@click.argument("credential_id", required=False)
@click.option("--all", "remove_all", is_flag=True, help="remove every passkey of EMAIL")
def remove_passkeys(email, credential_id, remove_all):
    """Remove one passkey of EMAIL (CREDENTIAL_ID, or its first 6+ characters) or --all."""
    if bool(credential_id) == remove_all:
        raise CommandError("name one CREDENTIAL_ID (from `passkeys list`) or give --all")
    clinician = _by_email(accounts.get_clinician, email)
    chosen = (
        passkey_store.of(clinician) if remove_all else passkey_store.find(clinician, credential_id)
    )
    if not remove_all and len(chosen) != 1:
        what = "matches more than one passkey" if chosen else "is not a passkey of"
        raise CommandError(f"{credential_id!r} {what} {clinician.email}")
    removed = passkey_store.remove(clinician, chosen, actor=None, client="cli", commit=True)
    click.echo(f"removed {removed} passkey{'s' if removed != 1 else ''} of {clinician.email}")
    _say_passkeys_left(email)
