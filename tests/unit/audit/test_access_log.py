"""The patient's access log (access_log.py): openings always listed, signed-out scans counted.

The review (issue 12): 205 signed-out scans of a card in 3 s pushed every
"Opened and read" line out of the patient's log.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from tagservice import audit
from tagservice.audit import access_log
from tagservice.store import tags
from tagservice.store.db import db
from tagservice.store.models import Clinician, Patient, Tag
from tests.helpers import sign_in, unlock_form
from tests.portal_helpers import (
    issued_card,
    patient_fixture,  # noqa: F401 (the fixture `patient`)
    portal_fixture,  # noqa: F401 (the fixture `portal`)
    scan_path,
)


def scan_signed_out(portal, url: str, n: int) -> None:
    """n scans without sign-in, from many addresses (as a crowd or a botnet would)."""
    client = portal.test_client()
    for i in range(n):
        address = {"REMOTE_ADDR": f"10.0.{i // 200}.{i % 200}"}
        response = client.get(scan_path(url), environ_base=address)
        assert response.status_code == 200  # the sign-in page: nothing is shown
        assert 'name="password"' in response.text and "Jane" not in response.text


def opened(portal, url: str, name: str) -> None:
    clinician = portal.test_client()
    sign_in(clinician, portal, name=name, organisation="North Ambulance Service")
    assert unlock_form(clinician, url).status_code == 200


def test_two_hundred_and_five_signed_out_scans_do_not_hide_the_openings(patient, portal):
    # Given a card opened by two clinicians
    url = issued_card(patient, portal)
    opened(portal, url, "Sam Carter")
    opened(portal, url, "Ria Patel")
    # When 205 people scan it without signing in
    scan_signed_out(portal, url, 205)
    # Then both openings are still on the first page, and the scans are one counted line
    page = patient.get("/my/access").text
    assert "Sam Carter (Paramedic, North Ambulance Service)" in page
    assert "Ria Patel (Paramedic, North Ambulance Service)" in page
    assert page.count("Opened and read") == 2
    today = datetime.now(UTC)
    assert f"205 scans without sign-in on {today.day} {today:%b %Y}" in page
    assert page.count("without sign-in on") == 1


def test_signed_out_scans_are_counted_for_each_utc_day(app_context):
    patient, tag_id = _patient_with_a_tag()
    days = [datetime(2026, 12, 1, 23, 59, tzinfo=UTC), datetime(2026, 12, 2, 0, 1, tzinfo=UTC)]
    for when, count in zip(days, (3, 1), strict=True):
        for _ in range(count):
            audit.record_event(audit.EventKind.TAG_SCANNED, outcome="success", tag_id=tag_id,
                               signed_in=False, now=when)  # fmt: skip
    lines = [line.what for line in access_log.page(patient).lines]
    assert lines == ["1 scan without sign-in on 2 Dec 2026",
                     "3 scans without sign-in on 1 Dec 2026"]  # fmt: skip


def _patient_with_a_tag() -> tuple[Patient, str]:
    patient = Patient(email="pat@example.com", password_hash="x")
    db.session.add(patient)
    db.session.commit()
    tag_id = "0123456789abcdef"
    tags.register_tag(tag_id, "aa" * 4, "bb" * 4, datetime.now(UTC), None, patient_id=patient.id)
    return patient, tag_id


def test_a_long_log_pages_fifty_at_a_time_older_and_newer_without_losing_a_line(
    app_context, make_clinician
):
    patient, tag_id = _patient_with_a_tag()
    clinician: Clinician = make_clinician(name="Sam Carter")
    start = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    ids = []
    for i in range(120):
        event = audit.record_event(audit.EventKind.TAG_UNLOCKED, outcome="success", actor=clinician,
                                   tag_id=tag_id, reason="999", now=start + timedelta(minutes=i))
        ids.append(event.id)  # fmt: skip
        if i % 10 == 0:  # signed-out scans in between, on the same day
            audit.record_event(audit.EventKind.TAG_SCANNED, outcome="success", tag_id=tag_id,
                               signed_in=False, now=start + timedelta(minutes=i))  # fmt: skip
    first = access_log.page(patient)
    second = access_log.page(patient, before=first.older)
    third = access_log.page(patient, before=second.older)
    assert first.newer is None and third.older is None
    # 120 openings and one line counting the day's 12 scans
    assert [len(p.lines) for p in (first, second, third)] == [50, 50, 21]
    seen = [line.key for p in (first, second, third) for line in p.lines
            if isinstance(line, access_log.Access) and line.what == "Opened and read"]  # fmt: skip
    assert sorted(seen) == ids and len(set(seen)) == 120
    back = access_log.page(patient, after=third.newer)
    assert [line.key for line in back.lines] == [line.key for line in second.lines]
    assert access_log.page(patient, after=second.newer).lines == first.lines


@pytest.mark.parametrize("cursor", ["²", "abc", "-1", "9" * 40, "", "١٢"])
def test_odd_page_cursors_show_the_latest_page(patient, portal, cursor):
    issued_card(patient, portal)
    for name in ("older", "newer"):
        response = patient.get(f"/my/access?{name}={cursor}")
        assert response.status_code == 200 and "You made this card" in response.text


def test_a_short_log_is_one_page_without_links(patient, portal):
    url = issued_card(patient, portal)
    for n in range(3):
        opened(portal, url, f"Clinician {n}")
    page = patient.get("/my/access").text
    assert "Older entries" not in page and "Newer entries" not in page
    assert re.findall(r"Opened and read", page) == ["Opened and read"] * 3


def test_the_older_link_of_a_long_log_leads_to_the_earlier_openings(patient, portal):
    url = issued_card(patient, portal)
    opened(portal, url, "Sam Carter")
    with portal.app_context():
        patient_row = db.session.scalars(db.select(Patient)).one()
        (tag,) = [t.tag_id for t in db.session.scalars(db.select(Tag))]
        nurse = Clinician(email="n@example.nhs.uk", name="Ria Patel", role="nurse", register="NMC",
                          registration_number="12A3456E", organisation="A&E", status="active")
        db.session.add(nurse)
        db.session.commit()
        for _ in range(60):
            audit.record_event(audit.EventKind.TAG_UNLOCKED, outcome="success", actor=nurse,
                               tag_id=tag, reason="ae")  # fmt: skip
        assert access_log.page(patient_row).older
    first = patient.get("/my/access").text
    assert "Sam Carter" not in first
    older = re.search(r'href="(/my/access\?older=[0-9]+)">Older entries', first).group(1)
    second = patient.get(older).text
    assert "Sam Carter (Paramedic, North Ambulance Service)" in second and "Newer entries" in second
