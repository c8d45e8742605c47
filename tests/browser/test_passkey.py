"""Passkeys in a real browser: Chromium's virtual authenticator stands in for the phone's.

The authenticator is a platform one with user verification (a fingerprint or
screen lock), holding discoverable credentials, so sign-in needs no email.
"""

from __future__ import annotations

import re

from tests.browser.ui import expect, path_of, sign_in_with_password


def add_virtual_authenticator(page) -> None:
    cdp = page.context.new_cdp_session(page.pw)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )


def test_paramedic_registers_a_passkey_then_opens_a_tag_without_password_or_code(page, server):
    who = server.clinician()
    tag = server.issue()
    add_virtual_authenticator(page)
    # Given a paramedic signed in with password and code
    page.goto("/signin")
    page.look("sign-in")
    sign_in_with_password(page, who)
    expect(page.get_by_role("heading", level=1)).to_have_text("Signed in")
    page.look("account")
    # When they add a passkey on this phone
    page.press(page.get_by_role("link", name="Add a passkey on this phone"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Add a passkey")
    page.look("add-passkey")
    page.press(page.get_by_role("button", name="Create a passkey"))
    # Then their account shows it
    expect(page.get_by_role("heading", level=1)).to_have_text("Signed in")
    expect(page.locator("dt:has-text('Passkeys') + dd")).to_have_text("1")
    page.look("account-with-passkey")
    # When they sign out, scan a tag and choose the passkey
    page.press(page.get_by_role("button", name="Sign out of this device"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    page.goto(tag)
    expect(page.get_by_role("button", name="Sign in with a passkey")).to_be_visible()
    page.look("sign-in-from-tag")
    page.press(page.get_by_role("button", name="Sign in with a passkey"))
    # Then they are back at the tag without typing anything, and can open it
    expect(page).to_have_url(re.compile(re.escape(path_of(tag)) + "$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Why are you opening this summary?")
    page.press(page.get_by_role("button", name="Open summary", exact=True))
    expect(page.locator(".alert-critical").first).to_have_text("ANAPHYLAXIS: Penicillin")
    page.look("summary")
    methods = [e.details for e in server.events("clinician.signed_in")]
    assert any('"passkey"' in d for d in methods)
