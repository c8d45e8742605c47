"""The audit trail: a hash chain that shows any edit, and an append that cannot fork."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fhir.resources.R4B.auditevent import AuditEvent as FhirAuditEvent
from sqlalchemy import func, select, text

import tagservice
from tagservice import create_app
from tagservice.audit import (
    AuditWriteError,
    EventKind,
    VerifyResult,
    event_hash,
    event_to_dict,
    events_for_tag,
    record_event,
    to_fhir_audit_event,
    verify_chain,
)
from tagservice.store.db import begin_write, db
from tagservice.store.models import GENESIS_HASH, AuditEvent, AuditHead, Tag

TAG = "0123456789abcdef"
WHEN = datetime(2026, 3, 1, 3, 14, 15, 926535, tzinfo=UTC)


def _events(n: int) -> list[AuditEvent]:
    return [
        record_event(EventKind.TAG_SCANNED, outcome="success", tag_id=TAG, client="10.0.0.1", n=i)
        for i in range(n)
    ]


def _tamper(sql: str, **params) -> None:
    """Change rows behind the application's back, as an attacker with SQL access would."""
    with db.engine.begin() as conn:
        conn.execute(text(sql), params)


def _count() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent))


# -- appending ------------------------------------------------------------------


def test_the_first_event_links_to_the_genesis_hash(app_context):
    event = record_event(EventKind.KEY_CREATED, outcome="success", actor_type="cli", kid="ab12")
    assert (event.id, event.prev_hash) == (1, GENESIS_HASH)
    head = db.session.get(AuditHead, 1)
    assert (head.last_id, head.last_hash) == (1, event.hash)


def test_each_event_links_to_the_one_before(app_context):
    first, second, third = _events(3)
    assert second.prev_hash == first.hash and third.prev_hash == second.hash
    assert [first.id, second.id, third.id] == [1, 2, 3]


def test_the_hash_is_sha256_of_prev_hash_and_canonical_json(app_context):
    event = record_event(
        EventKind.TAG_UNLOCKED, outcome="success", tag_id=TAG, reason="999", now=WHEN, b=2, a="é"
    )
    fields = event_to_dict(event)
    del fields["hash"]
    assert fields["created_at"] == "2026-03-01T03:14:15.926535+00:00"
    assert fields["details"] == '{"a":"é","b":2}'
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    expected = hashlib.sha256((GENESIS_HASH + canonical).encode("utf-8")).hexdigest()
    assert event.hash == expected


def test_an_event_records_who_acted_with_their_registration(make_clinician):
    clinician = make_clinician(role="nurse", register="NMC", registration_number="12A3456E")
    event = record_event(
        EventKind.TAG_UNLOCKED, outcome="success", actor=clinician, tag_id=TAG, reason="ae"
    )
    db.session.expire_all()
    stored = db.session.get(AuditEvent, event.id)
    assert stored.actor_type == "clinician" and stored.actor_id == str(clinician.id)
    assert stored.registration == "NMC 12A3456E"
    assert (stored.role, stored.organisation) == ("nurse", "Example Ambulance Service")
    assert stored.created_at.tzinfo == UTC


def test_the_returned_event_is_a_snapshot_that_cannot_edit_the_trail(app_context):
    event = record_event(EventKind.TAG_SCANNED, outcome="success", tag_id=TAG)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.outcome = "denied"
    db.session.commit()
    assert db.session.get(AuditEvent, 1).outcome == "success" and verify_chain().ok


def test_an_event_without_an_actor_is_a_system_event(app_context):
    assert record_event(EventKind.KEY_ROTATED, outcome="success").actor_type == "system"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"kind": "tag.looked_at"}, ValueError),
        ({"outcome": "fine"}, ValueError),
        ({"actor_type": "robot"}, ValueError),
        ({"tag_id": "not-a-tag"}, ValueError),
        ({"summary": "allergic to penicillin"}, ValueError),
        ({"name": "Jo Bloggs"}, ValueError),
        ({"Password": "hunter2"}, ValueError),
        ({"when": datetime(2026, 1, 1, tzinfo=UTC)}, TypeError),
        ({"note": "x" * 5000}, ValueError),
    ],
)
def test_a_bad_event_is_refused_and_nothing_is_written(app_context, kwargs, error):
    args = {"kind": EventKind.TAG_SCANNED, "outcome": "success"} | kwargs
    with pytest.raises(error):
        record_event(args.pop("kind"), **args)
    assert _count() == 0 and verify_chain().ok


