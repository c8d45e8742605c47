"""What a person sees when things go wrong: a damaged card, a cancelled card, an ended session.

Each page must say plainly what happened and what to do next, and pass the
same accessibility checks as the happy path.
"""

from __future__ import annotations

import re

from tests.browser.ui import Page, expect, path_of, sign_in_with_password


def damaged(url: str) -> str:
    """The same URL with one payload character changed, as a scratch on the card might."""
    at = len(url) - 20
    return url[:at] + ("A" if url[at] != "A" else "B") + url[at + 1 :]


def test_a_damaged_tag_shows_the_friendly_invalid_tag_page(page, server):
    tag = server.issue()
    response = page.goto(damaged(tag))
    assert response.status == 400
    expect(page.get_by_role("heading", level=1)).to_have_text("This is not a valid emergency tag")
    expect(page.get_by_text("treat the patient as unknown")).to_be_visible()
    page.look("damaged-tag")
    response = page.goto(tag[:-30])
    assert response.status == 400
    expect(page.get_by_role("heading", level=1)).to_have_text("This is not a valid emergency tag")


def test_a_revoked_tag_is_refused_and_says_it_was_cancelled(page, server):
    tag = server.issue()
    server.revoke(tag)
    response = page.goto(tag)
    assert response.status == 410
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "This tag has been cancelled by its owner"
    )
    expect(page.get_by_text("Jane")).to_have_count(0)
    page.look("revoked-tag")


def test_a_session_ended_elsewhere_returns_to_sign_in_and_then_to_the_tag(
    page, new_context, server, shots, device
):
    """ "Sign out everywhere" from another device ends this phone's session mid-shift."""
    who = server.clinician()
    tag = server.issue()
    # Given a paramedic signed in on this phone
    page.goto("/signin")
    sign_in_with_password(page, who)
    expect(page.get_by_role("heading", level=1)).to_have_text("Signed in")
    # When they sign out everywhere else from another device
    other = Page(new_context().new_page(), device, shots)
    other.goto("/signin")
    sign_in_with_password(other, who)
    other.press(other.get_by_role("button", name="Sign out everywhere else"))
    expect(other.get_by_role("status")).to_have_text("You are signed out on every other device.")
    other.look("signed-out-everywhere")
    # Then scanning a tag on this phone asks them to sign in again, at the tag...
    page.goto(tag)
    expect(page).to_have_url(re.compile(re.escape(path_of(tag)) + "$"))
    expect(page.get_by_text("Sign in and say why")).to_be_visible()
    page.look("session-ended")
    # ...and signing in opens that same tag (999, the roadside default)
    sign_in_with_password(page, who)
    expect(page.get_by_role("heading", level=1)).to_have_text("Jane Smith")
    other.assert_no_console_errors()
