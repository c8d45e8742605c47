"""`tagservice keys list | rotate | retire | destroy | export`: the issuer and reader keys."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import AppGroup

from tagservice import clock, keys
from tagservice.cli.group import CommandError

keys_group = AppGroup("keys", help="List, rotate, retire, destroy and export the tag keys.")


def _settings():
    return current_app.config["TAGSERVICE"]


def _audit(kind, **details):
    from tagservice import audit

    audit.record_event(kind, outcome="success", actor_type="cli", **details)


@keys_group.command("list")
def list_keys():
    """Show every key: id, role, status, created; the newest active key of a role issues."""
    keyring = keys.load_keyring(_settings())
    issuing = {keyring.newest(role).kid for role in keys.ROLES if keyring.newest(role)}
    for r in keyring.records:
        mark = " (issues new tags)" if r.kid in issuing else ""
        retired = f" retired {r.retired}" if r.retired else ""
        retired += f" destroyed {r.destroyed}" if r.destroyed else ""
        click.echo(f"{r.kid}  {r.role:<6}  {r.status:<9}  created {r.created}{retired}{mark}")


@keys_group.command("rotate")
@click.option(
    "--issuer", "roles", flag_value="issuer", multiple=True, help="rotate the signing key"
)
@click.option("--reader", "roles", flag_value="reader", multiple=True, help="rotate the reader key")
def rotate(roles):
    """Make new keys (both unless --issuer or --reader); old keys keep working until retired."""
    from tagservice.audit import EventKind

    settings = _settings()
    kek = keys.load_kek(settings)
    keyring = keys.load_keyring(settings)
    for role in roles or tuple(keys.ROLES):
        keyring, record = keyring.add(role, kek, clock.utcnow())
        keys.save_keyring(settings, keyring)
        _audit(EventKind.KEY_ROTATED, role=role, kid=record.kid)
        click.echo(f"new {role} key {record.kid} now issues; older keys still verify")


@keys_group.command("retire")
@click.argument("kid")
@click.option("--force", is_flag=True, help="retire even the only active key of its role")
def retire(kid: str, force: bool):
    """Retire KID: tags it signed or encrypted are refused from now on."""
    from tagservice.audit import EventKind

    settings = _settings()
    try:
        keyring = keys.load_keyring(settings).retire(kid.lower(), clock.utcnow(), force)
    except keys.KeyStoreError as e:
        raise CommandError(str(e)) from None
    from tagservice.store import tags

    keys.save_keyring(settings, keyring)
    expired = tags.expire_tags_for_key(kid.lower())
    _audit(EventKind.KEY_RETIRED, kid=kid.lower(), tags_expired=expired)
    click.echo(f"retired {kid.lower()}; {expired} issued tag(s) made with it will be refused")


@keys_group.command("destroy")
@click.argument("kid")
@click.option("--yes", is_flag=True, help="confirm: the private key is gone for good")
@click.option("--force", is_flag=True, help="destroy even if cards made with it are not reissued")
def destroy(kid: str, yes: bool, force: bool):
    """Destroy retired key KID: its private key leaves keys.json; cards made with it never open.

    Only a retired key, and only once every card made with it has been reissued or
    revoked (the tag register says so), unless --force.
    """
    from tagservice.audit import EventKind
    from tagservice.store import tags

    settings = _settings()
    kid = kid.strip().lower()
    ring = keys.load_keyring(settings)
    try:
        destroyed = ring.destroy(kid, clock.utcnow())
    except keys.KeyStoreError as e:
        raise CommandError(str(e)) from None
    waiting = tags.cards_depending_on_key(kid)
    if waiting and not force:
        raise CommandError(
            f"{waiting} card(s) made with key {kid} are neither reissued nor revoked: their "
            "holders would carry a card that can never open. Ask them to reissue, or use --force."
        )
    if not yes:
        click.confirm(
            f"Destroy the private key of {kid}? Cards made with it can never be opened again",
            abort=True,
        )
    keys.save_keyring(settings, destroyed)
    role = destroyed.by_kid(kid).role
    _audit(EventKind.KEY_DESTROYED, kid=kid, role=role, cards_not_reissued=waiting, forced=force)
    click.echo(
        f"destroyed the private key of {kid}; its id and public key stay, so its cards are "
        "refused as 'key destroyed: reissue'. Backups of keys.json made before now still "
        "hold it (sealed under the KEK): expire them as docs/operations.md says."
    )


@keys_group.command("export")
def export():
    """Print the public trust list (JWKS), as served at /.well-known/jwks.json."""
    settings = _settings()
    try:
        keys.load_keyset(settings)  # the published keys must be the ones the service uses
    except keys.KeyStoreError as e:
        raise CommandError(str(e)) from None
    click.echo(json.dumps(keys.load_keyring(settings).jwks(), indent=2))


@keys_group.command("change-kek", with_appcontext=False)
def change_kek_command():
    """Re-seal keys, TOTP secrets and patient data under a new key-encryption key.

    All or nothing: if it stops part-way the old KEK keeps working (run it again to
    finish or undo a change that was killed). Stop the service first when the KEK
    comes from TAGSERVICE_KEK: it cannot start again until that is set to the new one.
    """
    from tagservice import create_app, kek_change
    from tagservice.config import ConfigError, load_settings

    try:
        settings = load_settings()
        recovered = kek_change.recover(settings)
        if recovered:
            click.echo(recovered)
            return
        app = create_app()
        with app.app_context():
            changed = kek_change.change_kek(settings)
    except ConfigError as e:
        raise CommandError(str(e)) from None
    click.echo(f"re-sealed {changed.keys} key(s) and {changed.rows} database value(s) "
               "under a new key-encryption key")  # fmt: skip
    for line in changed.next_steps():
        click.echo(line)
