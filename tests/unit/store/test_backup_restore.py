"""Back up, destroy and restore an instance the way docs/operations.md tells an operator to.

Given an instance set up with the command line (a clinician, an issued tag,
an audit trail), when the operator backs up the database and the three
secret files, loses the whole instance folder and restores it from the
backup, then `tagservice doctor` passes, the audit chain and its recorded
head still hold, and the clinician signs in with their password and TOTP
code and unlocks the card printed before the loss.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pyotp
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from tagservice import create_app, keys
from tagservice.audit import record_event
from tagservice.cli import main
from tagservice.config import load_settings
from tagservice.store.db import db, upgrade_database
from tagservice.store.models import AuditEvent
from tests.helpers import csrf_from, path_of
from tests.paths import ROOT

SECRET_FILES = ("keys.json", "kek", "secret_key")
DATABASE = "tagservice.sqlite3"
EMAIL = "medic@example.nhs.uk"
PASSWORD = "a long enough passphrase 2026"


@pytest.fixture
def operator(tmp_path, monkeypatch):
    """An instance made with the CLI; `operator.cli(...)` runs `tagservice ...` against it.

    The commands run in this process (Click's runner) with the operator's
    environment: the same code paths as the console script, without paying
    for a Python start-up per command.
    """
    home = tmp_path / "instance"
    env = {"TAGSERVICE_HOME": str(home), "TAGSERVICE_ENV": "development"}
    for name in ("DATABASE_URL", "TAGSERVICE_KEK", "TAGSERVICE_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()

    def cli(*args, stdin=None, ok=True):
        new_process()
        result = runner.invoke(main, list(args), input=stdin)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    cli("init")
    added = cli(
        "clinician", "add", EMAIL, "--name", "Pat Medic", "--role", "paramedic",
        "--register", "HCPC", "--registration", "PA12345", "--org", "Example Ambulance Service",
        "--password-stdin", stdin=PASSWORD + "\n",
    ).stdout  # fmt: skip
    uri = next(line for line in added.splitlines() if line.startswith("otpauth://"))
    cli(
        "issue", str(ROOT / "tests/fixtures/summary-typical.json"), "--out", str(tmp_path / "t.txt")
    )
    return SimpleNamespace(
        home=home,
        env=env,
        cli=cli,
        totp=pyotp.parse_uri(uri),
        tag_url=(tmp_path / "t.txt").read_text().strip(),
        backup_dir=tmp_path / "backup",
    )


def new_process() -> None:
    """Forget the keys this process decrypted, as a separate command or restart would.

    keys.py caches the decrypted keys per keyring file; a restored file can look
    unchanged to that cache (same size, copied modification time, a reused inode),
    and the test must prove the restored files work, not the memory of the old ones.
    """
    keys._cache.clear()


def backup(home: Path, to: Path, method: str) -> None:
    """docs/operations.md, "Backups": an online copy of the database, then the secrets."""
    to.mkdir(mode=0o700)
    if method == "sqlite3-api":
        source = sqlite3.connect(f"file:{home / DATABASE}?mode=ro", uri=True)
        target = sqlite3.connect(to / DATABASE)
        with target:
            source.backup(target)
        source.close()
        target.close()
    else:
        subprocess.run(
            ["sqlite3", str(home / DATABASE), f".backup '{to / DATABASE}'"],
            check=True,
            timeout=60,
        )
    for name in SECRET_FILES:
        shutil.copy2(home / name, to / name)
        os.chmod(to / name, 0o600)


def restore(backup_dir: Path, home: Path, files=(DATABASE, *SECRET_FILES)) -> None:
    """docs/operations.md, "Restoring": a fresh folder, the files back, owner-only."""
    home.mkdir(mode=0o700)
    for name in files:
        shutil.copy2(backup_dir / name, home / name)
        os.chmod(home / name, 0o600)


def sign_in_and_unlock(env: dict, totp: pyotp.TOTP, tag_url: str):
    """The clinician's whole path through the restored service, as a browser would go."""
    new_process()
    app = create_app({"settings": load_settings(env)})
    try:
        client = app.test_client()
        page = client.get("/signin")
        signed_in = client.post(
            "/signin",
            data={
                "csrf_token": csrf_from(page.text),
                "email": EMAIL,
                "password": PASSWORD,
                "code": totp.now(),
            },
        )
        assert signed_in.status_code == 302, signed_in.text
        reason = client.get(path_of(tag_url))
        assert reason.status_code == 200, reason.text
        return client.post(
            "/unlock",
            data={
                "csrf_token": csrf_from(reason.text),
                "tag": path_of(tag_url)[3:],
                "reason": "999",
            },
        )
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


METHODS = [
    "sqlite3-api",
    pytest.param(
        "sqlite3-cli",
        marks=pytest.mark.skipif(not shutil.which("sqlite3"), reason="no sqlite3 command"),
    ),
]


def test_a_restored_instance_unlocks_a_card_printed_before_the_loss(operator):
    # Given a backup and the audit head recorded outside the instance
    head_id, head_hash, _at = operator.cli("audit", "head").stdout.split()
    backup(operator.home, operator.backup_dir, "sqlite3-api")
    # When the whole instance folder is lost and restored from the backup
    shutil.rmtree(operator.home)
    restore(operator.backup_dir, operator.home)
    # Then the deployment checks pass (audit chain included) and the anchor holds
    doctor = operator.cli("doctor")
    assert "FAIL" not in doctor.stdout and "Audit chain intact" in doctor.stdout, doctor.stdout
    assert "Anchor holds" in operator.cli("audit", "check-head", head_id, head_hash).stdout
    # And the clinician signs in (password + TOTP) and opens the card
    response = sign_in_and_unlock(operator.env, operator.totp, operator.tag_url)
    assert response.status_code == 200, response.text
    assert "Jane Smith" in response.text and "ANAPHYLAXIS: Penicillin" in response.text
    assert "not in the service's register" not in response.text


def test_a_backup_without_the_key_encryption_key_cannot_open_anything(operator):
    backup(operator.home, operator.backup_dir, "sqlite3-api")
    shutil.rmtree(operator.home)
    restore(operator.backup_dir, operator.home, files=(DATABASE, "keys.json", "secret_key"))
    doctor = operator.cli("doctor", ok=False)
    assert doctor.exit_code == 1
    assert "kek is missing" in doctor.stdout and "restore it from backup" in doctor.stdout
    # `init` makes a new KEK, which cannot open the old keys: it refuses, and the
    # cards stay unreadable until the real KEK is back.
    assert operator.cli("init", ok=False).exit_code == 2
    decode = operator.cli("decode", operator.tag_url, ok=False)
    assert decode.exit_code != 0 and "Jane" not in decode.output


@pytest.mark.parametrize("method", METHODS)
def test_an_online_backup_holds_every_committed_event(tmp_path, method):
    # Given the service running, holding the database open with fresh writes in the WAL
    settings = load_settings({"TAGSERVICE_HOME": str(tmp_path / "instance")})
    keys.init_instance(settings)
    app = create_app({"settings": settings})
    upgrade_database(app)
    try:
        with app.app_context():
            for _ in range(20):
                record_event("key.rotated", outcome="success", kid="abcd1234")
            # When the operator backs up while it is still running
            backup(settings.home, tmp_path / "backup", method)
            live = db.session.scalar(select(func.count()).select_from(AuditEvent))
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    # Then the copy has every event the service had committed, and is a sound database
    copy = sqlite3.connect(tmp_path / "backup" / DATABASE)
    try:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert copy.execute("SELECT count(*) FROM audit_event").fetchone()[0] == live == 20
    finally:
        copy.close()
