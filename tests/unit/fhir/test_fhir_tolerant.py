"""Tolerant import (fhir/tolerant.py): malformed shapes seen in real public IPS bundles.

Each of these was the reason a whole real bundle was refused before issue 13;
now the bundle imports, the bad element is left out or repaired, and the
warning names the resource, its position and the element, never a value.
"""

from __future__ import annotations

import json
from datetime import date

import pytest

from tagservice.fhir.importer import FhirImportError, summary_from_ips
from tagservice.fhir.tolerant import MAX_ENTRIES
from tagservice.summary import fit
from tagservice.summary.alerts import critical_alerts
from tests.paths import FIXTURES, SHARED_IPS

TODAY = date(2026, 11, 1)
P = "urn:uuid:00000000-0000-4000-8000-000000000001"
SUBJECT = {"reference": P}
PATIENT = {"resourceType": "Patient", "name": [{"text": "Test Patient"}],
           "birthDate": "1950-01-01"}
REAL_BUNDLES = sorted(
    [*(FIXTURES / "real-ips").glob("*.json"),
     *(SHARED_IPS).glob("*.json")])


def bundle(*resources: dict, kind: str = "document") -> dict:
    return {"resourceType": "Bundle", "type": kind, "entry": [
        {"fullUrl": P, "resource": PATIENT},
        *({"fullUrl": f"urn:uuid:r{i}", "resource": r} for i, r in enumerate(resources))]}


def composition(**changes) -> dict:
    return {"resourceType": "Composition", "status": "final", "type": {"text": "Summary"},
            "subject": SUBJECT, "date": "2026-10-01", "author": [SUBJECT], "title": "Summary",
            **changes}


PENICILLIN = {"resourceType": "AllergyIntolerance", "patient": SUBJECT,
              "code": {"text": "Penicillin"}, "criticality": "high"}


def test_a_device_name_without_its_type_is_left_out_and_the_allergy_still_imports():
    device = {"resourceType": "Device", "deviceName": [{"name": "EHR system"}]}

    summary, warnings = summary_from_ips(bundle(device, PENICILLIN), TODAY)

    assert summary["allergies"] == [{"substance": "Penicillin", "severity": "anaphylaxis"}]
    assert ("Malformed part of the file: Device at Bundle.entry[1]: left out deviceName[0] "
            "(a required part is missing); the rest was read") in warnings


def test_a_composition_section_without_text_div_and_author_as_one_object_are_read():
    section = {"title": "Allergies", "code": {"coding": [{"system": "http://loinc.org",
                                                          "code": "48765-2"}]},
               "text": {"status": "generated"}, "entry": [{"reference": "urn:uuid:r1"}]}
    header = composition(author={"reference": P}, section=[section])

    summary, warnings = summary_from_ips(bundle(header, PENICILLIN), TODAY)

    assert summary["allergies"][0]["substance"] == "Penicillin"
    [problem] = [w for w in warnings if w.startswith("Malformed part of the file: Composition")]
    assert "read author as a list of one" in problem
    assert "left out section[0].text (a required part is missing)" in problem


def test_an_r5_style_medication_ingredient_is_left_out_and_the_medicine_named():
    medication = {"resourceType": "Medication", "id": "m1", "code": {"text": "Apixaban 5 mg"},
                  "ingredient": [{"item": {"concept": {"text": "apixaban"}}}]}
    statement = {"resourceType": "MedicationStatement", "status": "active", "subject": SUBJECT,
                 "medicationReference": {"reference": "Medication/m1"}}

    summary, warnings = summary_from_ips(bundle(medication, statement), TODAY)

    assert summary["medications"] == [{"name": "Apixaban 5 mg"}]
    assert summary["alerts"] == [{"code": "anticoagulant", "text": "Apixaban 5 mg"}]
    assert any("Medication at Bundle.entry[1]: left out ingredient" in w for w in warnings)


def test_a_searchset_holding_a_document_bundle_is_read_one_level_down():
    inner = bundle(PENICILLIN)
    outer = {"resourceType": "Bundle", "type": "searchset", "entry": [
        {"resource": inner, "search": {"mode": "match"}}]}

    summary, _ = summary_from_ips(outer, TODAY)

    assert summary["identity"]["name"] == "Test Patient"
    assert summary["allergies"][0]["substance"] == "Penicillin"


