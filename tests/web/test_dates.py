"""One date style on every page, and the access log in UK local time with its zone (issue 15)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import select

import tagservice
from tagservice import audit
from tagservice.store.db import db
from tagservice.store.models import Tag
from tagservice.web import dates
from tests.portal_helpers import (
    issued_card,
    patient_fixture,  # noqa: F401 (the fixture `patient`)
    portal_fixture,  # noqa: F401 (the fixture `portal`)
)

TEMPLATES = Path(tagservice.__file__).parent / "templates"


def test_a_day_is_written_day_month_year_without_a_leading_zero():
    assert dates.day(date(2026, 12, 3)) == "3 Dec 2026"
    assert dates.day("1948-07-02") == "2 Jul 1948"
    assert dates.day("") == "" and dates.day(None) == ""
    assert dates.day("not a date") == "not a date"


def test_a_moment_is_uk_local_time_with_its_zone():
    assert dates.moment(datetime(2026, 12, 3, 14, 5, tzinfo=UTC)) == "3 Dec 2026 14:05 GMT"
    assert dates.moment(datetime(2026, 7, 1, 13, 5, tzinfo=UTC)) == "1 Jul 2026 14:05 BST"
    # the database's naive times are UTC; late evening in summer is the next UK day
    assert dates.moment(datetime(2026, 7, 1, 23, 30)) == "2 Jul 2026 00:30 BST"
    assert dates.day(datetime(2026, 7, 1, 23, 30)) == "2 Jul 2026"


def test_no_template_formats_a_date_itself():
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        assert "strftime" not in text, template.name
        # isoformat only for machines, in a <time datetime="..."> attribute
        shown = re.sub(r'datetime="[^"]*"', "", text)
        assert "isoformat" not in shown, template.name


def test_the_access_log_shows_uk_local_time_with_the_zone(patient, portal):
    issued_card(patient, portal)
    with portal.app_context():
        tag_id = db.session.scalar(select(Tag.tag_id))
        for when in (
            datetime(2026, 1, 15, 9, 5, tzinfo=UTC),
            datetime(2026, 7, 1, 13, 5, tzinfo=UTC),
        ):
            audit.record_event(
                audit.EventKind.TAG_SCANNED, outcome="success", actor_type="system",
                tag_id=tag_id, signed_in=True, now=when,
            )  # fmt: skip
    page = patient.get("/my/access").text
    assert "15 Jan 2026 09:05 GMT" in page
    assert "1 Jul 2026 14:05 BST" in page
    assert " UTC" not in page
