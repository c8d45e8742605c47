"""Sign-in at the roadside: the passkey first where the phone has one; after a password
sign-in, an offer to add one that "Not now" dismisses."""

from __future__ import annotations

import pytest

from tests.browser.test_passkey import add_virtual_authenticator
from tests.browser.ui import expect, sign_in_with_password

PHONE_ONLY = pytest.mark.parametrize("device", ["phone"], indirect=True)
BEFORE_FORM = "el => !!(el.compareDocumentPosition(document.getElementById('signin-form'))"
BEFORE_FORM += " & Node.DOCUMENT_POSITION_FOLLOWING)"


def passkey_button(page):
    return page.get_by_role("button", name="Sign in with a passkey")


@PHONE_ONLY
def test_a_phone_with_a_built_in_passkey_gets_the_passkey_button_first(page, server):
    add_virtual_authenticator(page)  # a platform authenticator with user verification
    page.goto("/signin")
    expect(passkey_button(page)).to_have_class("btn btn-block btn-primary")
    assert passkey_button(page).evaluate(BEFORE_FORM)
    page.look("passkey-first")


@PHONE_ONLY
def test_without_a_built_in_passkey_the_password_form_comes_first(page, server):
    page.goto("/signin")
    expect(passkey_button(page)).to_be_visible()
    expect(passkey_button(page)).to_have_class("btn btn-block")
    assert not passkey_button(page).evaluate(BEFORE_FORM)
    expect(page.get_by_text("No passkey set up here?")).to_be_hidden()
    page.look("password-first")


def test_after_a_password_sign_in_a_passkey_is_offered_and_not_now_dismisses_it(page, server):
    who = server.clinician()
    add_virtual_authenticator(page)  # offered only where a passkey can be made on the device
    page.goto("/signin")
    sign_in_with_password(page, who)
    expect(page.get_by_role("heading", level=1)).to_have_text("Signed in")
    offer = page.get_by_role("complementary", name="Sign in with one touch next time")
    expect(offer).to_be_visible()
    expect(offer.get_by_role("link", name="Add a passkey now")).to_be_visible()
    page.look("passkey-offer")
    page.press(offer.get_by_role("button", name="Not now"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Signed in")
    expect(offer).to_have_count(0)
