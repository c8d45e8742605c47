"""The card for a finder: chosen before issuing, printed by the browser as the PDF's design.

The print is Chromium's PDF with background graphics off, rasterised: the card
is 85.6 mm wide on paper, and its red band and the critical line stay readable
(4.5:1 or more).
"""

from __future__ import annotations

import pytest

from tests.browser.printing import coloured, contrast, needs_poppler, print_to_png, text_on_colour
from tests.browser.test_patient import sign_up
from tests.browser.ui import expect

DESK_ONLY = pytest.mark.parametrize("device", ["desk"], indirect=True)
CARD_RED = (176, 0, 0)  # cards/layout.py
DPI = 100


@DESK_ONLY
def test_the_patient_chooses_what_a_finder_reads_and_the_print_is_true_size(page, server):
    needs_poppler()
    sign_up(page)
    page.get_by_label("Full name").fill("Maria Jones")
    page.get_by_label("Date of birth").fill("1956-03-14")
    page.locator("#f-allergies-0-substance").fill("Penicillin")
    page.locator("#f-allergies-0-reaction").fill("Anaphylaxis")
    page.locator("#f-allergies-0-severity").select_option("anaphylaxis")
    page.locator("#f-contacts-0-name").fill("Tom Jones")
    page.locator("#f-contacts-0-relationship").fill("son")
    page.locator("#f-contacts-0-phone").fill("07700 900123")
    page.get_by_role("button", name="Save and check").first.click()
    page.get_by_role("link", name="Next: make your card").click()
    # Given the choices before the card is made: the first name only, unless ticked
    expect(page.get_by_label("My surname too")).not_to_be_checked()
    page.get_by_label("My year of birth").check()
    page.get_by_label("A note for a member of the public", exact=False).check()
    page.get_by_label("In an emergency call Tom Jones (son): 07700 900123").check()
    page.get_by_label("ANAPHYLAXIS: Penicillin").check()  # the back line, before issuing too
    expect(page.locator("#back-fit")).to_have_text("The line fits on the back of the card.")
    page.look("choices-before-issuing")
    page.get_by_role("button", name="Make my card").click()
    expect(page.get_by_role("status")).to_contain_text("Your card is ready")
    page.get_by_role("link", name="Print your card").click()
    back = page.get_by_role("img", name="Back of the card", exact=False)
    expect(back).to_have_attribute(
        "alt",
        "Back of the card: If found, call 999 or hand to a "
        "paramedic. In an emergency call Tom Jones (son): 07700 "
        "900123. ALERT: ANAPHYLAXIS: Penicillin. " + _rest(back),
    )
    page.look("print-view")
    pages, png = print_to_png(page, page.shots, "printed-card", DPI)
    assert pages == 1
    # The red band keeps white text at 4.5:1 or more, and the card is true size
    assert text_on_colour(png, CARD_RED) >= 4.5
    _, red = coloured(png, CARD_RED)
    band_mm = (max(x for x, _ in red) - min(x for x, _ in red)) / DPI * 25.4
    assert abs(band_mm - 85.6) < 1.5, band_mm
    # The critical line prints black in its red frame
    image, _ = coloured(png, CARD_RED)
    assert _critical_line_contrast(image, red) >= 4.5


def _rest(locator) -> str:
    alt = locator.get_attribute("alt")
    return alt[alt.index("Issued by") :]


def _critical_line_contrast(image, red) -> float:
    """Inside the lower red frame (the back's ALERT box): darkest text against the paper."""
    pixels = image.load()
    band_bottom = min(y for _, y in red) + 40
    frame = [(x, y) for x, y in red if y > band_bottom + 200]
    top, bottom = min(y for _, y in frame), max(y for _, y in frame)
    left, right = min(x for x, _ in frame), max(x for x, _ in frame)
    inside = [pixels[x, y] for y in range(top + 8, bottom - 8) for x in range(left + 8, right - 8)]
    return contrast(min(inside, key=sum), max(inside, key=sum))
