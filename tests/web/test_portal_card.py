"""The patient's cards: issue, supersede, revoke, print, download, access log (portal_card.py)."""

from __future__ import annotations

import pytest

import cards
from tagservice.store import tags
from tagservice.store.models import TagStatus
from tests.helpers import csrf_from, events, fixture, sign_in, unlock_form
from tests.portal_helpers import (
    issue,
    issued_card,
    keys_tag_id,
    patient_fixture,  # noqa: F401 (the fixture `patient`)
    patient_tags,
    portal_fixture,  # noqa: F401 (the fixture `portal`)
    revoke,
    save,
    scan_path,
)

# --- cards ---------------------------------------------------------------------------


def test_issuing_makes_a_card_that_a_clinician_can_open(patient, portal):
    url = issued_card(patient, portal)
    (tag,) = patient_tags(portal)
    assert tag.status == TagStatus.ACTIVE and tag.patient_id is not None
    (issued,) = events(portal, "tag.issued")
    assert issued.actor_type == "patient" and issued.tag_id == tag.tag_id
    clinician = portal.test_client()
    sign_in(clinician, portal)
    opened = unlock_form(clinician, url)
    assert opened.status_code == 200 and "Jane Smith" in opened.text


def test_reissuing_supersedes_the_old_card_which_then_opens_with_a_warning(patient, portal):
    old_url = issued_card(patient, portal)
    save(patient, fixture("summary-typical.json") | {"note": "Moved house"})
    issue(patient)
    old, new = patient_tags(portal)
    assert (old.status, old.superseded_by, new.status) == ("superseded", new.tag_id, "active")
    clinician = portal.test_client()
    sign_in(clinician, portal)
    opened = unlock_form(clinician, old_url)
    assert "replaced by a newer one" in opened.text and "Moved house" not in opened.text


def test_refusing_old_cards_revokes_the_old_one_on_reissue(patient, portal):
    old_url = issued_card(patient, portal)
    issue(patient, refuse_superseded="yes")
    old, new = patient_tags(portal)
    assert (old.status, new.status) == ("revoked", "active")
    assert portal.test_client().get(scan_path(old_url)).status_code == 410
    assert "Cancel my old card" in patient.get("/my/card").text
    assert 'name="refuse_superseded" value="yes" checked' in patient.get("/my/card").text


def test_revoking_a_lost_card_makes_scanning_it_refused(patient, portal):
    url = issued_card(patient, portal)
    (tag,) = patient_tags(portal)
    assert revoke(patient, tag.tag_id).status_code == 302
    assert portal.test_client().get(scan_path(url)).status_code == 410
    (event,) = events(portal, "tag.revoked")
    assert event.actor_type == "patient"
    assert "Your last card" in patient.get("/my/card").text
    assert patient.get("/my/card/print").location == "/my/card"  # nothing to print


def test_revoking_needs_a_reason_and_a_tick(patient, portal):
    issued_card(patient, portal)
    (tag,) = patient_tags(portal)
    assert revoke(patient, tag.tag_id, confirm="").status_code == 400
    assert revoke(patient, tag.tag_id, reason="").status_code == 400
    assert patient_tags(portal)[0].status == "active"


def test_a_patient_cannot_revoke_someone_elses_card(patient, portal, tag_factory):
    url = tag_factory()
    with portal.app_context():
        other = tags.get_tag(keys_tag_id(url, portal)).tag_id
    assert revoke(patient, other).status_code == 404
    assert patient_tags(portal)[0].status == "active"


def test_the_print_view_shows_the_qr_and_no_critical_line_until_one_is_ticked(patient, portal):
    issued_card(patient, portal)
    page = patient.get("/my/card/print").text
    assert 'src="data:image/png;base64,' in page and "Jane" in page
    assert "ANAPHYLAXIS" not in page and "Smith" not in page
    card_page = patient.get("/my/card").text
    assert "ANAPHYLAXIS: Penicillin" in card_page
    data = {"csrf_token": csrf_from(card_page), "critical": ["0"]}
    assert patient.post("/my/card/options", data=data).status_code == 302
    assert "ANAPHYLAXIS: Penicillin" in patient.get("/my/card/print").text


