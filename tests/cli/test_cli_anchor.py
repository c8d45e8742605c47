"""`tagservice audit head | check-head`: anchoring the chain where the database cannot reach.

The chain alone cannot catch someone with write access to the database who
edits an event and recomputes every hash after it. A head recorded elsewhere
beforehand does.
"""

from __future__ import annotations

import json

from sqlalchemy import select, text

from tagservice.audit import HASHED_FIELDS, EventKind, event_hash, record_event, verify_chain
from tagservice.cli.audit import audit
from tagservice.store.db import db
from tagservice.store.models import GENESIS_HASH, AuditEvent

TAG = "0123456789abcdef"


def _record(app, n: int = 3) -> None:
    with app.app_context():
        for _ in range(n):
            record_event(EventKind.TAG_UNLOCKED, outcome="success", tag_id=TAG, reason="999")


def _head(runner) -> tuple[int, str]:
    result = runner.invoke(audit, ["head"])
    assert result.exit_code == 0, result.output
    event_id, event_hash_, _at = result.output.split()
    return int(event_id), event_hash_


def _rewrite_history(app) -> None:
    """What an insider with database write access could do: edit event 1, rehash the rest."""
    with app.app_context():
        db.session.execute(text("UPDATE audit_event SET reason = 'ae' WHERE id = 1"))
        prev = GENESIS_HASH
        for event in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)):
            event.prev_hash = prev
            event.hash = prev = event_hash({c: getattr(event, c) for c in HASHED_FIELDS})
        db.session.execute(text("UPDATE audit_head SET last_hash = :h"), {"h": prev})
        db.session.commit()


def test_head_prints_the_last_event_id_hash_and_time(app, runner):
    _record(app)
    result = runner.invoke(audit, ["head"])
    event_id, head_hash, at = result.output.split()
    with app.app_context():
        last = db.session.get(AuditEvent, 3)
        assert (int(event_id), head_hash) == (3, last.hash)
        assert at.startswith(last.created_at.date().isoformat())


def test_head_as_json(app, runner):
    _record(app, 1)
    data = json.loads(runner.invoke(audit, ["head", "--json"]).output)
    assert data["id"] == 1 and len(data["hash"]) == 64 and data["at"]


def test_head_of_an_empty_trail_is_the_genesis_hash(runner):
    assert runner.invoke(audit, ["head"]).output == f"0 {GENESIS_HASH} -\n"


def test_head_refuses_to_print_an_anchor_for_a_broken_chain(app, runner):
    _record(app)
    with app.app_context():
        db.session.execute(text("UPDATE audit_event SET reason = 'ae' WHERE id = 2"))
        db.session.commit()
    result = runner.invoke(audit, ["head"])
    assert result.exit_code == 1 and "broken at event 2" in result.output


def test_an_anchor_holds_while_the_trail_only_grows(app, runner):
    _record(app)
    event_id, head_hash = _head(runner)
    _record(app, 2)
    result = runner.invoke(audit, ["check-head", str(event_id), head_hash])
    assert result.exit_code == 0 and "Anchor holds" in result.output


def test_a_rewritten_history_passes_verify_but_fails_the_anchor(app, runner):
    # Given a head recorded outside the database
    _record(app)
    event_id, head_hash = _head(runner)
    # When someone edits event 1 and recomputes every later hash
    _rewrite_history(app)
    # Then the chain verifies on its own ...
    with app.app_context():
        assert verify_chain().ok
    # ... but the recorded head no longer matches
    result = runner.invoke(audit, ["check-head", str(event_id), head_hash])
    assert result.exit_code == 1 and "rewritten" in result.output


def test_a_trail_shorter_than_its_anchor_fails(app, runner):
    _record(app)
    result = runner.invoke(audit, ["check-head", "7", "0" * 64])
    assert result.exit_code == 1 and "shorter than when it was anchored" in result.output


# ----------------------------------------------------- `audit anchor LOG`, on a schedule


def _delete_events_after(app, event_id: int) -> None:
    """What restoring an older backup does to the trail: the later events are gone."""
    with app.app_context():
        db.session.execute(text("DELETE FROM audit_event WHERE id > :i"), {"i": event_id})
        last = db.session.get(AuditEvent, event_id)
        db.session.execute(
            text("UPDATE audit_head SET last_id = :i, last_hash = :h"),
            {"i": event_id, "h": last.hash},
        )
        db.session.commit()


def test_anchor_appends_one_json_head_per_run_to_the_log(app, runner, tmp_path):
    log = tmp_path / "anchors.log"
    _record(app, 2)
    assert runner.invoke(audit, ["anchor", str(log)]).exit_code == 0
    _record(app, 1)
    assert runner.invoke(audit, ["anchor", str(log)]).exit_code == 0
    heads = [json.loads(line) for line in log.read_text().splitlines()]
    with app.app_context():
        assert [(h["id"], h["hash"]) for h in heads] == [
            (2, db.session.get(AuditEvent, 2).hash),
            (3, db.session.get(AuditEvent, 3).hash),
        ]
    assert all(h["at"] and h["anchored_at"] for h in heads)


def test_the_next_scheduled_anchor_catches_a_trail_that_went_back_in_time(app, runner, tmp_path):
    # Given heads anchored at 2 and then at 4 events
    log = tmp_path / "anchors.log"
    _record(app, 2)
    runner.invoke(audit, ["anchor", str(log)])
    _record(app, 2)
    runner.invoke(audit, ["anchor", str(log)])
    # When the database is restored from a backup taken at 2 events
    _delete_events_after(app, 2)
    with app.app_context():
        assert verify_chain().ok  # the shorter chain is intact on its own
    # Then the next anchor run fails and appends nothing, and check-head --from says why
    result = runner.invoke(audit, ["anchor", str(log)])
    assert result.exit_code == 1 and "shorter than when it was anchored" in result.output
    assert len(log.read_text().splitlines()) == 2
    result = runner.invoke(audit, ["check-head", "--from", str(log)])
    assert result.exit_code == 1 and "event 4 is not in the trail (2 events)" in result.output


def test_the_next_scheduled_anchor_catches_a_rewritten_history(app, runner, tmp_path):
    log = tmp_path / "anchors.log"
    _record(app)
    runner.invoke(audit, ["anchor", str(log)])
    _rewrite_history(app)
    result = runner.invoke(audit, ["anchor", str(log)])
    assert result.exit_code == 1 and "rewritten" in result.output


def test_check_head_from_a_log_holds_while_the_trail_only_grows(app, runner, tmp_path):
    log = tmp_path / "anchors.log"
    _record(app)
    runner.invoke(audit, ["anchor", str(log)])
    _record(app, 3)
    result = runner.invoke(audit, ["check-head", "--from", str(log)])
    assert result.exit_code == 0 and "Anchor holds: event 3" in result.output


def test_an_anchor_log_whose_last_line_is_not_a_head_is_refused(app, runner, tmp_path):
    log = tmp_path / "anchors.log"
    log.write_text("not json\n")
    _record(app)
    result = runner.invoke(audit, ["anchor", str(log)])
    assert result.exit_code == 1 and "not a head" in result.output
    assert log.read_text() == "not json\n"


def test_check_head_needs_an_id_and_hash_or_a_log(runner):
    result = runner.invoke(audit, ["check-head"])
    assert result.exit_code == 2 and "--from LOG" in result.output
