"""The tag register: issued ids, supersede, revoke, expire. No crypto, no summary."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from tagservice.audit import EventKind, record_event, verify_chain
from tagservice.store.db import begin_write, db
from tagservice.store.models import AuditEvent
from tagservice.store.tags import (
    cards_depending_on_key,
    expire_tags_for_key,
    get_tag,
    register_tag,
    review_overdue,
    revoke_tag,
    tag_status,
)

OLD, NEW, OTHER = "00000000000000a1", "00000000000000b2", "00000000000000c3"
ISSUED = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
REVIEW = date(2027, 1, 5)


def _register(tag_id: str = OLD, **kwargs):
    args = {"issuer_kid": "iss1", "reader_kid": "rdr1", "issued_at": ISSUED, "review_date": REVIEW}
    return register_tag(tag_id, **(args | kwargs))


def test_a_registered_tag_is_active(app_context):
    tag = _register()
    assert tag_status(OLD, date(2026, 2, 1)) == "active"
    assert (tag.issuer_kid, tag.reader_kid, tag.issued_at) == ("iss1", "rdr1", ISSUED)


def test_a_tag_never_issued_here_is_unknown(app_context):
    assert tag_status(OTHER) == "unknown"


def test_tag_ids_are_case_insensitive_and_stored_lower_case(app_context):
    _register("00000000000000AB")
    assert get_tag("00000000000000ab").tag_id == "00000000000000ab"
    assert tag_status("00000000000000Ab") == "active"


@pytest.mark.parametrize("bad", ["", "123", "0000000000000000ff", "00000000000000zz"])
def test_a_malformed_tag_id_is_refused(app_context, bad):
    with pytest.raises(ValueError, match="16 hexadecimal"):
        _register(bad)


def test_a_tag_id_cannot_be_registered_twice(app_context):
    _register()
    with pytest.raises(ValueError, match="already registered"):
        _register()


def test_a_naive_issue_time_is_refused(app_context):
    with pytest.raises(ValueError, match="timezone-aware"):
        _register(issued_at=datetime(2026, 1, 5, 9, 30))


def test_a_new_tag_supersedes_the_old_one(app_context):
    _register(OLD)
    _register(NEW, supersede=OLD)
    assert tag_status(OLD) == "superseded" and tag_status(NEW) == "active"
    assert get_tag(OLD).superseded_by == NEW


def test_a_tag_can_only_be_superseded_once(app_context):
    _register(OLD)
    _register(NEW, supersede=OLD)
    with pytest.raises(ValueError, match=f"already superseded by {NEW}"):
        _register(OTHER, supersede=OLD)
    assert get_tag(OTHER) is None


def test_superseding_an_unknown_tag_is_refused(app_context):
    with pytest.raises(ValueError, match="unknown tag"):
        _register(NEW, supersede=OLD)
    assert get_tag(NEW) is None


def test_superseding_a_revoked_tag_leaves_it_revoked(app_context):
    _register(OLD)
    revoke_tag(OLD, "card lost")
    _register(NEW, supersede=OLD)
    assert tag_status(OLD) == "revoked" and get_tag(OLD).superseded_by == NEW


def test_a_revoked_tag_says_when_and_why(app_context):
    _register()
    when = datetime(2026, 2, 2, 12, 0, tzinfo=UTC)
    revoke_tag(OLD, "  card lost  ", now=when)
    tag = get_tag(OLD)
    assert (tag.status, tag.revoked_at, tag.revoke_reason) == ("revoked", when, "card lost")


def test_revoking_twice_keeps_the_first_time_and_reason(app_context):
    _register()
    revoke_tag(OLD, "card lost", now=ISSUED + timedelta(days=1))
    revoke_tag(OLD, "found and lost again", now=ISSUED + timedelta(days=2))
    tag = get_tag(OLD)
    assert (tag.revoked_at, tag.revoke_reason) == (ISSUED + timedelta(days=1), "card lost")


def test_revoking_a_superseded_tag_revokes_it(app_context):
    _register(OLD)
    _register(NEW, supersede=OLD)
    revoke_tag(OLD, "old card stolen")
    assert tag_status(OLD) == "revoked"


def test_revoking_needs_a_known_tag_and_a_reason(app_context):
    with pytest.raises(LookupError):
        revoke_tag(OLD, "card lost")
    _register()
    with pytest.raises(ValueError, match="why"):
        revoke_tag(OLD, "   ")


def test_a_passed_review_date_warns_but_does_not_expire_the_tag(app_context):
    tag = _register(review_date=date(2026, 6, 1))
    later = date(2026, 6, 2)
    assert tag_status(OLD, later) == "active"
    assert review_overdue(tag, later) and not review_overdue(tag, date(2026, 6, 1))


def test_a_tag_without_a_review_date_is_never_overdue(app_context):
    assert not review_overdue(_register(review_date=None), date(2099, 1, 1))


def test_retiring_a_key_expires_the_tags_that_depend_on_it(app_context):
    _register(OLD, reader_kid="gone")
    _register(NEW, supersede=OLD, issuer_kid="gone")
    _register(OTHER)  # other keys: untouched
    revoked = _register("00000000000000d4", issuer_kid="gone")
    revoke_tag(revoked.tag_id, "card lost")
    assert expire_tags_for_key("gone") == 2
    assert [tag_status(t) for t in (OLD, NEW, OTHER, revoked.tag_id)] == [
        "expired",
        "expired",
        "active",
        "revoked",
    ]


def test_a_key_has_dependent_cards_until_each_is_reissued_or_revoked(app_context):
    # Given three cards made with reader key rdr1, all expired when it was retired
    for tag_id in (OLD, NEW, OTHER):
        _register(tag_id)
    _register("00000000000000d4", issuer_kid="iss2", reader_kid="rdr2")
    expire_tags_for_key("rdr1")
    assert cards_depending_on_key("rdr1") == 3, "expired cards are still in their holders' hands"
    assert cards_depending_on_key("iss1") == 3
    # When one is reissued (superseded by a card under other keys) and one revoked
    _register("00000000000000e5", issuer_kid="iss2", reader_kid="rdr2", supersede=OLD)
    revoke_tag(NEW, "lost")
    # Then one card still depends on the key; none depend on a key nobody used
    assert cards_depending_on_key("rdr1") == 1
    assert cards_depending_on_key("unused") == 0


def test_a_revocation_and_its_audit_event_commit_together(app_context):
    _register()
    # Given one write transaction holding the revocation and its event
    begin_write()
    revoke_tag(OLD, "card lost", commit=False)
    record_event(EventKind.TAG_REVOKED, outcome="success", tag_id=OLD, commit=False)
    # When it rolls back, neither happened
    db.session.rollback()
    assert tag_status(OLD) == "active" and db.session.get(AuditEvent, 1) is None
    # And when it commits, both did
    begin_write()
    revoke_tag(OLD, "card lost", commit=False)
    record_event(EventKind.TAG_REVOKED, outcome="success", tag_id=OLD)
    db.session.expire_all()
    assert tag_status(OLD) == "revoked" and db.session.get(AuditEvent, 1).tag_id == OLD
    assert verify_chain().ok
