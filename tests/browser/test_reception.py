"""A&E reception: a scan records the patient's arrival and shows the card's status, never
the summary."""

from __future__ import annotations

import re
import secrets

import pyotp

from tests.browser.ui import PASSWORD, Clinician, expect, sign_in_with_password


def receptionist(server) -> Clinician:
    """A reception account as `tagservice clinician add --role receptionist` makes it."""
    from tagservice.accounts import clinicians

    email = f"reception-{secrets.token_hex(4)}@example.nhs.uk"
    with server.app.app_context():
        _, _, uri = clinicians.add_clinician(
            email, "Rita Desk", "receptionist", "", "", "Example NHS Trust", password=PASSWORD
        )
    return Clinician(email, "Rita Desk", PASSWORD, pyotp.parse_uri(uri))


def test_a_receptionists_scan_records_arrival_and_shows_only_the_cards_status(page, server):
    tag = server.issue()
    page.goto("/desk")
    sign_in_with_password(page, receptionist(server))
    expect(page).to_have_url(re.compile(r"/desk$"))
    expect(page.get_by_text("record their arrival")).to_be_visible()
    page.look("reception-desk")
    # When the card is scanned at reception
    page.keyboard.type(tag)
    page.keyboard.press("Enter")
    # Then the arrival is recorded and the card's status shown, with nothing clinical
    expect(page.get_by_role("heading", level=1)).to_have_text("Arrival recorded")
    expect(page.locator("#tag-status")).to_contain_text("Active")
    expect(page.get_by_text("Penicillin")).to_have_count(0)
    expect(page.get_by_role("button", name="Open summary")).to_have_count(0)
    page.look("arrival-recorded")
    tag_id = server.tag_id(tag)
    assert [e.role for e in server.events("tag.arrival_recorded", tag_id)] == ["receptionist"]
    assert server.events("tag.unlocked", tag_id) == []
    page.press(page.get_by_role("link", name="Scan next patient"))
    expect(page.get_by_label("Tag (scanned, or typed from the card)")).to_be_focused()
