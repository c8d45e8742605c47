"""`tagservice keys change-kek` (kek_change.py): everything re-sealed, or nothing (issue 12).

Given an instance with keys, a clinician's TOTP secret and a patient's TOTP
secret, draft, card and print choices, all sealed under the KEK.
"""

from __future__ import annotations

import pyotp
import pytest
from click.testing import CliRunner
from sqlalchemy import inspect

from tagservice import clock, crypto, kek_change, keys
from tagservice.accounts import clinicians, credentials, patients
from tagservice.cli import main
from tagservice.config import load_settings
from tagservice.store import models
from tagservice.store.db import db
from tagservice.store.models import Clinician, Patient
from tests.helpers import FAST_ARGON2, fixture

PASSWORD = "correct horse battery staple"


@pytest.fixture
def instance(app, settings):
    """The app with every kind of sealed value in it; yields inside an app context."""
    keys.init_instance(settings)
    app.config["ARGON2_PARAMS"] = FAST_ARGON2
    with app.app_context():
        clinicians.add_clinician("medic@example.nhs.uk", "Pat Medic", "paramedic", "HCPC",
                                 "PA12345", "Example", password=PASSWORD)  # fmt: skip
        patient = patients.sign_up("pat@example.com", PASSWORD, PASSWORD, "test")
        secret = patients.new_totp_secret()
        patients.enable_totp(patient, secret, pyotp.TOTP(secret).now(), None)
        patients.save_draft(patient, fixture("summary-typical.json"))
        patients.save_card_options(patient, False, ["ANAPHYLAXIS: Penicillin"])
        from tagservice.accounts import patient_tags

        patient_tags.issue(patient, fixture("summary-typical.json"), refuse_superseded=False,
                           client=None)  # fmt: skip
        yield app


def everything_opens(settings) -> None:
    """Every sealed value opens with the KEK the instance now names."""
    db.session.expire_all()
    keys.load_keyring(settings).keyset(keys.load_kek(settings))
    clinician = db.session.scalars(db.select(Clinician)).one()
    credentials._totp(clinician).now()
    patient = db.session.scalars(db.select(Patient)).one()
    assert patients.load_draft(patient)["identity"]["name"] == "Jane Smith"
    assert patients.load_card(patient)["first_name"] == "Jane"
    assert patients.load_print_critical(patient) == ["ANAPHYLAXIS: Penicillin"]
    assert patients.match_totp(patient, "000000", clock.utcnow()) is None  # it decrypts


def test_every_sealed_column_is_re_sealed_by_change_kek():
    sealed = {(s.model.__name__, s.column) for s in kek_change.SEALED}
    for mapper in db.Model.registry.mappers:
        for column in inspect(mapper.class_).columns:
            if column.key.endswith("_enc"):
                assert (mapper.class_.__name__, column.key) in sealed, column.key
    assert models  # the registry is the models module's


def test_change_kek_re_seals_keys_totp_secrets_and_patient_data(instance, settings):
    old = (settings.kek_file).read_text()
    changed = kek_change.change_kek(settings)
    assert (settings.kek_file).read_text() != old
    assert changed.rows == 5 and changed.keys == 2  # 1 + 4 values; issuer and reader keys
    everything_opens(settings)
    with pytest.raises(keys.WrongKek):
        keys.load_keyring(settings).keyset(keys.parse_kek(old))
    leftovers = {p.name for p in settings.home.iterdir()} & {
        "kek-change.json", "keys.json.new", "kek.new", "keys.json.old-kek", "kek.old-kek"}
    assert leftovers == set()
    event = db.session.scalars(db.select(models.AuditEvent).order_by(models.AuditEvent.id.desc())
                               ).first()  # fmt: skip
    assert event.kind == "key.kek_changed"


@pytest.mark.parametrize("where", ["rows", "switch"])
def test_a_change_that_fails_part_way_leaves_the_old_kek_working(instance, settings, where):
    old_kek, old_ring = settings.kek_file.read_text(), settings.keyring_file.read_text()
    with pytest.raises((RuntimeError, OSError), match="injected"):
        kek_change.change_kek(settings, fail_at=where)
    assert settings.kek_file.read_text() == old_kek
    assert settings.keyring_file.read_text() == old_ring
    everything_opens(settings)
    assert not (settings.home / "kek-change.json").exists()


def _killed_before_commit(settings, monkeypatch) -> None:
    """change_kek as if SIGKILL hit between switching the files and committing."""

    def dies():
        raise KeyboardInterrupt  # stands in for the kill

    monkeypatch.setattr(db.session, "commit", dies)
    monkeypatch.setattr(kek_change, "_undo", lambda *_: None)  # a dead process undoes nothing
    with pytest.raises(KeyboardInterrupt):
        kek_change.change_kek(settings)
    monkeypatch.undo()


def test_a_change_killed_before_its_commit_is_undone_by_the_next_run(
    instance, settings, monkeypatch
):
    old_kek = settings.kek_file.read_text()
    _killed_before_commit(settings, monkeypatch)
    assert settings.kek_file.read_text() != old_kek  # half-way: new files, old database
    # When change-kek runs again, Then it undoes the change and the old KEK works
    assert "undone" in kek_change.recover(settings)
    assert settings.kek_file.read_text() == old_kek
    everything_opens(settings)


def test_a_change_killed_after_its_commit_is_finished_by_the_next_run(
    instance, settings, monkeypatch
):
    monkeypatch.setattr(kek_change, "_remove", lambda *_: None)  # killed before clean-up
    kek_change.change_kek(settings)
    monkeypatch.undo()
    assert (settings.home / "kek-change.json").exists()
    assert "finished" in kek_change.recover(settings)
    assert not (settings.home / "kek.old-kek").exists()
    everything_opens(settings)


def test_the_command_prints_what_the_operator_must_do_next(tmp_path, monkeypatch):
    home = tmp_path / "instance"
    monkeypatch.setenv("TAGSERVICE_HOME", str(home))
    monkeypatch.setenv("TAGSERVICE_ENV", "development")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("TAGSERVICE_KEK", raising=False)
    runner = CliRunner()
    assert runner.invoke(main, ["init"]).exit_code == 0
    result = runner.invoke(main, ["keys", "change-kek"])
    assert result.exit_code == 0, result.output
    assert f"The new KEK is in {home / 'kek'}" in result.output
    assert runner.invoke(main, ["keys", "list"]).exit_code == 0


def test_with_tagservice_kek_the_new_key_is_written_for_the_operator_to_set(tmp_path, monkeypatch):
    home = tmp_path / "instance"
    kek = keys.generate_kek()
    for name, value in {"TAGSERVICE_HOME": str(home), "TAGSERVICE_ENV": "development",
                        "TAGSERVICE_KEK": kek}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    runner = CliRunner()
    assert runner.invoke(main, ["init"]).exit_code == 0
    result = runner.invoke(main, ["keys", "change-kek"])
    assert result.exit_code == 0, result.output
    assert f"Set TAGSERVICE_KEK to the contents of {home / 'kek.next'}" in result.output
    new = (home / "kek.next").read_text().strip()
    settings = load_settings({"TAGSERVICE_HOME": str(home), "TAGSERVICE_KEK": new})
    keyset = keys.load_keyring(settings).keyset(keys.parse_kek(new))
    assert isinstance(keyset, crypto.KeySet)
    stale = runner.invoke(main, ["keys", "list"])  # the old TAGSERVICE_KEK is refused
    assert stale.exit_code == 2 and "TAGSERVICE_KEK holds the wrong" in stale.output
