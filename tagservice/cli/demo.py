"""`tagservice demo`: the demo clinician and demo tag for a local try-out (never production)."""

from __future__ import annotations

import io

import click
import segno
from flask import current_app

from tagservice import demo
from tagservice.cli.group import CommandError, main


def _terminal_qr(text: str) -> str:
    out = io.StringIO()
    segno.make(text, error="m").terminal(out=out, compact=True, border=2)
    return out.getvalue()


@main.command("demo")
@click.option(
    "--qr/--no-qr",
    default=True,
    show_default=True,
    help="also print the TOTP secret as a terminal QR code",
)
def demo_command(qr: bool):
    """Make sure the demo clinician and demo tag exist, and print how to try them."""
    settings = current_app.config["TAGSERVICE"]
    if settings.production:
        raise CommandError("no demo accounts in production (TAGSERVICE_ENV=production)")
    creds = demo.ensure_demo_clinician()
    url = demo.ensure_demo_tag()
    click.echo("")
    click.echo("== tagservice demo ==============================================")
    click.echo(f"Service:   {settings.base_url}")
    click.echo(f"Demo tag:  {url}")
    click.echo("Sign in as the demo paramedic:")
    click.echo(f"  email     {creds.email}")
    click.echo(f"  password  {creds.password}")
    click.echo(f"  TOTP      add this to an authenticator app: {creds.otpauth_uri}")
    if qr:
        click.echo(_terminal_qr(creds.otpauth_uri))
    click.echo("Open the demo tag URL in a browser, sign in, choose '999 call'.")
    click.echo("Passkeys need a host name: set TAGSERVICE_BASE_URL=http://localhost:8000.")
    click.echo("=================================================================")
