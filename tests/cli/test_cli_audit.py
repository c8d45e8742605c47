"""`tagservice audit verify|export`: what an admin runs to prove and hand over the trail."""

from __future__ import annotations

import json
import stat

from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import text

from tagservice.audit import EventKind, event_hash, record_event
from tagservice.cli.audit import audit
from tagservice.store.db import db
from tagservice.store.models import GENESIS_HASH

TAG = "0123456789abcdef"


def _record(app, n: int = 3) -> None:
    with app.app_context():
        for _ in range(n):
            record_event(EventKind.TAG_UNLOCKED, outcome="success", tag_id=TAG, reason="999")


def _tamper(app, sql: str) -> None:
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(text(sql))


def test_verify_reports_an_intact_chain(app, runner):
    _record(app)
    result = runner.invoke(audit, ["verify"])
    assert result.exit_code == 0
    assert result.output == "Audit chain intact: 3 events\n"


def test_verify_an_empty_trail(runner):
    result = runner.invoke(audit, ["verify"])
    assert (result.exit_code, result.output) == (0, "Audit chain intact: 0 events\n")


def test_verify_fails_naming_an_edited_event(app, runner):
    _record(app)
    _tamper(app, "UPDATE audit_event SET reason = 'ae' WHERE id = 2")
    result = runner.invoke(audit, ["verify"])
    assert result.exit_code == 1
    assert "Audit chain broken at event 2" in result.output


def test_verify_fails_naming_a_deleted_event(app, runner):
    _record(app)
    _tamper(app, "DELETE FROM audit_event WHERE id = 2")
    result = runner.invoke(audit, ["verify"])
    assert result.exit_code == 1 and "event 2 is missing" in result.output


def test_verify_fails_when_the_head_was_edited(app, runner):
    _record(app)
    _tamper(app, "UPDATE audit_head SET last_id = 2")
    result = runner.invoke(audit, ["verify"])
    assert result.exit_code == 1 and "Audit head does not match" in result.output


def test_export_writes_json_lines_anyone_can_recheck(app, runner):
    # Given three events
    _record(app)
    # When the trail is exported
    result = runner.invoke(audit, ["export"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    # Then every line carries its hash, the links hold, and the export recorded itself last
    assert [line["id"] for line in lines] == [1, 2, 3, 4]
    assert lines[-1]["kind"] == "audit.exported" and lines[-1]["actor_type"] == "cli"
    prev = GENESIS_HASH
    for line in lines:
        assert line["prev_hash"] == prev and event_hash(line) == line["hash"]
        prev = line["hash"]


def test_export_fhir_writes_a_valid_bundle_to_a_private_file(app, runner, tmp_path):
    _record(app, 2)
    out = tmp_path / "audit.json"
    result = runner.invoke(audit, ["export", "--fhir", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    bundle = json.loads(out.read_text())
    Bundle.model_validate(bundle)
    assert bundle["type"] == "collection"
    resources = [entry["resource"] for entry in bundle["entry"]]
    assert [r["resourceType"] for r in resources] == ["AuditEvent"] * 3
    assert resources[0]["purposeOfEvent"][0]["coding"][0]["code"] == "ETREAT"


def test_an_export_is_itself_audited(app, runner, tmp_path):
    runner.invoke(audit, ["export", "--out", str(tmp_path / "a.jsonl")])
    result = runner.invoke(audit, ["verify"])
    assert result.output == "Audit chain intact: 1 events\n"
