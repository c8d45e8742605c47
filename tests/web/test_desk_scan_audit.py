"""A desk scan is audited like a /T/ scan (issue 12, item 7)."""

from __future__ import annotations

import pytest

from tagservice import audit
from tests.helpers import csrf_from, events, path_of, sign_in

SAME_FIELDS = ("kind", "outcome", "actor_type", "actor_id", "registration", "role",
               "organisation", "tag_id", "details")  # fmt: skip


def test_a_desk_scan_writes_the_same_scanned_event_as_a_tag_page_scan(client, app, tag_url):
    sign_in(client, app, role="nurse", register="NMC", registration_number="12A3456E")
    client.get(path_of(tag_url))
    desk = client.get("/desk")
    response = client.post("/desk", data={"csrf_token": csrf_from(desk.text), "tag": tag_url})
    assert response.status_code == 200
    by_page, by_desk = events(app, audit.EventKind.TAG_SCANNED)
    for name in SAME_FIELDS:
        assert getattr(by_desk, name) == getattr(by_page, name), name


def test_a_desk_scan_that_cannot_be_audited_shows_nothing(client, app, tag_url, monkeypatch):
    sign_in(client, app)
    desk = client.get("/desk")

    def refuse(*_args, **_kwargs):
        raise audit.AuditWriteError("the audit event could not be written")

    monkeypatch.setattr(audit, "record_event", refuse)
    response = client.post("/desk", data={"csrf_token": csrf_from(desk.text), "tag": tag_url})
    assert response.status_code == 503 and "Why are you opening" not in response.text


@pytest.mark.parametrize("tag", ["hello", ""])
def test_a_bad_desk_scan_is_still_recorded_as_rejected(client, app, tag_url, tag):
    sign_in(client, app)
    desk = client.get("/desk")
    client.post("/desk", data={"csrf_token": csrf_from(desk.text), "tag": tag})
    assert [e.kind for e in events(app)] == [audit.EventKind.TAG_REJECTED]
