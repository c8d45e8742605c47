"""The back line is chosen before issuing, checked by the card renderer as the patient ticks."""

from __future__ import annotations

import html

import pytest

import cards
from tagservice.accounts import patient_tags as tags_module
from tagservice.accounts import patients
from tagservice.store.db import db
from tagservice.store.models import Patient
from tagservice.summary import alerts
from tests.helpers import csrf_from, fixture
from tests.portal_helpers import (
    issue,
    patient_fixture,  # noqa: F401 (the fixture `patient`)
    patient_tags,
    portal_fixture,  # noqa: F401 (the fixture `portal`)
    save,
    token,
)

HEAVY_LINES = alerts.critical_alerts(fixture("summary-heavy.json"))
FINDER = {"surname": "yes", "born_year": "yes", "finder": "yes", "contact": "0"}


def fit(client, **form):
    data = {"csrf_token": token(client, "/my/card")} | form
    return client.post("/my/card/fit", data=data, headers={"Accept": "application/json"})


def saved_back(app) -> list[str]:
    with app.app_context():
        return patients.load_print_critical(db.session.scalars(db.select(Patient)).one())


def renderer_fits(app, critical_line: str | None, **in_clear) -> bool:
    """The renderer's own answer, asked directly (the oracle for the page's answer)."""
    with app.test_request_context():
        issuer = tags_module.issuer_name()
    try:
        cards.check_card(issuer=issuer, critical_line=critical_line, **in_clear)
    except cards.CardError:
        return False
    return True


def test_the_back_lines_are_offered_with_the_make_a_card_form_before_the_first_card(patient):
    save(patient, fixture("summary-heavy.json"))
    page = patient.get("/my/card").text
    assert "You have no card yet" in page
    form = page[page.index('id="make-card"') :]
    for line in HEAVY_LINES:
        assert f'name="critical" value="{html.escape(line)}"' in form
    assert 'name="critical" value="ANAPHYLAXIS: Penicillin" checked' not in form  # opt-in


def test_a_back_line_ticked_before_issuing_is_printed_on_the_new_card(patient, portal):
    save(patient, fixture("summary-heavy.json"))
    response = issue(patient, critical=[HEAVY_LINES[0], HEAVY_LINES[1]])
    assert response.status_code == 302
    assert saved_back(portal) == HEAVY_LINES[:2]
    printed = patient.get("/my/card/print").text
    assert html.escape(f"ALERT: {HEAVY_LINES[0]}; {HEAVY_LINES[1]}.") in printed
    # and the next card's form starts from the same choice: nothing is lost
    form = patient.get("/my/card").text.split('id="make-card"')[1]
    assert f'value="{HEAVY_LINES[0]}" checked' in form


def test_back_lines_that_do_not_fit_are_refused_before_issuing_and_the_ticks_kept(patient, portal):
    save(patient, fixture("summary-heavy.json"))
    response = issue(patient, critical=HEAVY_LINES, **FINDER)
    assert response.status_code == 400
    assert "does not fit on the back of the card" in response.text
    assert "No card was made" in response.text and "never cut short" in response.text
    assert patient_tags(portal) == []
    form = response.text.split('id="make-card"')[1]
    for line in HEAVY_LINES:
        assert f'value="{html.escape(line)}" checked' in form  # the patient's ticks stay
    assert 'name="surname" value="yes" checked' in form


def test_the_live_check_gives_the_renderers_own_answer_for_each_choice(patient, portal):
    save(patient, fixture("summary-heavy.json"))
    heavy = fixture("summary-heavy.json")
    contact = heavy["contacts"][0]
    in_clear = {"first_name": heavy["identity"]["name"],
                "born_year": int(heavy["identity"]["date_of_birth"][:4]),
                "finder_line": "If found, call 999 or hand to a paramedic.",
                "ice_line": f"In an emergency call {contact['name']} ({contact['relationship']}): "
                            f"{contact['phone']}"}  # fmt: skip
    answers = []
    for end in range(len(HEAVY_LINES) + 1):
        lines = HEAVY_LINES[:end]
        response = fit(patient, critical=lines, **FINDER)
        assert response.status_code == 200 and response.is_json
        expected = renderer_fits(portal, "; ".join(lines) or None, **in_clear)
        assert response.json["fits"] is expected, lines
        answers.append(expected)
        if not expected:  # what fits is said, and it really fits
            fitting = response.json["fitting"]
            assert fitting == lines[: len(fitting)]
            assert renderer_fits(portal, "; ".join(fitting) or None, **in_clear)
    assert True in answers and False in answers  # both answers were exercised


def test_the_live_check_saves_nothing_and_issues_nothing(patient, portal):
    save(patient, fixture("summary-heavy.json"))
    assert fit(patient, critical=HEAVY_LINES[:1]).json["fits"] is True
    assert patient_tags(portal) == [] and saved_back(portal) == []


def test_a_ticked_line_the_summary_no_longer_has_is_refused_never_swapped(patient, portal):
    save(patient, fixture("summary-heavy.json"))
    gone = "ANAPHYLAXIS: Peanut"
    response = issue(patient, critical=[gone, HEAVY_LINES[0]])
    assert response.status_code == 400 and "have changed since this page" in response.text
    assert patient_tags(portal) == []
    answer = fit(patient, critical=[gone]).json
    assert answer["fits"] is False and "changed" in answer["text"]


def test_the_live_check_needs_the_forms_csrf_token(patient):
    save(patient, fixture("summary-heavy.json"))
    response = patient.post("/my/card/fit", data={"critical": HEAVY_LINES[0]})
    assert response.status_code == 400
    assert b"fits" not in response.data


def test_the_live_check_without_a_summary_is_a_json_error(patient):
    response = fit(patient)
    assert response.status_code == 409 and response.json["error"] == "no_summary"


def test_the_live_check_is_rate_limited(patient):
    save(patient, fixture("summary-heavy.json"))
    csrf = token(patient, "/my/card")
    codes = [patient.post("/my/card/fit", data={"csrf_token": csrf, "critical": "x"}).status_code
             for _ in range(31)]  # fmt: skip
    assert codes[:30] == [200] * 30 and codes[30] == 429


@pytest.mark.parametrize("count", [1, 500])
def test_many_forged_back_values_are_refused_without_drawing_the_card(patient, count, monkeypatch):
    save(patient, fixture("summary-heavy.json"))
    drawn = []
    monkeypatch.setattr(cards, "check_card", lambda **kw: drawn.append(kw))
    answer = fit(patient, critical=[f"LINE {i}" for i in range(count)]).json
    assert answer["fits"] is False and drawn == []


def test_the_after_issue_form_still_changes_the_back_of_the_card(patient, portal):
    save(patient, fixture("summary-heavy.json"))
    assert issue(patient).status_code == 302
    page = patient.get("/my/card").text
    data = {"csrf_token": csrf_from(page), "critical": ["1"]}
    assert patient.post("/my/card/options", data=data).status_code == 302
    assert saved_back(portal) == [HEAVY_LINES[1]]
