"""A heavy summary on a paramedic's phone (390 x 844): what changes treatment is on screen.

Issue 15's clinical review found the latex allergy, the medicines and the normal
oxygen saturation below the first screen and "Who to call" 1,840 px down. Here the
heavy fixtures are opened as a paramedic would, and each critical line's position is
measured (tests/browser/glance.py; `bench/first_screen.py` prints the same numbers).
"""

from __future__ import annotations

import json
import re

import pytest

from tagservice.summary import alerts
from tests.browser import glance, ui
from tests.browser.ui import FIXTURES, expect, sign_in_with_password


def open_on_a_phone(browser, server, shots, fixture: str) -> tuple[ui.Page, glance.Positions]:
    who = server.clinician()
    tag = server.issue(fixture)
    context = ui.new_context(browser, server.base, "phone", **glance.PHONE)
    page = ui.Page(context.new_page(), "phone", shots)
    page.goto(tag)  # the tag URL asks for the sign-in and the reason together
    page.press(page.get_by_label(re.compile("999 call")))
    sign_in_with_password(page, who)
    expect(page.get_by_role("heading", level=2, name="Allergies")).to_be_visible()
    return page, glance.measure(page)


def fixture_summary(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def test_every_critical_line_of_the_heavy_summary_is_on_the_first_screen(browser, server, shots):
    page, where = open_on_a_phone(browser, server, shots, "summary-heavy.json")
    summary = fixture_summary("summary-heavy.json")
    # Every line is there to be measured (none hidden or merged away)
    assert len(where.lines["alerts"]) == len(alerts.alert_lines_by_kind(summary))
    assert len(where.lines["allergies"]) == len(summary["allergies"])
    assert len(where.lines["medicines"]) == len(summary["medications"])
    assert [t for t, _ in where.lines["oxygen"]] == ["SpO₂: 90%"]
    assert any("Latex" in t for t, _ in where.lines["allergies"])
    # and all of them, with who the patient is, fit the first screen
    assert where.below_first_screen() == []
    # The first call button is within two screens
    assert where.first_call is not None and where.first_call <= 2 * where.screen
    page.look("heavy-first-screen")
    page.context.close()


def test_a_heavier_real_world_summary_keeps_alerts_allergies_and_medicines_on_screen(
    browser, server, shots
):
    """Patient-entered (a banner above the alerts) with a four-line steroid alert."""
    page, where = open_on_a_phone(browser, server, shots, "summary-heavy-realistic.json")
    expect(page.locator("#unverified")).to_be_visible()
    groups = ("identity", "alerts", "allergies", "medicines")
    assert where.below_first_screen(groups) == []
    assert where.first_call is not None and where.first_call <= 2 * where.screen
    page.look("heavy-realistic-first-screen")
    page.context.close()


@pytest.mark.parametrize("fixture", ["summary-heavy.json", "summary-typical.json"])
def test_a_danger_and_a_target_differ_in_shape_and_words_not_only_colour(
    browser, server, shots, fixture
):
    page, where = open_on_a_phone(browser, server, shots, fixture)
    kinds = dict(alerts.alert_lines_by_kind(fixture_summary(fixture)))
    for text, _ in where.lines["alerts"]:
        node = page.locator("[aria-labelledby=crit] > p").filter(has_text=text).first
        style = node.evaluate(
            "e => [getComputedStyle(e).borderTopStyle, getComputedStyle(e).fontWeight]"
        )
        if text.startswith("Target or need: "):
            assert kinds[text.removeprefix("Target or need: ")] == "need"
            assert style[0] == "dashed"
        else:
            assert kinds[text] == "danger"
            assert style[0] != "dashed" and int(style[1]) >= 700
    page.context.close()
