"""Reissuing with "cancel my old cards" cancels every older card that still opens (issue 12)."""

from __future__ import annotations

import pytest

from tagservice import audit
from tagservice.accounts import patient_tags, patients
from tagservice.store import tags
from tagservice.store.db import db
from tagservice.store.models import AuditEvent, TagStatus
from tests.helpers import FAST_ARGON2, fixture


@pytest.fixture
def patient(app, settings):
    from tagservice import keys

    keys.init_instance(settings)
    app.config["ARGON2_PARAMS"] = FAST_ARGON2
    with app.app_context():
        yield patients.sign_up("pat@example.com", "correct horse battery staple",
                               "correct horse battery staple", "test")  # fmt: skip


def issue(patient, refuse: bool):
    return patient_tags.issue(patient, fixture("summary-typical.json"), refuse_superseded=refuse,
                              client=None)  # fmt: skip


def test_cancel_my_old_cards_cancels_every_older_card_not_only_the_last(patient):
    # Given three cards made without cancelling: the first two still open (superseded)
    first, second, third = (issue(patient, False) for _ in range(3))
    assert tags.get_tag(first.tag.tag_id).status == TagStatus.SUPERSEDED
    # When a fourth is made with "cancel my old cards"
    fourth = issue(patient, True)
    # Then every older card is refused, each with its own audit event
    for old in (first, second, third):
        assert tags.get_tag(old.tag.tag_id).status == TagStatus.REVOKED, old.tag.tag_id
    assert tags.get_tag(fourth.tag.tag_id).status == TagStatus.ACTIVE
    assert fourth.previous_revoked
    revoked = db.session.scalars(
        db.select(AuditEvent.tag_id).where(AuditEvent.kind == audit.EventKind.TAG_REVOKED)
    ).all()
    assert sorted(revoked) == sorted(t.tag.tag_id for t in (first, second, third))


def test_older_cards_still_opening_are_cancelled_even_when_the_last_one_was_lost(patient):
    first, lost = issue(patient, False), issue(patient, False)
    patient_tags.revoke(patient, lost.tag.tag_id, "lost", None)
    issue(patient, True)
    assert tags.get_tag(first.tag.tag_id).status == TagStatus.REVOKED


def test_without_cancelling_older_cards_keep_opening_with_a_warning(patient):
    first, second = issue(patient, False), issue(patient, False)
    assert tags.get_tag(first.tag.tag_id).status == TagStatus.SUPERSEDED
    assert not second.previous_revoked
