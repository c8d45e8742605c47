"""A cold phone at the roadside: the tag URL, one form, one tap, the summary (issue 15).

The sign-in page is the tag URL itself, asks why, and paints without waiting for
a stylesheet (app.css is inline, allowed by its hash: a CSP violation would fail
the test as a console error). A failed attempt keeps the email and the reason.
"""

from __future__ import annotations

import re

import pytest

from tests.browser.ui import expect, path_of, sign_in_with_password


@pytest.mark.parametrize("device", ["phone"])
def test_a_cold_phone_signs_in_and_opens_with_one_post_and_a_slip_loses_nothing(page, server):
    who = server.clinician()
    tag = server.issue()
    requests = []
    page.on("request", lambda r: requests.append((r.method, r.resource_type, r.url)))
    # Given a phone that has never been here: the camera opens the tag URL
    page.goto(tag)
    # Then the tag URL itself is the sign-in page, asking why, 999 chosen by default
    expect(page).to_have_url(re.compile(re.escape(path_of(tag)) + "$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    expect(page.get_by_label(re.compile("999 call"))).to_be_checked()
    expect(page.get_by_role("button", name="Sign in and open summary")).to_be_visible()
    # and it was styled without a stylesheet request (only a prefetch for later pages)
    assert [r for r in requests if r[1] == "stylesheet"] == []
    assert (
        page.locator("button.btn-primary").evaluate("b => getComputedStyle(b).minHeight") == "48px"
    )
    page.look("sign-in-with-reason")
    # When they choose "Other", explain, and mistype the password
    page.press(page.get_by_label("Other (explain)"))
    page.get_by_label(re.compile("Details")).fill("Found collapsed, no carer present")
    page.get_by_label("Work email").fill(who.email)
    page.get_by_label("Password", exact=True).fill("not my password")
    page.get_by_label("Code", exact=True).fill(who.code())
    page.press(page.get_by_role("button", name="Sign in and open summary"))
    # Then nothing opens, and the email, the reason and its details are still there
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.get_by_label("Work email")).to_have_value(who.email)
    expect(page.get_by_label("Other (explain)")).to_be_checked()
    expect(page.get_by_label(re.compile("Details"))).to_have_value(
        "Found collapsed, no carer present"
    )
    expect(page.get_by_label("Password", exact=True)).to_have_value("")
    expect(page.get_by_text("Jane Smith")).to_have_count(0)
    page.look("sign-in-failed-keeps-reason")
    # When they correct the password and send again: one POST signs in and opens
    before = len(requests)
    sign_in_with_password(page, who)
    expect(page.get_by_role("heading", level=1)).to_have_text("Jane Smith")
    documents = [r for r in requests[before:] if r[1] == "document"]
    assert [m for m, _, _ in documents] == ["POST"]
    page.look("summary-after-one-post")
    # And the access is audited with the reason they gave
    [unlocked] = server.events("tag.unlocked", server.tag_id(tag))
    assert (unlocked.reason, unlocked.reason_text) == (
        "break-glass",
        "Found collapsed, no carer present",
    )
