"""The summary editor, live meter, import and export (portal_summary.py, portal_forms.py)."""

from __future__ import annotations

import json
import re

import pytest
from fhir.resources.R4B.bundle import Bundle

from tagservice.store.db import db
from tagservice.summary import model as summary_model
from tests.helpers import FIXTURES, fixture
from tests.portal_helpers import (
    SHARED_IPS,
    field_html,
    fields_of,
    issue,
    oversized,
    patient_fixture,  # noqa: F401 (the fixture `patient`)
    patient_tags,
    portal_fixture,  # noqa: F401 (the fixture `portal`)
    save,
    token,
    upload,
)

# --- the editor ----------------------------------------------------------------------


def test_a_valid_summary_is_saved_and_the_meter_says_how_full_the_card_is(patient):
    response = save(patient, fixture("summary-typical.json"))
    assert response.status_code == 200
    meter = re.search(r'<meter id="meter"[^>]*value="(\d+)"', response.text)
    assert 0 < int(meter.group(1)) < 100
    assert re.search(r"Your card is \d+% full", response.text)
    again = patient.get("/my/summary").text
    assert 'value="Jane Smith"' in again and "Penicillin" in again


def test_invalid_fields_get_their_errors_next_to_them(patient):
    summary = fixture("summary-typical.json")
    summary["identity"]["nhs_number"] = "943 476 5918"
    summary["contacts"][0]["phone"] = "ring me"
    page = save(patient, summary).text
    for field_id, message in [
        ("f-identity-nhs-number", "not a valid NHS number"),
        ("f-contacts-0-phone", "can only contain digits"),
    ]:
        html = field_html(page, field_id)
        assert 'aria-invalid="true"' in html and f"{field_id}-error" in html
        assert re.search(rf'id="{field_id}-error">[^<]*{message}', page)
        assert f'href="#{field_id}"' in page  # the error summary links to it
    assert "Fix 2 problems to see how full your card is." in page


def test_every_error_in_the_summary_at_the_top_links_to_something_on_the_page(patient):
    summary = oversized()
    summary["allergies"] = [{"substance": f"Thing {i}"} for i in range(21)]
    summary["no_known_allergies"] = True
    summary["identity"]["date_of_birth"] = "2999-01-01"
    summary["alerts"].append({"code": "other"})
    for page in (save(patient, summary).text, save(patient, oversized()).text):
        targets = re.findall(r'<li><a href="#([^"]+)">', page)
        assert targets
        for target in targets:
            assert f'id="{target}"' in page, target


def test_an_odd_json_import_is_shown_as_problems_not_a_crash(patient):
    odd = {
        "identity": "Jane",
        "allergies": "penicillin",
        "medications": [1, {"name": 5}],
        "contacts": [{"name": "Jo", "phone": "07700 900123", "extra": {"a": 1}}],
        "note": 7,
    }
    response = upload(patient, json.dumps(odd).encode())
    assert response.status_code == 200
    assert 'value="Jo"' in response.text and "Name is required." in response.text


def test_blank_rows_are_dropped_and_rows_can_be_added_and_removed(patient):
    fields = fields_of(fixture("summary-typical.json"))
    fields |= {"allergies[1].substance": "", "allergies[2].substance": "Latex"}
    page = save(patient, fields, action="add:allergies").text
    assert 'id="f-allergies-1-substance" name="allergies[1].substance" type="text" value="Latex"' \
        in page  # fmt: skip
    assert 'id="f-allergies-3-substance"' in page  # two blank rows after "add"
    fields = fields_of(fixture("summary-typical.json")) | {"allergies[1].substance": "Latex"}
    page = save(patient, fields, action="remove:allergies:0").text
    assert 'value="Latex"' in page and 'value="Penicillin"' not in page


def test_the_live_meter_checks_the_form_without_saving_it(patient):
    fields = fields_of(fixture("summary-typical.json"))
    data = {"csrf_token": token(patient)} | fields
    report = patient.post("/my/summary/meter", data=data).get_json()
    assert report["valid"] and report["meter"]["fits"] and 0 < report["meter"]["percent"] < 100
    assert "Jane" not in patient.get("/my/summary").text


def test_an_over_capacity_summary_is_refused_naming_the_fields_to_shorten(patient, portal):
    page = save(patient, oversized()).text
    assert "Too long for the card" in page and "Shorten or remove: Note" in page
    assert re.search(r'id="f-note-error">Note: your summary is \d+% too long for the card', page)
    response = issue(patient)
    assert response.status_code == 400
    assert "Your card was not made" in response.text and "<strong>Note</strong>" in response.text
    assert patient_tags(portal) == []


def test_the_draft_is_stored_encrypted(patient, portal):
    save(patient, fixture("summary-typical.json"))
    with portal.app_context():
        row = db.session.execute(db.text("SELECT * FROM patient")).mappings().one()
    assert "Jane" not in json.dumps(dict(row), default=str)
    assert "Penicillin" not in json.dumps(dict(row), default=str)


# --- import and export -------------------------------------------------------------


def test_importing_a_fhir_ips_bundle_fills_the_editor_and_shows_its_warnings(patient):
    response = upload(patient, (FIXTURES / "fhir" / "uk-patient.json").read_bytes())
    assert response.status_code == 200
    assert 'value="Margaret Ann Thompson"' in response.text
    assert "Skipped 1 immunization: not part of the emergency summary" in response.text
    assert 'value="Margaret Ann Thompson"' in patient.get("/my/summary").text