def test_long_reason_text_and_client_are_clipped_not_refused(app_context):
    event = record_event(
        EventKind.TAG_UNLOCKED, outcome="success", reason="other", reason_text="r" * 900,
        client="c" * 100,
    )  # fmt: skip
    assert len(event.reason_text) == 500 and len(event.client) == 64
    assert verify_chain().ok


def test_record_event_commits_so_a_fresh_session_sees_it(app):
    with app.app_context():
        record_event(EventKind.TAG_SCANNED, outcome="success", tag_id=TAG)
    with app.app_context():
        assert db.session.scalars(select(AuditEvent.kind)).all() == ["tag.scanned"]


def test_uncommitted_work_is_committed_before_the_event(make_clinician):
    # Given a change made without begin_write
    clinician = make_clinician()
    clinician.totp_last_counter = 3
    # When an event is recorded, the change is committed too
    record_event(EventKind.CLINICIAN_SIGNIN_FAILED, outcome="failed", actor=clinician)
    db.session.rollback()
    assert clinician.totp_last_counter == 3


def test_an_event_can_join_the_callers_write_transaction(app_context):
    begin_write()
    db.session.add(Tag(tag_id=TAG, issuer_kid="i", reader_kid="r", issued_at=WHEN))
    record_event(EventKind.TAG_ISSUED, outcome="success", tag_id=TAG, commit=False)
    db.session.rollback()
    # Both the tag and its event went: they were one transaction.
    assert db.session.get(Tag, TAG) is None and _count() == 0
    assert verify_chain().ok


def test_joining_a_transaction_needs_begin_write(app_context):
    with pytest.raises(RuntimeError, match="begin_write"):
        record_event(EventKind.TAG_ISSUED, outcome="success", commit=False)


def test_events_for_a_tag_come_newest_first(app_context):
    _events(3)
    record_event(EventKind.TAG_SCANNED, outcome="success", tag_id="fedcba9876543210")
    assert [e.id for e in events_for_tag(TAG)] == [3, 2, 1]


# -- verifying ------------------------------------------------------------------


def test_an_empty_trail_verifies(app_context):
    assert verify_chain() == VerifyResult(True, 0, None, "Audit chain intact: 0 events")


def test_an_untouched_chain_verifies(app_context):
    _events(5)
    result = verify_chain()
    assert (result.ok, result.count, result.first_broken_id) == (True, 5, None)
    assert result.message == "Audit chain intact: 5 events"


def test_editing_an_events_reason_breaks_the_chain_at_that_event(app_context):
    _events(5)
    _tamper("UPDATE audit_event SET reason = 'break-glass' WHERE id = 3")
    result = verify_chain()
    assert not result.ok and result.first_broken_id == 3
    assert result.message == "Audit chain broken at event 3: its contents do not match its hash"


def test_rehashing_an_edited_event_still_breaks_the_next_link(app_context):
    # Given an attacker who edits event 3 and recomputes its own hash
    events = _events(5)
    fields = event_to_dict(events[2]) | {"outcome": "denied"}
    forged = event_hash(fields)
    _tamper("UPDATE audit_event SET outcome = 'denied', hash = :h WHERE id = 3", h=forged)
    # Then event 4 no longer links to it
    result = verify_chain()
    assert result.first_broken_id == 4 and "does not link" in result.message


def test_deleting_an_event_breaks_the_chain(app_context):
    _events(5)
    _tamper("DELETE FROM audit_event WHERE id = 2")
    result = verify_chain()
    assert not result.ok and result.first_broken_id == 3
    assert "event 2 is missing" in result.message


def test_deleting_the_last_event_is_caught_by_the_head(app_context):
    _events(5)
    _tamper("DELETE FROM audit_event WHERE id = 5")
    result = verify_chain()
    assert not result.ok and result.first_broken_id == 5
    assert "event 5 is missing" in result.message


def test_swapping_two_events_breaks_the_chain(app_context):
    _events(4)
    _tamper("UPDATE audit_event SET id = -2 WHERE id = 2")
    _tamper("UPDATE audit_event SET id = 2 WHERE id = 3")
    _tamper("UPDATE audit_event SET id = 3 WHERE id = -2")
    result = verify_chain()
    assert not result.ok and result.first_broken_id == 2
    assert "does not link" in result.message


