"""Back up PostgreSQL with pg_dump, lose the database, restore it with pg_restore.

docs/operations.md sections 8 and 9 on PostgreSQL: a custom-format dump, the
three secret files kept apart, the audit head anchored outside the database
by `tagservice audit anchor` on a schedule. After the loss and the restore
into a new database, the card printed before the loss unlocks, the chain
verifies, and the anchor log shows the trail went back in time to the dump.
"""

from __future__ import annotations

import json
import shutil

import pytest

from tests.robustness import served, services

_skip = services.own_postgres_missing()
pytestmark = [pytest.mark.postgres, pytest.mark.skipif(_skip is not None, reason=_skip or "")]

SECRET_FILES = ("keys.json", "kek", "secret_key")


def unlock(inst: served.Instance, token: str) -> int:
    status, body = served.call(
        inst.base + "/api/v1/unlock", {"tag": inst.tag, "reason": "999"}, token
    )
    assert status == 200 and body["summary"]["identity"]["name"] == "Jane Smith", status
    return body["audit_id"]


def test_a_pg_restore_unlocks_a_card_printed_before_the_loss_and_the_anchor_shows_the_gap(
    tmp_path, postgres
):
    # Given an instance on PostgreSQL with a card printed and opened, and its head anchored
    postgres.sql('CREATE DATABASE "before_loss"')
    inst = served.make_instance(
        tmp_path / "instance",
        TAGSERVICE_DATABASE_URL=postgres.url("before_loss"),
        TAGSERVICE_RATELIMIT_ENABLED="false",
    )
    anchors = tmp_path / "elsewhere" / "anchors.log"
    anchors.parent.mkdir()
    backup = tmp_path / "backup"
    backup.mkdir()
    with served.gunicorn(inst, tmp_path / "before.log"):
        unlock(inst, inst.token())
        inst.cli("audit", "anchor", str(anchors))
        # ... backed up while serving: a custom-format dump, the secret files copied apart
        postgres.run(
            "pg_dump", "--format=custom", "-d", postgres.dsn("before_loss"),
            "-f", str(backup / "tagservice.dump"),
        )  # fmt: skip
        for name in SECRET_FILES:
            shutil.copy(inst.home / name, backup / name)
        # ... and an unlock after the backup, anchored on the next scheduled run
        unlock(inst, inst.token())
        inst.cli("audit", "anchor", str(anchors))
    first, last = anchors.read_text().splitlines()

    # When the database and the instance folder are lost
    postgres.sql('DROP DATABASE "before_loss" WITH (FORCE)')
    shutil.rmtree(inst.home)
    # ... and restored as operations.md section 9 says: a fresh folder, a new database
    home = tmp_path / "restored"
    home.mkdir(mode=0o700)
    for name in SECRET_FILES:
        shutil.copy(backup / name, home / name)
    postgres.sql('CREATE DATABASE "restored"')
    postgres.run(
        "pg_restore", "--no-owner", "-d", postgres.dsn("restored"), str(backup / "tagservice.dump")
    )  # fmt: skip
    port = served.free_port()
    restored = served.Instance(
        home, port,
        inst.env | {
            "TAGSERVICE_HOME": str(home),
            "TAGSERVICE_BASE_URL": f"http://127.0.0.1:{port}",
            "TAGSERVICE_DATABASE_URL": postgres.url("restored"),
        },
        inst.otpauth, inst.tag,
    )  # fmt: skip

    # Then doctor passes and the chain verifies ...
    doctor = restored.cli("doctor", check=False)
    assert "FAIL" not in doctor.stdout and "Audit chain intact" in doctor.stdout, doctor.stdout
    # ... the head anchored before the dump holds, but the scheduled check and the next
    # anchor run catch the trail that went back in time (and append nothing)
    held = restored.cli("audit", "check-head", *_id_and_hash(first))
    assert "Anchor holds" in held.stdout
    caught = restored.cli("audit", "check-head", "--from", str(anchors), check=False)
    assert caught.returncode == 1 and "shorter than when it was anchored" in caught.stderr
    again = restored.cli("audit", "anchor", str(anchors), check=False)
    assert again.returncode == 1 and anchors.read_text().splitlines() == [first, last]
    # ... and the clinician's API token from before the backup opens the card printed
    # before the loss (signing in again works as in tests/unit/store/test_backup_restore.py)
    with served.gunicorn(restored, tmp_path / "restored.log"):
        audit_id = unlock(restored, inst.token())
    assert audit_id > json.loads(first)["id"]


def _id_and_hash(line: str) -> tuple[str, str]:
    head = json.loads(line)
    return str(head["id"]), head["hash"]
