"""The offer to add a passkey shows only where the device has a built-in authenticator.

Chromium's virtual authenticators (DevTools protocol, WebAuthn domain) stand in for
the device: a built-in one that checks the user (transport "internal" with user
verification) is what `isUserVerifyingPlatformAuthenticatorAvailable()` reports;
a USB security key, or none at all, is not.
"""

from __future__ import annotations

import pytest

from tests.browser.ui import expect, sign_in_with_password

PHONE_ONLY = pytest.mark.parametrize("device", ["phone"], indirect=True)
OFFER = "Sign in with one touch next time"
BUILT_IN = {"transport": "internal", "hasUserVerification": True, "isUserVerified": True}
NOT_BUILT_IN = {
    "a USB security key": {"transport": "usb", "hasUserVerification": True,
                           "isUserVerified": True},
    "a built-in one that cannot check the user": {"transport": "internal",
                                                  "hasUserVerification": False},
    "none": None,
}  # fmt: skip


BUILT_IN_ASKED = """async () => {
  await new Promise(done => document.readyState === "complete" ? done() :
                    window.addEventListener("load", done));
  return await PublicKeyCredential.isUserVerifyingPlatformAuthenticatorAvailable();
}"""


def add_authenticator(page, options: dict) -> None:
    cdp = page.context.new_cdp_session(page.pw)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "hasResidentKey": True, "automaticPresenceSimulation": True,
        **options,
    }})  # fmt: skip


def offer(page):
    return page.get_by_role("complementary", name=OFFER, include_hidden=True)


@PHONE_ONLY
def test_a_phone_with_a_built_in_authenticator_is_offered_a_passkey(page, server):
    add_authenticator(page, BUILT_IN)
    page.goto("/signin")
    sign_in_with_password(page, server.clinician())
    expect(page.get_by_role("heading", level=1)).to_have_text("Signed in")
    assert page.evaluate(BUILT_IN_ASKED) is True
    expect(offer(page)).to_be_visible()
    expect(page.get_by_role("link", name="Add a passkey now")).to_be_visible()
    page.look("offer-shown")


@PHONE_ONLY
@pytest.mark.parametrize("kind", list(NOT_BUILT_IN))
def test_without_a_built_in_authenticator_nothing_is_offered_and_nothing_lost(page, server, kind):
    if NOT_BUILT_IN[kind]:
        add_authenticator(page, NOT_BUILT_IN[kind])
    page.goto("/signin")
    sign_in_with_password(page, server.clinician())
    expect(page.get_by_role("heading", level=1)).to_have_text("Signed in")
    # The device's own answer (asked after the page's: the page's has come back too)
    assert page.evaluate(BUILT_IN_ASKED) is False
    expect(offer(page)).to_have_count(1)  # on the page, hidden
    expect(offer(page)).to_be_hidden()
    expect(page.get_by_role("link", name="Add a passkey now")).to_have_count(0)
    if kind == "none":
        page.look("no-offer")
        # Nothing lost: on a device that gains a built-in authenticator, the offer is there
        add_authenticator(page, BUILT_IN)
        page.reload()
        expect(offer(page)).to_be_visible()