def test_editing_the_head_is_caught(app_context):
    _events(3)
    _tamper("UPDATE audit_head SET last_hash = :h", h="f" * 64)
    result = verify_chain()
    assert not result.ok and result.first_broken_id is None
    assert result.message == "Audit head does not match the last event (event 3)"


def test_an_event_slipped_in_after_the_head_is_caught(app_context):
    _events(2)
    _tamper("UPDATE audit_head SET last_id = 1")  # as if event 2 was appended behind its back
    assert not verify_chain().ok


def test_a_missing_head_is_caught(app_context):
    _events(1)
    _tamper("DELETE FROM audit_head")
    assert verify_chain().message == "Audit head is missing or duplicated"


def test_without_a_head_nothing_can_be_recorded(app_context):
    _tamper("DELETE FROM audit_head")
    with pytest.raises(AuditWriteError, match="no head row"):
        record_event(EventKind.TAG_SCANNED, outcome="success")


# -- when the database refuses ----------------------------------------------------


def _refuse_audit_inserts() -> None:
    if db.engine.dialect.name == "sqlite":
        _tamper(
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_event "
            "BEGIN SELECT RAISE(ABORT, 'disk full (simulated)'); END"
        )
    else:
        _tamper(
            "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'disk full (simulated)'; END $$"
        )
        _tamper(
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_event "
            "FOR EACH ROW EXECUTE FUNCTION refuse_audit()"
        )


def test_a_refused_audit_write_raises_so_the_caller_can_show_nothing(app_context):
    _events(2)
    _refuse_audit_inserts()
    with pytest.raises(AuditWriteError):
        record_event(EventKind.TAG_UNLOCKED, outcome="success", tag_id=TAG, reason="999")
    # Nothing half-written: the chain and its head are as they were.
    assert _count() == 2 and verify_chain().ok
    assert db.session.get(AuditHead, 1).last_id == 2


def test_the_session_works_again_after_a_refused_write(app_context):
    _refuse_audit_inserts()
    with pytest.raises(AuditWriteError):
        record_event(EventKind.TAG_SCANNED, outcome="success")
    _tamper("DROP TRIGGER refuse_audit" + ("" if db.engine.dialect.name == "sqlite" else
                                           " ON audit_event"))  # fmt: skip
    assert record_event(EventKind.TAG_SCANNED, outcome="success").id == 1


def test_a_refused_write_rolls_back_the_callers_changes_too(app_context):
    _refuse_audit_inserts()
    begin_write()
    db.session.add(Tag(tag_id=TAG, issuer_kid="i", reader_kid="r", issued_at=WHEN))
    with pytest.raises(AuditWriteError):
        record_event(EventKind.TAG_ISSUED, outcome="success", tag_id=TAG)
    assert db.session.get(Tag, TAG) is None


def test_a_read_only_database_cannot_record_so_it_raises(app, settings):
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("a read-only SQLite file")
    with app.app_context():
        _events(1)
    path = settings.database_url.removeprefix("sqlite:///")
    read_only = settings.with_overrides(database_url=f"sqlite:///file:{path}?mode=ro&uri=true")
    reader = create_app({"settings": read_only, "SECRET_KEY": "x", "TESTING": True})
    with reader.app_context():
        assert verify_chain().ok  # it can read...
        with pytest.raises(AuditWriteError):  # ...but the event cannot be committed
            record_event(EventKind.TAG_UNLOCKED, outcome="success", tag_id=TAG, reason="999")
        db.session.remove()
        db.engine.dispose()


# -- concurrency --------------------------------------------------------------------