@pytest.mark.parametrize(
    "path", sorted(SHARED_IPS.glob("*.json")) if SHARED_IPS.is_dir() else [], ids=lambda p: p.stem
)
def test_the_public_ips_examples_import(patient, path):
    response = upload(patient, path.read_bytes())
    assert response.status_code == 200 and "Imported." in response.text


def test_an_attested_import_becomes_self_reported_and_says_why(patient):
    response = upload(patient, (SHARED_IPS / "Bundle-IPS-examples-Bundle-01.json").read_bytes())
    assert "marked as entered by you" in response.text
    export = patient.get("/my/summary/export.json").get_json()
    assert export["meta"]["source"] == "self-reported" and "verified_by" not in export["meta"]


# broken-invalid-structure (one malformed element) now imports with a note (issue 13)
@pytest.mark.parametrize("name", ["broken-not-a-bundle", "broken-no-patient"])  # fmt: skip
def test_a_broken_file_is_refused_with_a_reason_and_the_draft_kept(patient, name):
    save(patient, fixture("summary-typical.json"))
    response = upload(patient, (FIXTURES / "fhir" / f"{name}.json").read_bytes())
    assert response.status_code == 400 and 'id="bundle-error"' in response.text
    assert 'value="Jane Smith"' in response.text


def test_a_file_that_is_not_json_is_refused(patient):
    response = upload(patient, b"\x89PNG not json")
    assert response.status_code == 400 and "not JSON" in response.text


def test_export_fhir_is_a_valid_ips_bundle_that_imports_back_to_the_same_summary(patient):
    summary = fixture("summary-heavy.json")
    del summary["meta"]["verified_by"]
    summary["meta"]["source"] = "self-reported"
    save(patient, summary)
    before = patient.get("/my/summary/export.json").get_json()
    response = patient.get("/my/summary/export.fhir.json")
    assert response.mimetype == "application/fhir+json"
    assert "attachment" in response.headers["Content-Disposition"]
    Bundle.model_validate(response.get_json())
    upload(patient, response.data)
    assert patient.get("/my/summary/export.json").get_json() == before


def test_export_json_is_the_validated_summary(patient):
    save(patient, fixture("summary-typical.json"))
    response = patient.get("/my/summary/export.json")
    assert response.mimetype == "application/json"
    exported = response.get_json()
    assert exported == summary_model.validate(exported)
    assert exported["identity"]["nhs_number"] == "9434765919"


def test_an_invalid_draft_is_not_exported(patient):
    summary = fixture("summary-typical.json")
    summary["identity"]["date_of_birth"] = "2999-01-01"
    save(patient, summary)
    response = patient.get("/my/summary/export.fhir.json")
    assert response.status_code == 409 and "Fix the problems below" in response.text


# --- red lines derived as the patient types (issue 13) ------------------------------------


def red_lines(page: str) -> list[str]:
    section = page[page.index('id="critical-lines"'):page.index("</ul>", page.index(
        'id="critical-lines"'))]
    return [re.sub(r"<[^>]+>", "", line) for line in re.findall(
        r'<li class="alert-critical">(.*?)</li>', section)]


def test_an_allergy_typed_with_reaction_anaphylaxis_and_severity_severe_shows_the_red_line(
        patient):
    summary = fixture("summary-minimal.json")
    summary["allergies"] = [{"substance": "Penicillin", "reaction": "Anaphylaxis",
                             "severity": "severe"}]

    page = save(patient, summary).text

    assert red_lines(page) == ["ANAPHYLAXIS: Penicillin"]


def test_a_brand_name_anticoagulant_typed_in_the_editor_shows_the_red_line(patient):
    summary = fixture("summary-minimal.json")
    summary["medications"] = [{"name": "Eliquis 2.5mg"}, {"name": "Lantus"}]

    page = save(patient, summary).text

    assert red_lines(page) == ["ANTICOAGULANT: Eliquis 2.5mg", "INSULIN-TREATED DIABETES: Lantus"]
    assert 'id="critical-none" hidden' in page


def test_the_live_meter_returns_the_red_lines_for_the_form_as_typed(patient):
    fields = fields_of(fixture("summary-minimal.json")) | {
        "allergies[0].substance": "Peanut", "allergies[0].reaction": "anaphylactic shock",
        "medications[0].name": "Warfarin stopped"}

    answer = patient.post("/my/summary/meter", data={"csrf_token": token(patient)} | fields).json

    assert answer["critical"] == ["ANAPHYLAXIS: Peanut"]


def test_importing_a_record_bigger_than_a_card_shows_the_proposal_before_a_card_is_made(patient):
    patient_resource = {"resourceType": "Patient", "name": [{"text": "Test Patient"}],
                        "birthDate": "1950-01-01"}
    conditions = [{"resourceType": "Condition", "subject": {"reference": "urn:uuid:p"},
                   "code": {"text": f"Long-standing condition number {n} on the problem list"}}
                  for n in range(37)]
    warfarin = {"resourceType": "MedicationStatement", "status": "active",
                "subject": {"reference": "urn:uuid:p"},
                "medicationCodeableConcept": {"coding": [
                    {"system": "http://www.whocc.no/atc", "code": "B01AA03"}]}}
    bundle = {"resourceType": "Bundle", "type": "searchset", "entry": [
        {"fullUrl": "urn:uuid:p", "resource": patient_resource}, {"resource": warfarin},
        *({"resource": c} for c in conditions)]}

    page = upload(patient, json.dumps(bundle).encode()).text

    assert "Your record is bigger than a card" in page
    assert re.search(r"<li><bdi>\d+ conditions — Long-standing condition", page)
    assert red_lines(page) == ["ANTICOAGULANT: Warfarin"]  # named from its ATC code
