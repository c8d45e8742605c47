"""A paramedic at the kerbside: scan, sign in, say why, read the summary.

Runs on a phone (360 x 740, touch) and on a desk PC (1280 x 800). Every page
on the way is screenshotted and must pass axe-core in light and dark mode.
"""

from __future__ import annotations

import re

from tests.browser.ui import expect, path_of, sign_in_with_password, tab_to


def test_paramedic_scans_signs_in_chooses_999_and_sees_critical_alerts_first(page, server):
    who = server.clinician()
    tag = server.issue("summary-heavy.json")
    # Given a paramedic whose phone camera opened the tag URL
    page.goto(tag)
    # Then the tag URL itself asks them to sign in and say why (no redirect on a slow link)
    expect(page).to_have_url(re.compile(re.escape(path_of(tag)) + "$"))
    expect(page.get_by_text("Sign in and say why")).to_be_visible()
    page.look("sign-in")
    # When they choose "999 call" and sign in with password and code: one tap opens it
    page.press(page.get_by_label(re.compile("999 call")))
    sign_in_with_password(page, who)
    # Then the critical alerts come first, above the fold, anaphylaxis at the top
    expect(page.get_by_role("heading", level=1)).to_have_text("Zofia Kowalczyk-Brown")
    alerts = page.locator(".alert-critical")
    expect(alerts.first).to_have_text("ANAPHYLAXIS: Penicillin")
    assert alerts.count() >= 4
    first = alerts.first.bounding_box()
    assert first["y"] + first["height"] <= page.viewport_size["height"]
    # and a target is told apart from a danger without colour: a word and a dashed outline
    need = page.locator(".alert-need").first
    expect(need).to_contain_text("Target or need: OXYGEN TARGET")
    assert need.evaluate("e => getComputedStyle(e).borderTopStyle") == "dashed"
    headings = page.get_by_role("heading", level=2).all_inner_texts()
    assert headings.index("Allergies") < headings.index("Medication")
    alerts_top = alerts.last.bounding_box()["y"]
    assert alerts_top < page.get_by_role("heading", name="Allergies").bounding_box()["y"]
    # And the rest reads plainly: no repeated severity, a one-tap call button
    expect(page.get_by_role("listitem").filter(has_text="Penicillin")).to_have_text(
        "Penicillin: Anaphylaxis"
    )
    call = page.get_by_role("link", name="Call Tom Brown (son): 07700\u00a0900456")
    expect(call).to_have_attribute("href", "tel:07700900456")
    page.look("summary")
    # And the access is in the audit trail with the reason
    unlocked = server.events("tag.unlocked", server.tag_id(tag))
    assert [(e.reason, e.registration) for e in unlocked] == [("999", "HCPC PA12345")]


def test_paramedic_completes_the_scan_with_the_keyboard_alone(page, server):
    """Tab, Enter and Space only (typing into fields aside): switch and keyboard users."""
    who = server.clinician()
    tag = server.issue()
    page.goto(tag)
    # The first Tab reaches the skip link; Enter on it moves focus into the page
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to main content")).to_be_focused()
    page.keyboard.press("Enter")
    tab_to(page, page.get_by_label("Work email"))
    page.keyboard.type(who.email)
    tab_to(page, page.get_by_label("Password", exact=True))
    page.keyboard.type(who.password)
    tab_to(page, page.get_by_label("Code", exact=True))
    page.keyboard.type(who.code())
    tab_to(page, page.get_by_label(re.compile("999 call")))
    page.keyboard.press("Space")
    expect(page.get_by_label(re.compile("999 call"))).to_be_checked()
    page.look("sign-in-keyboard")
    tab_to(page, page.get_by_role("button", name="Sign in and open summary"))
    page.keyboard.press("Enter")
    expect(page.locator(".alert-critical").first).to_have_text("ANAPHYLAXIS: Penicillin")
    page.look("summary-keyboard")