def test_concurrent_appends_from_threads_keep_one_chain(app):
    workers, each = 4, 25
    start = threading.Barrier(workers)
    errors: list[BaseException] = []

    def append(worker: int) -> None:
        try:
            with app.app_context():
                start.wait()
                for n in range(each):
                    record_event(EventKind.TAG_SCANNED, outcome="success", worker=worker, n=n)
        except BaseException as e:  # reported below; a thread cannot fail the test itself
            errors.append(e)

    threads = [threading.Thread(target=append, args=(w,)) for w in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with app.app_context():
        result = verify_chain()
    assert result.ok, result.message
    assert result.count == workers * each


CHILD = """
import sys, time
from pathlib import Path
from tagservice import create_app
from tagservice.audit import record_event
from tagservice.config import load_settings
home, url, worker, count = sys.argv[1:]
settings = load_settings({"TAGSERVICE_HOME": home, "TAGSERVICE_ENV": "testing"})
app = create_app({"settings": settings.with_overrides(database_url=url), "SECRET_KEY": "x"})
go = Path(home) / "go"
while not go.exists():  # start together, after the slow imports
    time.sleep(0.005)
with app.app_context():
    for n in range(int(count)):
        record_event("tag.scanned", outcome="success", worker=worker, n=n)
"""


def test_concurrent_appends_from_processes_keep_one_chain(app, settings):
    # Two worker processes (as under gunicorn) append to the same database at once.
    env = dict(os.environ, PYTHONPATH=str(Path(tagservice.__file__).parents[1]))
    args = [str(settings.home), settings.database_url]
    procs = [
        subprocess.Popen(  # noqa: S603 (our own interpreter and script)
            [sys.executable, "-c", CHILD, *args, str(worker), "40"],
            env=env,
            stderr=subprocess.PIPE,
        )
        for worker in range(2)
    ]
    (settings.home / "go").touch()
    for proc in procs:
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr.decode()
    with app.app_context():
        result = verify_chain()
    assert result.ok, result.message
    assert result.count == 80


# -- FHIR -----------------------------------------------------------------------


def _fhir(event: AuditEvent) -> dict:
    resource = to_fhir_audit_event(event)
    FhirAuditEvent.model_validate(resource)  # raises if not valid R4(B)
    return resource


def test_an_unlock_exports_as_a_valid_fhir_audit_event(make_clinician):
    clinician = make_clinician(role="doctor", register="GMC", registration_number="7654321")
    event = record_event(
        EventKind.TAG_UNLOCKED, outcome="success", actor=clinician, tag_id=TAG, reason="999",
        client="192.0.2.7", now=WHEN,
    )  # fmt: skip
    resource = _fhir(event)
    assert resource["recorded"] == "2026-03-01T03:14:15.926535+00:00"
    assert resource["outcome"] == "0" and resource["action"] == "R"
    assert resource["subtype"][0]["code"] == "tag.unlocked"
    agent = resource["agent"][0]
    assert agent["who"]["identifier"] == {
        "system": "https://fhir.hl7.org.uk/Id/gmc-number",
        "value": "7654321",
    }
    assert agent["role"] == [{"text": "doctor"}]
    assert agent["network"] == {"address": "192.0.2.7", "type": "2"}
    purpose = agent["purposeOfUse"][0]["coding"][0]
    assert (purpose["system"], purpose["code"]) == (
        "http://terminology.hl7.org/CodeSystem/v3-ActReason",
        "ETREAT",
    )
    assert resource["agent"][1]["who"]["display"] == "Example Ambulance Service"
    assert resource["entity"][0]["what"]["identifier"]["value"] == TAG


def test_break_glass_access_exports_with_purpose_btg(make_clinician):
    event = record_event(
        EventKind.TAG_UNLOCKED, outcome="success", actor=make_clinician(), tag_id=TAG,
        reason="break-glass", reason_text="unconscious, no 999 reference",
    )  # fmt: skip
    resource = _fhir(event)
    assert resource["purposeOfEvent"][0]["coding"][0]["code"] == "BTG"
    assert resource["purposeOfEvent"][0]["text"] == "unconscious, no 999 reference"


@pytest.mark.parametrize(
    ("outcome", "code"), [("success", "0"), ("denied", "4"), ("failed", "4"), ("error", "8")]
)
def test_outcomes_map_to_fhir_outcome_codes(app_context, outcome, code):
    event = record_event(EventKind.CLINICIAN_SIGNIN_FAILED, outcome=outcome, client="::1")
    resource = _fhir(event)
    assert resource["outcome"] == code and "purposeOfEvent" not in resource


@pytest.mark.parametrize("kind", list(EventKind))
def test_every_kind_of_event_exports_as_valid_fhir(app_context, kind):
    _fhir(record_event(kind, outcome="success", actor_type="cli", kid="ab12"))


def test_a_failing_listener_neither_undoes_nor_hides_a_committed_event(app_context, caplog):
    from tagservice import audit

    def broken(_sender, events):
        raise RuntimeError("listener bug")

    audit.events_committed.connect(broken)
    try:
        event = record_event(EventKind.TAG_SCANNED, outcome="success")
    finally:
        audit.events_committed.disconnect(broken)
    assert db.session.get(AuditEvent, event.id) is not None and verify_chain().ok
    assert "RuntimeError" in caplog.text and "listener bug" not in caplog.text
