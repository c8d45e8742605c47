"""The patient's linked tags in the portal: make one, change what it opens to (portal_linked.py)."""

from __future__ import annotations

import html
import re

from tagservice.store.models import TagStatus
from tests.helpers import csrf_from, events, fixture, sign_in
from tests.portal_helpers import (
    issue,
    patient_fixture,  # noqa: F401 (the fixture `patient`)
    patient_tags,
    portal_fixture,  # noqa: F401 (the fixture `portal`)
    save,
    signup,
    token,
)


def make_linked(client) -> tuple[str, str]:
    """Make a linked tag from the saved summary; return (tag id, URL shown once)."""
    response = client.post("/my/linked/issue", data={"csrf_token": token(client, "/my/linked")})
    assert response.status_code == 200, response.text
    url = html.unescape(re.search(r"<code>([^<]+/L/[0-9]{39})</code>", response.text).group(1))
    quad = "([0-9A-F]{4})"
    tag_id = re.search("Tag " + "&nbsp;".join([quad] * 4), response.text)
    return "".join(tag_id.groups()).lower(), url


def update_with(client, card: str):
    data = {"csrf_token": token(client, "/my/linked"), "card": card}
    return client.post("/my/linked/update", data=data)


def open_as_clinician(portal, url: str) -> str:
    clinician = portal.test_client()
    sign_in(clinician, portal)
    path = url[url.index("/L/") :]
    page = clinician.get(path)
    form = {"csrf_token": csrf_from(page.text), "tag": path[3:], "reason": "999"}
    return clinician.post("/unlock", data=form).text


def test_the_page_explains_the_two_kinds_in_plain_words(patient):
    page = patient.get("/my/linked").text
    assert "opens even if this service lost its records" in page
    assert "always up to date" in page and "needs this service to open" in page
    assert "either or both" in page


def test_a_patient_makes_a_linked_tag_that_a_clinician_opens(patient, portal):
    save(patient, fixture("summary-typical.json"))
    tag_id, url = make_linked(patient)
    [event] = events(portal, "tag.issued")
    assert (event.actor_type, event.tag_id) == ("patient", tag_id)
    assert "Jane Smith" in open_as_clinician(portal, url)


def test_the_patient_changes_the_summary_behind_the_tag_with_the_same_code(patient, portal):
    save(patient, fixture("summary-typical.json"))
    tag_id, url = make_linked(patient)
    save(patient, fixture("summary-typical.json") | {"note": "Moved house"})
    response = update_with(patient, url)
    assert response.status_code == 302
    assert "nothing needs printing" in patient.get("/my/linked").text
    [event] = events(portal, "tag.updated")
    assert (event.actor_type, event.tag_id) == ("patient", tag_id)
    assert "Moved house" in open_as_clinician(portal, url)


def test_a_finder_signed_in_to_another_account_cannot_change_the_tag(patient, portal):
    save(patient, fixture("summary-typical.json"))
    _, url = make_linked(patient)
    finder = portal.test_client()
    signup(finder, email="finder@example.com")
    save(finder, fixture("summary-minimal.json"))
    response = update_with(finder, url)
    assert response.status_code == 403
    assert "not issued to your account" in response.text
    assert events(portal, "tag.updated") == []
    assert "Jane Smith" in open_as_clinician(portal, url)


def test_the_printed_tag_id_or_a_damaged_code_does_not_change_the_tag(patient, portal):
    save(patient, fixture("summary-typical.json"))
    tag_id, url = make_linked(patient)
    for wrong in (tag_id, url[:-1], url[:-1] + ("1" if url[-1] != "1" else "2"), "x" * 3000):
        response = update_with(patient, wrong)
        assert response.status_code in (400, 403), wrong
        assert "Traceback" not in response.text
    assert events(portal, "tag.updated") == []


def test_a_new_wallet_card_does_not_replace_or_cancel_a_linked_tag(patient, portal):
    save(patient, fixture("summary-typical.json"))
    linked_id, url = make_linked(patient)
    issue(patient, refuse_superseded="yes")
    issue(patient, refuse_superseded="yes")
    by_id = {t.tag_id: t for t in patient_tags(portal)}
    assert by_id[linked_id].status == TagStatus.ACTIVE
    assert by_id[linked_id].superseded_by is None
    assert "Jane Smith" in open_as_clinician(portal, url)


def test_the_service_keeps_no_copy_of_the_linked_code(patient, portal):
    from sqlalchemy import select

    from tagservice.store.db import db

    save(patient, fixture("summary-typical.json"))
    _, url = make_linked(patient)
    digits = url.rsplit("/", 1)[1]
    with portal.app_context():
        rows = [repr(tuple(r)) for t in db.metadata.sorted_tables
                for r in db.session.execute(select(t))]  # fmt: skip
        assert not any(digits in row for row in rows)
        # nor sealed in the patient's row (the wallet card's record, the draft)
        from tagservice.accounts import patients
        from tagservice.store.models import Patient

        for row in db.session.scalars(select(Patient)):
            kept = repr((patients.load_card(row), patients.load_draft(row)))
            assert digits not in kept
    assert digits not in patient.get("/my/card").text


def test_a_signed_out_visitor_cannot_reach_the_linked_pages(portal):
    client = portal.test_client()
    assert client.get("/my/linked").status_code == 302
    assert client.post("/my/linked/update", data={"card": "1" * 39}).status_code in (302, 400)
    assert events(portal, "tag.updated") == []
