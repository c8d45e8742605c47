"""The command line for tags and keys, run as a user would (fresh instance in a temp dir)."""

from __future__ import annotations

import copy
import json
import re
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from tagservice import crypto, keys
from tagservice.cli import main
from tagservice.config import load_settings
from tests.paths import FIXTURES, SHARED_IPS


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """Invoke `tagservice …` against an initialised instance; returns (result)."""
    home = tmp_path / "instance"
    env = {"TAGSERVICE_HOME": str(home), "TAGSERVICE_ENV": "development"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    runner = CliRunner()

    def run(*args, input=None):
        return runner.invoke(main, list(args), input=input, catch_exceptions=False)

    result = run("init")
    assert result.exit_code == 0, result.output
    run.home = home
    run.settings = load_settings(env)
    return run


def test_init_makes_owner_only_secrets_and_is_idempotent(cli):
    for name in ("secret_key", "kek", "keys.json"):
        assert stat.S_IMODE((cli.home / name).stat().st_mode) == 0o600
    again = cli("init")
    assert again.exit_code == 0 and "created" not in again.output


def test_issue_writes_a_tag_url_that_decodes_to_the_summary(cli, tmp_path):
    out = tmp_path / "tag.txt"
    result = cli("issue", str(FIXTURES / "summary-typical.json"), "--out", str(out))
    assert result.exit_code == 0, result.output
    url = out.read_text().strip()
    assert url.startswith("HTTP://127.0.0.1:8000/T/") and url == url.upper()
    decoded = cli("decode", url)
    assert decoded.exit_code == 0
    assert json.loads(decoded.output)["identity"]["name"] == "Jane Smith"
    trail = cli("audit", "verify")
    assert trail.exit_code == 0 and "intact" in trail.output


def test_issue_png_holds_a_qr_code_of_the_tag_url(cli, tmp_path):
    import zxingcpp

    png, txt = tmp_path / "tag.png", tmp_path / "tag.txt"
    assert cli("issue", str(FIXTURES / "summary-typical.json"), "--out", str(png)).exit_code == 0
    [barcode] = zxingcpp.read_barcodes(Image.open(png))
    opened = crypto.open_tag(barcode.text, keys.load_keyset(cli.settings), datetime.now(UTC))
    assert opened.summary["identity"]["name"] == "Jane Smith"
    assert not txt.exists()


@pytest.mark.parametrize("bundle", sorted(SHARED_IPS.glob("*.json")), ids=lambda p: p.stem)
def test_issue_accepts_a_fhir_ips_bundle(cli, tmp_path, bundle):
    out = tmp_path / "tag.txt"
    result = cli("issue", str(bundle), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert cli("decode", out.read_text().strip()).exit_code == 0


@pytest.mark.parametrize(
    "content,expected",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must hold a JSON object"),
        ('{"identity": {"name": "X"}}', "date_of_birth"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_no_traceback(cli, tmp_path, content, expected):
    path = tmp_path / "s.json"
    path.write_text(content)
    result = CliRunner().invoke(main, ["issue", str(path), "--out", str(tmp_path / "t.txt")])
    assert result.exit_code == 2
    assert expected in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_over_capacity_summary_is_refused_naming_fields_and_never_truncated(cli, tmp_path):
    heavy = json.loads((FIXTURES / "summary-heavy.json").read_text())
    big = copy.deepcopy(heavy)
    # 30 medicines with distinct made-up names: nothing for deflate to share.
    big["medications"] = [
        {
            "name": f"Trial compound {n} lot {n * 7919 % 10007:05d} site {n * 104729 % 99991:05d}",
            "dose": f"{n + 1}.5 mg",
            "frequency": "every 6 hours",
        }
        for n in range(30)
    ]
    path = tmp_path / "big.json"
    path.write_text(json.dumps(big))
    out = tmp_path / "t.txt"
    result = CliRunner().invoke(main, ["issue", str(path), "--out", str(out)])
    assert result.exit_code == 2
    assert "bytes too long for the tag" in result.output
    assert re.search(r"(medications|contacts|alerts|allergies)\[\d+\]", result.output)
    assert not out.exists()
    meter = CliRunner().invoke(main, ["capacity", str(path)])
    assert meter.exit_code == 1 and "shorten" in meter.output


def test_capacity_reports_bytes_and_qr_version(cli):
    result = cli("capacity", str(FIXTURES / "summary-typical.json"))
    assert result.exit_code == 0
    assert "bytes" in result.output and "QR version" in result.output


def test_decode_of_a_damaged_tag_is_refused_and_audited(cli):
    result = CliRunner().invoke(main, ["decode", "HTTP://127.0.0.1:8000/T/AAAABBBB"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    export = cli("audit", "export")
    assert "tag.rejected" in export.output


def test_keys_rotate_list_retire_and_export(cli, tmp_path):
    out = tmp_path / "old.txt"
    cli("issue", str(FIXTURES / "summary-typical.json"), "--out", str(out))
    old_url = out.read_text().strip()
    old_issuer = keys.load_keyring(cli.settings).newest("issuer").kid
    assert cli("keys", "rotate", "--issuer").exit_code == 0
    listing = cli("keys", "list").output
    assert old_issuer in listing and "issues new tags" in listing
    assert cli("decode", old_url).exit_code == 0, "old tags still verify after rotation"
    assert cli("keys", "retire", old_issuer).exit_code == 0
    refused = CliRunner().invoke(main, ["decode", old_url])
    assert refused.exit_code == 2 and "retired" in refused.output
    jwks = json.loads(cli("keys", "export").output)
    assert {k["status"] for k in jwks["keys"]} == {"active", "retired"}


def test_demo_prints_sign_in_details_and_a_working_tag(cli):
    result = cli("demo", "--no-qr")
    assert result.exit_code == 0, result.output
    url = next(line.split()[-1] for line in result.output.splitlines() if "Demo tag" in line)
    assert cli("decode", url).exit_code == 0
    assert "otpauth://" in result.output
    again = cli("demo", "--no-qr")
    assert url in again.output, "the demo tag is reused, not reissued"


def test_demo_is_refused_in_production(cli, monkeypatch):
    monkeypatch.setenv("TAGSERVICE_ENV", "production")
    result = CliRunner().invoke(main, ["demo"])
    assert result.exit_code == 2 and "production" in result.output


def test_revoke_by_printed_tag_id_refuses_the_card_and_is_audited(cli, tmp_path):
    out = tmp_path / "tag.txt"
    cli("issue", str(FIXTURES / "summary-typical.json"), "--out", str(out))
    url = out.read_text().strip()
    tag_id = crypto.verify_tag(url, keys.load_keyset(cli.settings)).tag_id_hex
    printed = " ".join(tag_id[i : i + 4] for i in range(0, 16, 4)).upper()
    result = cli("revoke", printed, "--reason", "reported lost by phone")
    assert result.exit_code == 0, result.output
    assert "tag.revoked" in cli("audit", "export").output
    assert cli("audit", "verify").exit_code == 0
    unknown = CliRunner().invoke(main, ["revoke", "0" * 16, "--reason", "x"])
    assert unknown.exit_code == 2 and "not registered" in unknown.output


def _card_with_old_keys_then_rotate(cli, tmp_path, name="old.txt") -> tuple[str, str]:
    out = tmp_path / name
    cli("issue", str(FIXTURES / "summary-typical.json"), "--out", str(out))
    old_reader = keys.load_keyring(cli.settings).newest("reader").kid
    assert cli("keys", "rotate").exit_code == 0
    return out.read_text().strip(), old_reader


def test_keys_destroy_refuses_an_active_key(cli):
    active = keys.load_keyring(cli.settings).newest("reader").kid
    result = CliRunner().invoke(main, ["keys", "destroy", active, "--yes"])
    assert result.exit_code == 2 and "retire it first" in result.output
    assert keys.load_keyring(cli.settings).by_kid(active).private


def test_keys_destroy_waits_until_every_card_of_the_key_is_reissued_or_revoked(cli, tmp_path):
    # Given a card made with a reader key that is now retired
    url, old_reader = _card_with_old_keys_then_rotate(cli, tmp_path)
    assert cli("keys", "retire", old_reader).exit_code == 0
    # Then it cannot be destroyed while that card is neither reissued nor revoked
    refused = CliRunner().invoke(main, ["keys", "destroy", old_reader, "--yes"])
    assert refused.exit_code == 2 and "1 card(s)" in refused.output
    assert keys.load_keyring(cli.settings).by_kid(old_reader).private
    # When the card is revoked, it can
    tag_id = crypto.decode_payload(url)[10:18].hex()
    assert cli("revoke", tag_id, "--reason", "reissued at the clinic").exit_code == 0
    result = cli("keys", "destroy", old_reader, "--yes")
    assert result.exit_code == 0, result.output
    record = keys.load_keyring(cli.settings).by_kid(old_reader)
    assert (record.status, record.private) == ("destroyed", "")


def test_keys_destroy_asks_for_confirmation_and_stops_on_no(cli, tmp_path):
    _, old_reader = _card_with_old_keys_then_rotate(cli, tmp_path)
    assert cli("keys", "retire", old_reader).exit_code == 0
    before = cli.settings.keyring_file.read_bytes()
    declined = CliRunner().invoke(main, ["keys", "destroy", old_reader, "--force"], input="n\n")
    assert declined.exit_code == 1 and "Aborted" in declined.output
    assert cli.settings.keyring_file.read_bytes() == before
    assert "key.destroyed" not in cli("audit", "export").output
    accepted = cli("keys", "destroy", old_reader, "--force", input="y\n")
    assert accepted.exit_code == 0, accepted.output


def test_a_destroyed_key_keeps_its_public_key_and_its_cards_say_to_reissue(cli, tmp_path):
    # Given an issuer key destroyed by force while a card made with it is still out
    out = tmp_path / "old.txt"
    cli("issue", str(FIXTURES / "summary-typical.json"), "--out", str(out))
    old_issuer = keys.load_keyring(cli.settings).newest("issuer").kid
    assert cli("keys", "rotate", "--issuer").exit_code == 0
    assert cli("keys", "retire", old_issuer).exit_code == 0
    assert cli("keys", "destroy", old_issuer, "--yes", "--force").exit_code == 0
    # Then the ring keeps its id and public key, minus the sealed private key
    raw = json.loads(cli.settings.keyring_file.read_text())
    [record] = [r for r in raw["keys"] if r["kid"] == old_issuer]
    assert record["private"] == "" and record["public"] and record["destroyed"]
    jwks = {k["kid"]: k for k in json.loads(cli("keys", "export").output)["keys"]}
    assert jwks[old_issuer]["status"] == "destroyed" and jwks[old_issuer]["x"] == record["public"]
    assert "destroyed" in cli("keys", "list").output
    # And its card is refused with the reason that tells the holder what to do
    refused = CliRunner().invoke(main, ["decode", out.read_text().strip()])
    assert refused.exit_code == 2 and "destroyed" in refused.output and "reissued" in refused.output
    # And the destruction is in the audit trail, which still verifies
    export = cli("audit", "export").output
    [event] = [json.loads(line) for line in export.splitlines() if "key.destroyed" in line]
    assert json.loads(event["details"])["forced"] is True, event
    assert cli("audit", "verify").exit_code == 0
    again = CliRunner().invoke(main, ["keys", "destroy", old_issuer, "--yes"])
    assert again.exit_code == 2 and "already destroyed" in again.output


def write_big_record(tmp_path: Path) -> Path:
    """A FHIR record with 37 active conditions, an anticoagulant and an anaphylaxis allergy."""
    subject = {"reference": "urn:uuid:p"}
    resources = [
        {"resourceType": "AllergyIntolerance", "patient": subject, "code": {"text": "Penicillin"},
         "reaction": [{"manifestation": [{"text": "Anaphylactic shock"}]}]},
        {"resourceType": "MedicationStatement", "status": "active", "subject": subject,
         "medicationCodeableConcept": {"text": "Apixaban 5mg tablets"}},
        *({"resourceType": "Condition", "subject": subject,
           "code": {"text": f"Long-standing condition number {n} on the problem list"}}
          for n in range(37)),
    ]
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:p", "resource": {"resourceType": "Patient", "birthDate": "1950-01-01",
                                                "name": [{"text": "Test Patient"}]}},
        *({"resource": r} for r in resources)]}
    path = tmp_path / "big-record.json"
    path.write_text(json.dumps(bundle))
    return path


def test_issue_fits_a_large_fhir_record_and_prints_each_left_off_item_as_a_note(cli, tmp_path):
    out = tmp_path / "tag.txt"

    result = cli("issue", str(write_big_record(tmp_path)), "--out", str(out))

    assert result.exit_code == 0, result.output
    [note] = [line for line in result.output.splitlines() if "not on the card" in line]
    assert re.fullmatch(r"note: not on the card: \d+ conditions — Long-standing condition .*",
                        note)
    opened = json.loads(cli("decode", out.read_text().strip()).output)
    assert opened["allergies"][0]["substance"] == "Penicillin"
    assert {"code": "anticoagulant", "text": "Apixaban 5mg tablets"} in opened["alerts"]


def test_issue_strict_refuses_a_record_that_does_not_fit_whole(cli, tmp_path):
    out = tmp_path / "tag.txt"

    result = cli("issue", str(write_big_record(tmp_path)), "--out", str(out), "--strict")

    assert result.exit_code == 2
    assert "--strict: the record does not fit the card whole; not on the card:" in result.output
    assert not out.exists()
