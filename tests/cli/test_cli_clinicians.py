"""`tagservice clinician ...`: what an admin types, sees, and gets back on a mistake."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from sqlalchemy import select

from tagservice.accounts import clinicians
from tagservice.cli.clinicians import clinician_group
from tagservice.keys import generate_kek, write_private
from tagservice.store.db import db
from tagservice.store.models import AuditEvent, Clinician

FAST_ARGON2 = {"time_cost": 1, "memory_cost": 8, "parallelism": 1}
ADD = [
    "add", "Ann.Medic@example.nhs.uk", "--name", "Ann Medic", "--role", "paramedic",
    "--register", "HCPC", "--registration", "PA12345", "--org", "Example Ambulance Service",
]  # fmt: skip


@pytest.fixture(autouse=True)
def fast_kdf(app, settings):
    app.config["ARGON2_PARAMS"] = FAST_ARGON2
    write_private(settings.kek_file, generate_kek())


@pytest.fixture
def cli(runner):
    def invoke(*args, input=None):
        return runner.invoke(clinician_group, list(args), input=input)

    return invoke


def otpauth(output: str) -> str:
    return re.search(r"otpauth://totp/\S+", output).group(0)


def stored(app, email="ann.medic@example.nhs.uk") -> Clinician:
    with app.app_context():
        return db.session.scalar(select(Clinician).where(Clinician.email == email))


def test_add_prints_a_generated_password_once_and_the_totp_uri(app, cli):
    result = cli(*ADD)
    assert result.exit_code == 0, result.output
    password = re.search(r"password \(shown once\): (\S+)", result.stdout).group(1)
    uri = otpauth(result.stdout)
    assert uri.startswith("otpauth://totp/tagservice:ann.medic%40example.nhs.uk?secret=")
    assert "added ann.medic@example.nhs.uk (paramedic, HCPC PA12345)" in result.stdout
    # the printed credentials work
    totp = pyotp.TOTP(parse_qs(urlsplit(uri).query)["secret"][0])
    with app.app_context():
        assert clinicians.authenticate("ann.medic@example.nhs.uk", password, totp.now(), "t")


def test_add_reads_the_password_from_stdin_and_does_not_echo_it(app, cli):
    result = cli(*ADD, "--password-stdin", input="a long enough passphrase\n")
    assert result.exit_code == 0, result.output
    assert "a long enough passphrase" not in result.output
    assert "password (shown once)" not in result.output
    assert stored(app).password_hash.startswith("$argon2id$")


def test_add_with_qr_draws_the_enrolment_code_on_the_terminal(cli):
    result = cli(*ADD, "--qr")
    assert result.exit_code == 0, result.output
    assert "█" in result.stdout or "▀" in result.stdout


def test_add_records_the_expiry_date(app, cli):
    assert cli(*ADD, "--expires", "2027-03-31").exit_code == 0
    assert stored(app).registration_expires.isoformat() == "2027-03-31"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (["--registration", "PA12"], "PA followed by 5 or 6 digits"),
        (["--register", "GMC", "--registration", "1234567"], "must be on the HCPC register"),
        (["--expires", "31/03/2027"], "--expires must be a date like 2027-03-31"),
        (["--role", "surgeon"], "'surgeon' is not one of"),
    ],
)
def test_add_mistakes_are_one_line_on_stderr_with_exit_code_2(cli, change, message):
    result = cli(*ADD, *change)
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output and result.stdout == ""


def test_a_missing_option_is_one_line_too(cli):
    result = cli("add", "x@example.org", "--name", "X")
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Missing option" in result.stderr


def test_adding_the_same_email_twice_fails_cleanly(cli):
    cli(*ADD)
    result = cli(*ADD)
    assert result.exit_code == 2
    assert "already exists" in result.stderr


def test_a_short_stdin_password_is_refused(cli):
    result = cli(*ADD, "--password-stdin", input="short\n")
    assert result.exit_code == 2
    assert "at least 12 characters" in result.stderr


def test_list_shows_registration_status_and_who_cannot_unlock(cli):
    cli(*ADD)
    cli("add", "old@example.org", "--name", "Old", "--role", "doctor", "--register", "GMC",
        "--registration", "1234567", "--org", "Trust", "--expires", "2020-01-01")  # fmt: skip
    result = cli("list")
    lines = result.stdout.splitlines()
    assert result.exit_code == 0
    assert lines[0].startswith("ann.medic@example.nhs.uk  paramedic  HCPC PA12345")
    assert lines[1].endswith("active  (cannot unlock)")
    assert "Ann Medic" not in result.stdout  # no names in a listing that may be pasted


def test_suspend_and_reinstate(app, cli):
    cli(*ADD)
    assert cli("suspend", "ANN.MEDIC@example.nhs.uk").exit_code == 0
    assert stored(app).status == "suspended"
    assert cli("reinstate", "ann.medic@example.nhs.uk").exit_code == 0
    assert stored(app).status == "active"
    with app.app_context():
        kinds = list(db.session.scalars(select(AuditEvent.kind).order_by(AuditEvent.id)))
        actors = set(db.session.scalars(select(AuditEvent.actor_type)))
    assert kinds == ["clinician.added", "clinician.suspended", "clinician.reinstated"]
    assert actors == {"cli"}


def test_reset_totp_prints_a_new_uri(cli):
    first = otpauth(cli(*ADD).stdout)
    result = cli("reset-totp", "ann.medic@example.nhs.uk", "--qr")
    assert result.exit_code == 0
    assert otpauth(result.stdout) != first


@pytest.mark.parametrize("command", ["suspend", "reinstate", "reset-totp"])
def test_an_unknown_email_is_a_one_line_error(cli, command):
    result = cli(command, "ghost@example.org")
    assert result.exit_code == 2
    assert result.stderr.strip() == "Error: no clinician with email 'ghost@example.org'"
