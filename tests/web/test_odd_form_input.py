"""Odd form values are refused or ignored with a page, never a 500 (issue 12, item 3).

The review found `critical=²` on the card options form and `action=remove:allergies:²`
on the summary form answered 500: "²".isdigit() is true, int("²") raises.
"""

from __future__ import annotations

import pytest

from tagservice.web.portal import forms as portal_forms
from tests.helpers import csrf_from, fixture
from tests.portal_helpers import (
    fields_of,
    issued_card,
    patient_fixture,  # noqa: F401 (the fixture `patient`)
    portal_fixture,  # noqa: F401 (the fixture `portal`)
    save,
    token,
)

# Characters str.isdigit() accepts but int() refuses, and digits int() reads but a
# form should not: superscripts, full-width, Arabic-Indic, Devanagari, a circled one.
ODD_DIGITS = ["²", "１", "١", "३", "①", "¹²", "0²", "٣٣٣"]


@pytest.mark.parametrize("odd", ODD_DIGITS)
def test_a_unicode_digit_as_a_critical_line_number_is_ignored_not_a_crash(patient, portal, odd):
    issued_card(patient, portal, fixture("summary-heavy.json"))
    page = patient.get("/my/card").text
    response = patient.post("/my/card/options", data={"csrf_token": csrf_from(page),
                                                      "critical": [odd, "0"]})  # fmt: skip
    assert response.status_code == 302
    printed = patient.get("/my/card/print").text
    # line 0 was chosen and nothing else: no "; " joins a second line to it
    assert "ANAPHYLAXIS: Penicillin" in printed and "ANAPHYLAXIS: Penicillin; " not in printed


@pytest.mark.parametrize("odd", ODD_DIGITS)
def test_a_unicode_digit_in_the_editors_remove_button_saves_without_removing(patient, odd):
    fields = fields_of(fixture("summary-typical.json"))
    response = save(patient, fields, action=f"remove:allergies:{odd}")
    assert response.status_code == 200
    assert 'value="Penicillin"' in response.text


@pytest.mark.parametrize("odd", ODD_DIGITS)
def test_a_unicode_digit_in_a_row_name_is_not_a_row(patient, odd):
    fields = fields_of(fixture("summary-typical.json")) | {f"allergies[{odd}].substance": "Latex"}
    response = save(patient, fields)
    assert response.status_code == 200 and 'value="Latex"' not in response.text


def test_unicode_digits_in_every_editor_field_give_field_errors_not_a_crash(patient):
    fields = {name: "１２３４٣²" for name in fields_of(fixture("summary-heavy.json"))}
    fields |= {"identity.date_of_birth": "１９８０-０１-０２", "meta.review": "２０３０-01-01",
               "identity.nhs_number": "４０１ ０２３ ２１３７"}  # fmt: skip
    response = save(patient, fields)
    assert response.status_code == 200
    assert "Fix" in response.text  # the error summary, with the fields to correct
    meter = patient.post("/my/summary/meter", data={"csrf_token": token(patient)} | fields)
    assert meter.status_code == 200 and meter.get_json()["valid"] is False


def test_form_row_numbers_are_ascii_digits_only():
    assert portal_forms.form_number("12") == 12
    for odd in [*ODD_DIGITS, "", "-1", "+1", " 1", "1 ", "1_0", "9" * 20]:
        assert portal_forms.form_number(odd) is None, odd


@pytest.mark.parametrize("odd", ["²", "x", "-1", "9" * 30, "", "\x00"])
def test_odd_revoke_and_download_values_get_a_page_not_a_crash(patient, portal, odd):
    issued_card(patient, portal)
    page = patient.get("/my/card").text
    revoke = patient.post("/my/card/revoke", data={"csrf_token": csrf_from(page), "tag_id": odd,
                                                   "reason": "lost", "confirm": "yes"})  # fmt: skip
    assert revoke.status_code == 404
    assert patient.get(f"/my/card/card.png?layout={odd}").status_code == 404
    assert patient.get(f"/my/card/card.png?side={odd}").status_code == 404


@pytest.mark.parametrize("code", ["１２３４５６", "١٢٣٤٥٦", "12345²", "①②③④⑤⑥"])
def test_unicode_digits_when_turning_on_a_sign_in_code_are_a_wrong_code_not_a_crash(patient, code):
    csrf = token(patient, "/my/account")
    patient.post("/my/account/totp", data={"csrf_token": csrf})
    response = patient.post("/my/account/totp/confirm", data={"csrf_token": csrf, "code": code})
    assert response.status_code == 400