def test_a_medicine_known_only_by_its_atc_code_is_named_from_the_code():
    statement = {"resourceType": "MedicationStatement", "status": "active", "subject": SUBJECT,
                 "medicationCodeableConcept": {"coding": [{"system": "http://www.whocc.no/atc",
                                                           "code": "B01AF01"}]}}

    summary, _ = summary_from_ips(bundle(statement), TODAY)

    assert summary["medications"] == [{"name": "Rivaroxaban"}]
    assert summary["alerts"] == [{"code": "anticoagulant", "text": "Rivaroxaban"}]


@pytest.mark.parametrize(("status", "verification"), [
    ("inactive", None), ("resolved", None), (None, "refuted"), (None, "entered-in-error")])
def test_a_refuted_or_resolved_anaphylaxis_allergy_gives_nothing(status, verification):
    allergy = {**PENICILLIN, "reaction": [{"manifestation": [{"text": "Anaphylaxis"}]}]}
    if status:
        allergy["clinicalStatus"] = {"coding": [{"code": status}]}
    if verification:
        allergy["verificationStatus"] = {"coding": [{"code": verification}]}

    summary, _ = summary_from_ips(bundle(allergy), TODAY)

    assert summary["allergies"] == []


@pytest.mark.parametrize("status", ["stopped", "completed", "entered-in-error"])
def test_a_stopped_anticoagulant_raises_no_alert(status):
    statement = {"resourceType": "MedicationStatement", "status": status, "subject": SUBJECT,
                 "medicationCodeableConcept": {"text": "Warfarin"}}

    summary, _ = summary_from_ips(bundle(statement), TODAY)

    assert summary["medications"] == [] and summary["alerts"] == []


def test_a_long_dose_instruction_offers_its_structured_dose_to_fitting():
    statement = {"resourceType": "MedicationStatement", "status": "active", "subject": SUBJECT,
                 "medicationCodeableConcept": {"text": "Metformin"}, "dosage": [{
                     "text": "850 mg, Oral, 2 TIMES DAILY WITH MEALS Starting Sun 2/18/2024",
                     "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
                     "doseAndRate": [{"doseQuantity": {"value": 850, "unit": "mg"}}]}]}

    raw, _ = summary_from_ips(bundle(statement), TODAY)
    fitted = fit.fit(raw, "https://tags.example.nhs.uk", TODAY)

    assert fitted.summary["medications"] == [
        {"name": "Metformin", "dose": "850 mg", "frequency": "twice daily"}]


def test_too_many_entries_is_refused_with_a_clear_bound():
    many = {"resourceType": "Bundle", "type": "collection",
            "entry": [{"resource": {"resourceType": "Basic"}}] * (MAX_ENTRIES + 1)}

    with pytest.raises(FhirImportError, match="the most this service reads is"):
        summary_from_ips(many, TODAY)


@pytest.mark.skipif(not REAL_BUNDLES, reason="no real public IPS bundles found")
@pytest.mark.parametrize("path", REAL_BUNDLES, ids=lambda p: p.name)
def test_every_real_public_bundle_imports_or_is_refused_in_one_line(path):
    try:
        summary, warnings = summary_from_ips(json.loads(path.read_text("utf-8")), TODAY)
    except FhirImportError as refused:
        assert "\n" not in str(refused)
        return
    assert isinstance(summary["allergies"], list) and all(isinstance(w, str) for w in warnings)


def test_a_wheelchair_recorded_as_a_device_gives_no_implanted_device_line_but_a_stent_does():
    def device(name: str) -> dict:
        return {"resourceType": "Device", "patient": SUBJECT,
                "deviceName": [{"name": name, "type": "user-friendly-name"}]}

    summary, warnings = summary_from_ips(bundle(device("rolstoel"), device("Coronary stent")),
                                         TODAY)

    assert summary["alerts"] == [{"code": "other-device", "text": "Coronary stent"}]
    assert "Device 1 is not an implanted device; left out of the alerts" in warnings


def test_a_medicine_request_without_a_status_is_read_as_unknown_and_still_raises_its_alert():
    # Given an STU3-style record (a Dutch connectathon bundle) whose MedicationRequest has
    # no status, which FHIR R4 requires
    request = {"resourceType": "MedicationRequest", "intent": "order", "subject": SUBJECT,
               "medicationCodeableConcept": {"text": "Fenprocoumon 3 mg"}}

    summary, warnings = summary_from_ips(bundle(request), TODAY)

    # Then the medicine is on the summary and the repair is said, not the medicine lost
    assert [m["name"] for m in summary["medications"]] == ["Fenprocoumon 3 mg"]
    assert any("MedicationRequest at Bundle.entry[1]: read a missing status as unknown" in w
               for w in warnings)
    assert any(line.startswith("ANTICOAGULANT") for line in critical_alerts(summary))
