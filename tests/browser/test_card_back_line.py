"""The back line is chosen before the card is made, and the page says what fits as it is ticked.

The answer comes from the card renderer on the server (/my/card/fit), so what the
page says is what the card will print; the server checks again when the card is made.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.browser.test_patient import sign_up
from tests.browser.ui import expect
from tests.helpers import fixture

PHONE_ONLY = pytest.mark.parametrize("device", ["phone"], indirect=True)


@PHONE_ONLY
def test_the_patient_ticks_back_lines_before_issuing_and_sees_what_fits(page, server, tmp_path):
    # Given a patient whose summary has six critical lines (imported from a file)
    sign_up(page)
    heavy = fixture("summary-heavy.json")
    upload = tmp_path / "summary.json"
    upload.write_text(json.dumps(heavy))
    page.locator("#bundle").set_input_files(str(upload))
    page.press(page.get_by_role("button", name="Import"))
    page.wait_for_url("**/my/summary**")
    page.press(page.get_by_role("link", name="Next: make your card"))
    status = page.locator("#back-fit")
    expect(status).to_contain_text("never cut short")  # said before any script runs
    # When they tick the first line, the page says it fits
    page.get_by_label("ANAPHYLAXIS: Penicillin").check()
    expect(status).to_have_text("The line fits on the back of the card.")
    # When they tick everything, the page says it does not fit, and what does
    page.get_by_label("My surname too").check()
    page.get_by_label("A note for a member of the public", exact=False).check()
    for label in ("ANTICOAGULANT: Apixaban", "DNACPR: Signed form in kitchen drawer",
                  "PACEMAKER: Medtronic, fitted 2021", "INSULIN-TREATED DIABETES",
                  "OXYGEN TARGET: 88-92%"):  # fmt: skip
        page.get_by_label(label).check()
    expect(status).to_contain_text("does not fit on the back of the card")
    expect(status).to_contain_text("These fit together: ANAPHYLAXIS: Penicillin;")
    page.look("back-lines-too-many")
    # Then making the card anyway is refused by the server, with every tick kept
    page.press(page.get_by_role("button", name="Make my card"))
    expect(page.get_by_role("alert")).to_contain_text("No card was made")
    expect(page.get_by_label("OXYGEN TARGET: 88-92%")).to_be_checked()
    # When they untick the last two, it fits, and the card prints those lines on its back
    page.get_by_label("OXYGEN TARGET: 88-92%").uncheck()
    page.get_by_label("INSULIN-TREATED DIABETES").uncheck()
    expect(status).to_have_text("The 4 lines fit on the back of the card.")
    page.look("back-lines-fit")
    page.press(page.get_by_role("button", name="Make my card"))
    expect(page.get_by_role("status")).to_contain_text("Your card is ready")
    page.press(page.get_by_role("link", name="Print your card"))
    back = page.get_by_role("img", name="Back of the card", exact=False)
    expect(back).to_have_attribute(
        "alt", re.compile(
            "ALERT: ANAPHYLAXIS: Penicillin; ANTICOAGULANT: Apixaban; DNACPR: Signed form in "
            "kitchen drawer; PACEMAKER: Medtronic, fitted 2021\\. Issued by"
        ),
    )
    page.look("back-lines-printed")
