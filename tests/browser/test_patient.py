"""A patient makes their card at home, a paramedic opens it, the patient sees who and cancels it.

The portal (/my) is its own blueprint; these tests drive it only through what
a person sees: labels, buttons, the capacity meter and the downloaded card.
"""

from __future__ import annotations

import re
import secrets
import string

import pytest

from tests.browser.ui import Page, expect, sign_in_with_password, tab_to, type_date

PATIENT_PASSWORD = "correct horse battery staple"
# Fields filled to their limits with text no dictionary can shrink: the card overflows.
TOO_MUCH = {
    "#f-note": 160,
    "#f-alerts-0-text": 100,
    "#f-conditions-0-name": 80,
    "#f-gp-name": 80,
    "#f-baseline-0-value": 60,
    "#f-contacts-0-relationship": 30,
    "#f-medications-0-frequency": 40,  # the numeric QR segment holds about 55 bytes more
}


def gibberish(length: int) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def sign_up(page: Page) -> str:
    email = f"patient-{secrets.token_hex(4)}@example.org"
    page.goto("/my")
    page.press(page.get_by_role("link", name="Make an account"))
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(PATIENT_PASSWORD)
    page.get_by_label("Type the password again").fill(PATIENT_PASSWORD)
    page.look("sign-up")
    page.press(page.get_by_role("button", name="Make my account"))
    # Sign-up answers alike for a new and a taken email, so the new patient signs in once
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to your emergency card")
    expect(page.get_by_label("Email address")).to_have_value(email)
    page.get_by_label("Password", exact=True).fill(PATIENT_PASSWORD)
    page.press(page.get_by_role("button", name="Sign in"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Your emergency summary")
    return email


def meter_value(page: Page) -> float:
    return float(page.locator("meter#meter").get_attribute("value") or 0)


def test_patient_makes_a_card_sees_who_opened_it_and_cancels_it(page, server, new_context):
    if not page.request.get(server.base + "/my").ok:
        pytest.skip("the patient portal (/my) is not in this build")
    # Given a new patient with an account
    sign_up(page)
    page.look("empty-summary")
    # When they type their summary, the meter shows how full the card is
    page.get_by_label("Full name").fill("Maria Jones")
    page.get_by_label("Date of birth").fill("1956-03-14")
    page.locator("#f-allergies-0-substance").fill("Penicillin")
    page.locator("#f-allergies-0-reaction").fill("Anaphylaxis")
    page.locator("#f-allergies-0-severity").select_option("anaphylaxis")
    page.locator("#f-medications-0-name").fill("Warfarin")
    page.locator("#f-medications-0-dose").fill("5 mg")
    page.locator("#f-contacts-0-name").fill("Tom Jones")
    page.locator("#f-contacts-0-phone").fill("07700 900123")
    expect(page.locator("#meter-text")).to_contain_text("%")
    typical = meter_value(page)
    assert 0 < typical < 80
    page.look("summary-typed")
    # When the note and a condition are too long for the card, saving names the fields
    page.locator("#f-alerts-0-code").select_option("other")
    page.locator("#f-baseline-0-kind").select_option("mobility")
    for field, length in TOO_MUCH.items():
        page.locator(field).fill(gibberish(length))
    page.press(page.get_by_role("button", name="Save and check").first)
    summary_box = page.locator("#error-summary")
    expect(summary_box).to_contain_text("too long for the card")
    linked = summary_box.get_by_role("link").evaluate_all("links => links.map(a => a.hash)")
    assert "#f-note" in linked, linked
    expect(page.locator("#meter-text")).to_contain_text("Note")
    expect(page.get_by_label("Note for the paramedic (optional)")).to_have_attribute(
        "aria-invalid", "true"
    )
    page.look("too-long")
    # When they shorten it, the card fits and they can make it
    for field in TOO_MUCH:
        page.locator(field).fill("")
    page.locator("#f-baseline-0-kind").select_option("")
    page.get_by_label("Note for the paramedic (optional)").fill("Hard of hearing.")
    page.locator("#f-conditions-0-name").fill("Atrial fibrillation")
    page.locator("#f-alerts-0-code").select_option("anticoagulant")
    page.locator("#f-alerts-0-text").fill("Warfarin")
    page.press(page.get_by_role("button", name="Save and check").first)
    expect(page.get_by_role("link", name="Next: make your card")).to_be_visible()
    page.look("summary-fits")
    page.press(page.get_by_role("link", name="Next: make your card"))
    page.look("card-before")
    page.press(page.get_by_role("button", name="Make my card"))
    expect(page.get_by_role("status")).to_contain_text("Your card is ready")
    page.look("card-made")
    # Then the downloaded card's QR code holds a tag URL for this service
    with page.expect_download() as download:
        page.press(page.get_by_role("link", name=re.compile(r"image \(PNG\)")))
    url = read_qr(download.value.path())
    assert url.lower().startswith(server.base.lower() + "/t/")
    # When a paramedic scans it and opens it for a 999 call
    medic = Page(new_context().new_page(), page.device, page.shots)
    who = server.clinician(name="Pat Medic")
    medic.goto(url)
    sign_in_with_password(medic, who)  # 999 is the default on the sign-in page from a tag
    expect(medic.get_by_role("heading", level=1)).to_have_text("Maria Jones")
    expect(medic.locator(".alert-critical").first).to_have_text("ANAPHYLAXIS: Penicillin")
    # Then the patient sees who opened it and why
    page.press(page.get_by_role("link", name="Who opened your card"))
    entry = page.locator("li.card").filter(has_text="Pat Medic").first
    expect(entry).to_contain_text("999")
    page.look("access-log")
    # When they cancel the card
    page.press(page.get_by_role("link", name="Your card", exact=True))
    page.press(page.get_by_label("Card lost or stolen"))
    page.press(page.get_by_label("Yes, cancel this card now"))
    page.press(page.get_by_role("button", name="Cancel the card"))
    expect(page.get_by_role("status")).to_contain_text("That card is cancelled")
    page.look("card-cancelled")
    # Then scanning it is refused
    response = medic.goto(url)
    assert response.status == 410
    medic.assert_no_console_errors()


def read_qr(path) -> str:
    import zxingcpp
    from PIL import Image

    found = zxingcpp.read_barcodes(Image.open(path))
    assert found, "no QR code in the downloaded card"
    return found[0].text


def test_patient_makes_a_card_with_the_keyboard_alone(page, server):
    """Tab, Enter and Space to move and press; typing only into fields."""
    if not page.request.get(server.base + "/my").ok:
        pytest.skip("the patient portal (/my) is not in this build")
    page.goto("/my")
    tab_to(page, page.get_by_role("link", name="Make an account"))
    page.keyboard.press("Enter")
    tab_to(page, page.get_by_label("Email address"))
    page.keyboard.type(f"patient-{secrets.token_hex(4)}@example.org")
    tab_to(page, page.get_by_label("Password", exact=True))
    page.keyboard.type(PATIENT_PASSWORD)
    tab_to(page, page.get_by_label("Type the password again"))
    page.keyboard.type(PATIENT_PASSWORD)
    page.keyboard.press("Enter")
    # then sign in once (the email is filled in already)
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to your emergency card")
    tab_to(page, page.get_by_label("Password", exact=True))
    page.keyboard.type(PATIENT_PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your emergency summary")
    tab_to(page, page.get_by_label("Full name"))
    page.keyboard.type("Maria Jones")
    date_of_birth = page.get_by_label("Date of birth")
    tab_to(page, date_of_birth)
    type_date(page, "1956-03-14")
    expect(date_of_birth).to_have_value("1956-03-14")
    tab_to(page, page.get_by_label("I have no known allergies"))
    page.keyboard.press("Space")
    tab_to(page, page.locator("#f-contacts-0-name"))
    page.keyboard.type("Tom Jones")
    tab_to(page, page.locator("#f-contacts-0-phone"))
    page.keyboard.type("07700 900123")
    tab_to(page, page.get_by_role("button", name="Save and check").last)
    page.keyboard.press("Enter")
    next_step = page.get_by_role("link", name="Next: make your card")
    expect(next_step).to_be_visible()
    tab_to(page, next_step, limit=200)
    page.keyboard.press("Enter")
    tab_to(page, page.get_by_role("button", name="Make my card"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Your card is ready")
    page.look("card-made-keyboard")
