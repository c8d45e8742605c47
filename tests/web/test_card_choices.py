"""The card for a finder: what is printed in clear is chosen before issuing and must fit."""

from __future__ import annotations

import pytest

import cards
from tagservice.store.db import db
from tagservice.store.models import Patient
from tagservice.web.portal import card_choices
from tests.helpers import csrf_from, fixture
from tests.portal_helpers import (
    issue,
    patient_fixture,  # noqa: F401 (the fixture `patient`)
    patient_tags,
    portal_fixture,  # noqa: F401 (the fixture `portal`)
    save,
)

ALL = {"surname": "yes", "born_year": "yes", "finder": "yes", "contact": "0"}
ICE = "In an emergency call John Smith (husband): 07700 900123"
BORN = int(fixture("summary-typical.json")["identity"]["date_of_birth"][:4])


def stored_card(app) -> dict:
    from tagservice.accounts import patients

    with app.app_context():
        return patients.load_card(db.session.scalars(db.select(Patient)).one())


def test_the_choices_are_offered_before_the_first_card_is_made(patient, portal):
    save(patient, fixture("summary-typical.json"))
    page = patient.get("/my/card").text
    assert "You have no card yet" in page
    for words in ("My surname too", "My year of birth", card_choices.FINDER_LINE, ICE):
        assert words in page
    assert 'name="contact" value="none" checked' in page


def test_by_default_only_the_first_name_is_printed(patient, portal):
    save(patient, fixture("summary-typical.json"))
    assert issue(patient).status_code == 302
    assert card_choices.printed(stored_card(portal)) == {
        "first_name": "Jane", "born_year": None, "ice_line": None, "finder_line": None,
    }  # fmt: skip


def test_the_chosen_words_go_on_the_card_and_its_print_view(patient, portal, monkeypatch):
    save(patient, fixture("summary-typical.json"))
    assert issue(patient, **ALL).status_code == 302
    printed = card_choices.printed(stored_card(portal))
    assert printed == {"first_name": "Jane Smith", "born_year": BORN, "ice_line": ICE,
                       "finder_line": card_choices.FINDER_LINE}  # fmt: skip
    calls = []
    real = cards.render_card
    monkeypatch.setattr(cards, "render_card", lambda *a, **k: calls.append(k) or real(*a, **k))
    page = patient.get("/my/card/print").text
    assert f"Jane Smith, born {BORN}" in page and ICE in page and "call 999" in page
    assert {c["side"] for c in calls} == {"front", "back"}
    assert all(c["ice_line"] == ICE and c["first_name"] == "Jane Smith" for c in calls)
    # and the choices are remembered for the next card
    card_page = patient.get("/my/card").text
    assert 'name="surname" value="yes" checked' in card_page
    assert 'name="contact" value="0" checked' in card_page


def test_a_choice_that_does_not_fit_is_refused_and_no_card_is_made(patient, portal):
    long_name = fixture("summary-typical.json")
    long_name["identity"]["name"] = "Jane " + "W" * 70  # the summary allows 80 characters
    save(patient, long_name)
    response = issue(patient, surname="yes")
    assert response.status_code == 400
    assert "does not fit on the card" in response.text and "No card was made" in response.text
    assert patient_tags(portal) == []
    assert issue(patient).status_code == 302  # the given name alone fits


def test_a_critical_line_that_no_longer_fits_beside_the_finders_lines_is_refused(patient, portal):
    save(patient, fixture("summary-heavy.json"))
    assert issue(patient, **ALL).status_code == 302
    page = patient.get("/my/card").text
    data = {"csrf_token": csrf_from(page), "critical": ["0", "1", "2", "3"]}
    response = patient.post("/my/card/options", data=data)
    assert response.status_code == 400 and "does not fit" in response.text


@pytest.mark.parametrize("contact", ["7", "-1", "x", "9" * 40, ""])
def test_a_contact_choice_that_names_no_contact_prints_none(patient, portal, contact):
    save(patient, fixture("summary-typical.json"))
    assert issue(patient, contact=contact).status_code == 302
    assert card_choices.printed(stored_card(portal))["ice_line"] is None


def test_older_cards_without_choices_still_print_the_first_name():
    assert card_choices.printed({"first_name": "Jane"})["first_name"] == "Jane"


def test_the_card_renderer_refuses_a_finder_line_it_cannot_print():
    with pytest.raises(cards.CardError, match="whoever finds the card is too long"):
        cards.check_card(first_name="Jane", issuer="x", finder_line="call 999 " * 40)
    with pytest.raises(cards.CardError, match="born_year"):
        cards.check_card(first_name="Jane", issuer="x", born_year="1948")
