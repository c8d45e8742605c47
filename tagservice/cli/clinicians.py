"""`tagservice clinician add | list | suspend | reinstate | reset-totp`.

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

from .. import clinicians as accounts
from ..db import db
from ..models import Clinician
from . import CommandError


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
@click.option("--register", "register", required=True, type=click.Choice(["HCPC", "GMC", "NMC"]))
@click.option("--registration", required=True, help="e.g. PA12345, 1234567, 12A3456E")
@click.option("--org", "organisation", required=True, help="employing organisation")
@click.option("--expires", callback=_expiry, help="registration expiry date, YYYY-MM-DD")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
@click.option("--qr", is_flag=True, help="also draw the TOTP enrolment as a QR code")
def add(email, name, role, register, registration, organisation, expires, password_stdin, qr):
    """Register a clinician; prints the TOTP otpauth:// URI (and a password if generated)."""
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        clinician, generated, uri = accounts.add_clinician(
            email, name, role, register, registration, organisation, expires, password
        )
    except accounts.ClinicianError as e:
        raise CommandError(str(e)) from None
    click.echo(f"added {clinician.email} ({clinician.role}, {clinician.registration})")
    if generated:
        click.echo(f"password (shown once): {generated}")
    _show_totp(uri, qr)


@clinician_group.command("list")
def list_clinicians():
    """Every clinician: email, role, registration, organisation, expiry, status."""
    today = accounts.utcnow().date()
    for c in db.session.scalars(select(Clinician).order_by(Clinician.email)):
        expires = c.registration_expires.isoformat() if c.registration_expires else "-"
        flag = "" if c.can_unlock(today) else "  (cannot unlock)"
        click.echo(
            f"{c.email}  {c.role}  {c.registration}  {c.organisation}  "
            f"expires {expires}  {c.status}{flag}"
        )


def _by_email(action, email: str):
    try:
        return action(email)
    except accounts.ClinicianError as e:
        raise CommandError(str(e)) from None


@clinician_group.command("suspend")
@click.argument("email")
def suspend(email):
    """Stop EMAIL signing in or unlocking; ends their sessions and API tokens."""
    clinician = _by_email(accounts.suspend, email)
    click.echo(f"suspended {clinician.email}; their sessions have ended")


@clinician_group.command("reinstate")
@click.argument("email")
def reinstate(email):
    """Let a suspended EMAIL sign in again (also clears a lockout)."""
    clinician = _by_email(accounts.reinstate, email)
    click.echo(f"reinstated {clinician.email}")


@clinician_group.command("reset-totp")
@click.argument("email")
@click.option("--qr", is_flag=True, help="also draw the TOTP enrolment as a QR code")
def reset_totp(email, qr):
    """New authenticator secret for EMAIL (lost phone); ends their sessions."""
    uri = _by_email(accounts.reset_totp, email)
    click.echo(f"new TOTP secret for {accounts.normalise_email(email)}; old codes no longer work")
    _show_totp(uri, qr)
