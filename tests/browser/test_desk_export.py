"""The A&E desk prints the opened summary on one A4 page and saves it for the hospital record.

The print is checked as Chromium prints it: a PDF made with background graphics
off (the print dialog's default), one A4 page, rasterised with poppler; the
critical lines must still print white on red, at 4.5:1 or more.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.browser.printing import needs_poppler, print_to_png, text_on_colour
from tests.browser.ui import expect, sign_in_with_password

DESK_ONLY = pytest.mark.parametrize("device", ["desk"], indirect=True)
CRIT_RED = (0xA4, 0x16, 0x1A)


@DESK_ONLY
def test_the_desk_prints_the_summary_on_one_a4_page_and_saves_it_as_fhir(page, server):
    needs_poppler()
    tag = server.issue("summary-heavy.json")
    nurse = server.clinician(role="nurse", name="Sam Nurse")
    page.goto("/desk")
    sign_in_with_password(page, nurse)
    expect(page).to_have_url(re.compile(r"/desk$"))
    page.keyboard.type(tag)
    page.keyboard.press("Enter")
    page.press(page.get_by_role("button", name="Open summary"))
    expect(page.get_by_role("button", name="Print on one A4 page")).to_be_visible()
    page.look("summary-with-exports")
    # When the nurse saves it for the hospital record, a FHIR IPS document downloads
    with page.expect_download() as download:
        page.get_by_role("button", name="Save for the hospital record (FHIR IPS)").click()
    bundle = json.loads(_read(download.value))
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "document"
    # When they print it
    page.get_by_role("button", name="Print on one A4 page").click()
    expect(page.get_by_role("button", name="Print")).to_be_visible()
    page.look("print-view")
    pages, png = print_to_png(page, page.shots, "printed-a4")
    assert pages == 1
    assert text_on_colour(png, CRIT_RED) >= 4.5
    exports = server.events("tag.exported", server.tag_id(tag))
    assert [json.loads(e.details)["format"] for e in exports] == ["fhir-ips", "print"]
    assert all(e.outcome == "success" and e.role == "nurse" for e in exports)


def _read(download) -> bytes:
    with open(download.path(), "rb") as f:
        return f.read()
