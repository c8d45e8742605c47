"""The A&E desk: A&E by default, a typed Tag ID shows the card's status only, next patient."""

from __future__ import annotations

import re

import pytest

from tagservice import audit
from tagservice.store import tags
from tagservice.web.desk import NOT_A_SCAN
from tests.helpers import csrf_from, events, path_of, sign_in, tag_id_of

CLINICAL = ("Jane", "Penicillin", "ANAPHYLAXIS")


def desk_post(client, text):
    desk = client.get("/desk")
    return client.post("/desk", data={"csrf_token": csrf_from(desk.text), "tag": text})


def checked_reason(html):
    return re.search(r'value="(\w+)" required\s+checked', html).group(1)


def spaced(tag_id):
    return " ".join(tag_id[i : i + 4] for i in range(0, 16, 4)).upper()


def test_the_reason_defaults_to_a_and_e_at_the_desk_and_to_999_on_the_tag_page(
    client, app, tag_url
):
    sign_in(client, app, role="nurse", register="NMC", registration_number="12A3456E")
    assert checked_reason(desk_post(client, tag_url).text) == "ae"
    assert checked_reason(client.get(path_of(tag_url)).text) == "999"


def test_a_typed_tag_id_shows_the_cards_status_and_nothing_clinical(client, app, settings, tag_url):
    sign_in(client, app, role="nurse", register="NMC", registration_number="12A3456E")
    tag_id = tag_id_of(tag_url, settings)
    response = desk_post(client, spaced(tag_id))
    assert response.status_code == 200
    assert "Active" in response.text and "Scan its QR code" in response.text
    assert not any(word in response.text for word in CLINICAL)
    assert "autofocus" in response.text
    (looked_up,) = events(app, audit.EventKind.TAG_STATUS_LOOKED_UP)
    assert looked_up.tag_id == tag_id and '"status":"active"' in looked_up.details.replace(" ", "")
    assert events(app, audit.EventKind.TAG_SCANNED) == []


@pytest.mark.parametrize(
    ("change", "words"),
    [("revoke", "Cancelled"), ("supersede", "Replaced by a newer card")],
)
def test_a_typed_tag_id_says_when_the_card_no_longer_stands(
    client, app, settings, tag_factory, change, words
):
    sign_in(client, app)
    old = tag_factory()
    tag_id = tag_id_of(old, settings)
    with app.app_context():
        if change == "revoke":
            tags.revoke_tag(tag_id, "lost")
        else:
            tag_factory(supersede=tag_id)
    assert words in desk_post(client, tag_id).text


def test_a_typed_tag_id_never_issued_here_is_not_registered(client, app):
    sign_in(client, app)
    response = desk_post(client, "0123 4567 89ab cdef")
    assert response.status_code == 200 and "Not registered here" in response.text
    assert [e.details for e in events(app, audit.EventKind.TAG_STATUS_LOOKED_UP)]


@pytest.mark.parametrize("typed", ["9434765919", "Jane Smith", "0123 4567 89ab cde"])
def test_other_typed_text_says_what_the_field_takes(client, app, tag_url, typed):
    sign_in(client, app)
    response = desk_post(client, typed)
    assert response.status_code == 400
    assert NOT_A_SCAN.replace("'", "&#39;") in response.text
    assert "damaged" not in response.text.lower()


def test_tag_id_lookups_are_rate_limited_like_desk_scans(client, app):
    sign_in(client, app)
    desk = client.get("/desk")
    data = {"csrf_token": csrf_from(desk.text), "tag": "0123456789abcdef"}
    codes = [client.post("/desk", data=data).status_code for _ in range(121)]
    assert codes[:120] == [200] * 120 and codes[120] == 429


def test_a_summary_opened_at_the_desk_shows_phones_as_text_and_offers_the_next_patient(
    client, app, tag_url
):
    sign_in(client, app, role="nurse", register="NMC", registration_number="12A3456E")
    reason = desk_post(client, tag_url)
    payload = re.search(r'name="tag" value="([^"]+)"', reason.text).group(1)
    summary = client.post(
        "/unlock",
        data={"csrf_token": csrf_from(reason.text), "tag": payload, "reason": "ae", "at": "desk"},
    )
    assert summary.status_code == 200 and "Penicillin" in summary.text
    assert 'href="tel:' not in summary.text
    assert 'href="/desk">Scan next patient' in summary.text


def test_a_summary_opened_on_the_phone_keeps_its_call_links(client, app, tag_url):
    sign_in(client, app)
    page = client.get(path_of(tag_url))
    summary = client.post(
        "/unlock",
        data={"csrf_token": csrf_from(page.text), "tag": path_of(tag_url)[3:], "reason": "999"},
    )
    assert 'href="tel:' in summary.text and "Scan next patient" not in summary.text