def test_downloads_pass_the_card_details_to_the_card_renderer(patient, portal, monkeypatch):
    calls = []

    def fake_render(url, **kwargs):
        calls.append((url, kwargs))
        return b"%PDF-fake" if kwargs["fmt"] == "pdf" else b"\x89PNG-fake"

    monkeypatch.setattr(cards, "render_card", fake_render)
    url = issued_card(patient, portal)
    response = patient.get("/my/card/card.pdf?sheet=1")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "attachment" in response.headers["Content-Disposition"]
    ((called_url, kwargs),) = calls
    assert called_url == url
    assert kwargs["first_name"] == "Jane" and kwargs["critical_line"] is None
    assert (kwargs["layout"], kwargs["fmt"], kwargs["sheet"]) == ("wallet", "pdf", True)
    assert patient.get("/my/card/card.png?side=back&sheet=1").mimetype == "image/png"
    assert calls[-1][1]["sheet"] is False  # a sheet is a PDF only
    assert calls[-1][1]["side"] == "back"
    for bad in ("card.gif", "card.png?side=inside", "card.pdf?layout=bracelet"):
        assert patient.get(f"/my/card/{bad}").status_code == 404, bad


def test_a_card_the_renderer_cannot_draw_says_why_on_the_card_page(patient, portal, monkeypatch):
    def refuse(_url, **_kwargs):
        raise cards.CardError("the first name uses characters the card font cannot print")

    monkeypatch.setattr(cards, "render_card", refuse)
    issued_card(patient, portal)
    response = patient.get("/my/card/card.pdf")
    assert response.status_code == 422 and "card font cannot print" in response.text


@pytest.mark.skipif(not hasattr(cards, "render_card"), reason="cards.render_card not written yet")
def test_the_real_card_renderer_gives_pngs_and_pdfs(patient, portal):
    issued_card(patient, portal)
    assert patient.get("/my/card/card.png").data.startswith(b"\x89PNG")
    assert patient.get("/my/card/card.pdf").data.startswith(b"%PDF")
    assert patient.get("/my/card/card.pdf?sheet=1").data.startswith(b"%PDF")
    assert patient.get("/my/card/card.pdf?layout=keyring").data.startswith(b"%PDF")


def test_critical_lines_that_do_not_fit_the_back_are_refused(patient, portal):
    issued_card(patient, portal, fixture("summary-heavy.json"))
    page = patient.get("/my/card").text
    data = {"csrf_token": csrf_from(page), "critical": ["0", "1", "2", "3", "4", "5"]}
    response = patient.post("/my/card/options", data=data)
    assert response.status_code == 400 and 'id="options-error"' in response.text
    assert "ANAPHYLAXIS" not in patient.get("/my/card/print").text


# --- the access log ----------------------------------------------------------------


def test_the_access_log_shows_who_opened_the_card_and_why(patient, portal):
    url = issued_card(patient, portal)
    clinician = portal.test_client()
    sign_in(clinician, portal, name="Sam Carter", organisation="North Ambulance Service")
    unlock_form(clinician, url, reason="other", reason_text="Fall at home, confused")
    page = patient.get("/my/access").text
    assert "Opened and read" in page
    assert "Sam Carter (Paramedic, North Ambulance Service)" in page
    assert "Fall at home, confused" in page and "You made this card" in page


def test_the_access_log_shows_only_the_patients_own_cards(patient, portal, tag_factory):
    issued_card(patient, portal)
    other_url = tag_factory()
    clinician = portal.test_client()
    sign_in(clinician, portal, name="Sam Carter")
    unlock_form(clinician, other_url)
    assert "Sam Carter" not in patient.get("/my/access").text
