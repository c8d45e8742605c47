"""Reception at the A&E desk: records arrival and sees a card's status, never the summary."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import IntegrityError

from tagservice.accounts import clinicians, roles
from tagservice.audit import EventKind
from tagservice.cli.clinicians import clinician_group
from tagservice.keys import generate_kek, write_private
from tagservice.store.db import db
from tagservice.store.models import Clinician
from tagservice.web import auth
from tests.helpers import FAST_ARGON2, csrf_from, events, path_of, sign_in, tag_id_of

RECEPTION = {"role": "receptionist", "register": None, "registration_number": None}
CLINICAL = ("Jane", "Penicillin", "ANAPHYLAXIS")
ADD = ["add", "rita@example.nhs.uk", "--name", "Rita Desk", "--role", "receptionist",
       "--org", "Example NHS Trust"]  # fmt: skip


@pytest.fixture
def keyed(app, settings):
    app.config["ARGON2_PARAMS"] = FAST_ARGON2
    write_private(settings.kek_file, generate_kek())


def test_clinician_add_makes_a_receptionist_without_a_registration(app, runner, keyed):
    result = runner.invoke(clinician_group, ADD)
    assert result.exit_code == 0, result.output
    assert "rita@example.nhs.uk (receptionist, no registration" in result.stdout
    with app.app_context():
        rita = clinicians.get_clinician("rita@example.nhs.uk")
        assert (rita.role, rita.register, rita.registration) == ("receptionist", None, None)
    listed = runner.invoke(clinician_group, ["list"]).stdout
    assert "rita@example.nhs.uk  receptionist  -  Example NHS Trust" in listed
    assert "(cannot unlock)" in listed


def test_a_receptionist_given_a_registration_is_refused(app, runner, keyed):
    result = runner.invoke(
        clinician_group, [*ADD, "--register", "NMC", "--registration", "12A3456E"]
    )
    assert result.exit_code != 0
    assert "has no professional registration" in result.output


def test_a_paramedic_still_needs_a_registration(app, runner, keyed):
    args = ["add", "p@example.nhs.uk", "--name", "P", "--role", "paramedic", "--org", "X"]
    result = runner.invoke(clinician_group, args)
    assert result.exit_code != 0 and "needs --register and --registration" in result.output


def test_the_database_refuses_a_paramedic_without_a_registration(app_context):
    db.session.add(
        Clinician(
            email="x@example.org", name="X", role="paramedic", organisation="O", status="active"
        )  # fmt: skip
    )
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


@pytest.fixture
def receptionist(client, app):
    return sign_in(client, app, **RECEPTION)


def desk_post(client, text):
    desk = client.get("/desk")
    return client.post("/desk", data={"csrf_token": csrf_from(desk.text), "tag": text})


def test_a_scan_at_the_desk_records_arrival_and_shows_the_status_only(
    client, app, settings, receptionist, tag_url
):
    assert "record their arrival" in client.get("/desk").text
    response = desk_post(client, tag_url)
    assert response.status_code == 200
    assert "Arrival recorded" in response.text and "Active" in response.text
    assert roles.CANNOT_OPEN.replace("'", "&#39;") in response.text
    assert not any(word in response.text for word in CLINICAL)
    assert 'name="reason"' not in response.text
    (arrival,) = events(app, EventKind.TAG_ARRIVAL_RECORDED)
    assert arrival.tag_id == tag_id_of(tag_url, settings) and arrival.role == "receptionist"
    assert arrival.registration is None and json.loads(arrival.details) == {"status": "active"}
    assert events(app, EventKind.TAG_UNLOCKED) == []


def test_a_receptionist_following_a_tag_link_sees_its_status_and_no_reason_form(
    client, app, receptionist, tag_url
):
    response = client.get(path_of(tag_url))
    assert response.status_code == 200 and "Card status" in response.text
    assert 'name="reason"' not in response.text
    assert events(app, EventKind.TAG_ARRIVAL_RECORDED) == []


@pytest.mark.parametrize("override", ["", "yes"])
def test_a_receptionist_cannot_unlock_a_page_even_with_the_override(
    client, app, receptionist, tag_url, override
):
    csrf = csrf_from(client.get("/desk").text)
    form = {"csrf_token": csrf, "tag": path_of(tag_url)[3:], "reason": "other",
            "reason_text": "patient unconscious", "override": override}  # fmt: skip
    response = client.post("/unlock", data=form)
    assert response.status_code == 403
    assert "cannot open the clinical summary" in response.text
    assert not any(word in response.text for word in CLINICAL)
    (denied,) = events(app, EventKind.TAG_UNLOCK_DENIED)
    assert json.loads(denied.details)["why"] == "role" and denied.role == "receptionist"
    assert events(app, EventKind.TAG_UNLOCKED) == []


def test_a_receptionist_cannot_unlock_through_the_api(app, settings, tag_url, keyed):
    client = app.test_client()
    with app.app_context():
        rita, _, _ = clinicians.add_clinician(
            "rita@example.nhs.uk", "Rita", "receptionist", "", "", "Trust",
            password="a long enough passphrase",
        )  # fmt: skip
    with app.test_request_context():
        token, _ = auth.issue_api_token(db.session.get(Clinician, rita.id))
        db.session.commit()
    response = client.post(
        "/api/v1/unlock",
        json={"tag": tag_url, "reason": "ae"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 403
    assert response.get_json()["error"] == "role_cannot_open"
    assert "summary" not in response.get_json()


def test_a_typed_tag_id_still_shows_the_status_to_reception(
    client, app, settings, receptionist, tag_url
):
    response = desk_post(client, tag_id_of(tag_url, settings))
    assert response.status_code == 200 and "Active" in response.text
    assert events(app, EventKind.TAG_ARRIVAL_RECORDED) == []


def test_the_patient_sees_an_arrival_as_nothing_read(app):
    from tagservice.audit.access_log import _describe
    from tagservice.store.models import AuditEvent

    event = AuditEvent(
        kind=EventKind.TAG_ARRIVAL_RECORDED,
        actor_type="clinician",
        actor_id="3",
        role="receptionist",
        organisation="Trust",
        created_at=datetime.now(UTC),
    )
    what, who = _describe(event, {"3": "Rita Desk"})
    assert "arrival was recorded" in what and who == "Rita Desk (Receptionist, Trust)"


def test_the_receptionists_account_page_says_it_opens_no_summary(client, app, receptionist):
    assert "opens no summary" in client.get("/account").text
