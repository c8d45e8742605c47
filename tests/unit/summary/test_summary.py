"""The summary model: what validate() accepts, refuses and normalises, and the alert lines."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path

import jsonschema
import pytest

import tagservice
from tagservice.summary.alerts import critical_alerts
from tagservice.summary.model import (
    PRIORITY,
    FieldError,
    SummaryError,
    nhs_number_is_valid,
    validate,
)
from tests.paths import FIXTURES

SCHEMA = json.loads(
    (Path(tagservice.__file__).parent / "schema" / "summary.schema.json").read_text("utf-8")
)
TODAY = date(2026, 11, 27)


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"summary-{name}.json").read_text("utf-8"))


def minimal(**changes) -> dict:
    data = fixture("minimal")
    data.update(changes)
    return data


def errors_of(data: object, today: date = TODAY) -> list[FieldError]:
    with pytest.raises(SummaryError) as caught:
        validate(data, today=today)
    return caught.value.errors


def paths_of(data: object) -> list[str]:
    return [error.path for error in errors_of(data)]


# ------------------------------------------------------------------ fixtures and shape

ALL_FIXTURES = sorted(p.stem.removeprefix("summary-") for p in FIXTURES.glob("summary-*.json"))


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_every_fixture_is_a_valid_summary_and_normalising_is_idempotent(name):
    once = validate(fixture(name), today=TODAY)
    assert validate(once, today=TODAY) == once


def test_typical_fixture_normalises_nhs_number_and_adds_empty_sections():
    result = validate(fixture("typical"), today=TODAY)
    assert result["identity"]["nhs_number"] == "9434765919"
    assert result["format"] == 1
    assert result["alerts"] == [] and result["baseline"] == []
    assert "gp" not in result and "note" not in result and "language" not in result


def test_normalised_output_lists_sections_in_priority_order():
    result = validate(fixture("heavy"), today=TODAY)
    keys = [key for key in result if key in PRIORITY]
    assert keys == list(PRIORITY)


def test_priority_order_is_the_one_in_the_design():
    assert PRIORITY == (
        "identity", "alerts", "allergies", "medications", "conditions",
        "baseline", "contacts", "gp", "language", "note", "meta",
    )


def test_minimal_summary_gets_every_list_section_and_nothing_else():
    result = validate(minimal(), today=TODAY)
    assert result == {
        "format": 1,
        "identity": {"name": "Alex Doe", "date_of_birth": "1990-01-31"},
        "alerts": [], "allergies": [], "medications": [], "conditions": [],
        "baseline": [], "contacts": [],
        "meta": {"issued": "2026-11-01", "source": "self-reported"},
    }


def test_strings_are_trimmed_and_empty_optional_fields_are_dropped():
    data = minimal(
        allergies=[{"substance": "  Latex ", "reaction": "   "}],
        gp={"name": "", "phone": " "},
        note="  ",
    )
    result = validate(data, today=TODAY)
    assert result["allergies"] == [{"substance": "Latex"}]
    assert "gp" not in result and "note" not in result


def test_text_is_normalised_to_unicode_nfc():
    result = validate(minimal(identity={"name": "Zoe\u0301", "date_of_birth": "1990-01-31"}))
    assert result["identity"]["name"] == "Zo\u00e9"


def test_any_unicode_name_is_accepted():
    data = fixture("unicode")
    result = validate(data, today=TODAY)
    assert result["identity"]["name"] == "Łucja Żółkiewska-Nguyễn 李"


def test_no_known_allergies_is_kept_and_false_is_dropped():
    assert validate(fixture("no-known-allergies"), today=TODAY)["no_known_allergies"] is True
    assert "no_known_allergies" not in validate(minimal(no_known_allergies=False), today=TODAY)


def test_validate_does_not_change_its_input():
    data = fixture("heavy")
    before = copy.deepcopy(data)
    validate(data, today=TODAY)
    assert data == before


# ------------------------------------------------------------------ NHS number


@pytest.mark.parametrize("number", ["943 476 5919", "9434765919", "943-476-5919", "401 023 2137"])
def test_nhs_numbers_with_correct_check_digit_are_valid(number):
    assert nhs_number_is_valid(number)


def test_nhs_number_with_wrong_check_digit_is_refused():
    assert not nhs_number_is_valid("943 476 5918")
    data = minimal(identity={"name": "A B", "date_of_birth": "1990-01-31",
                             "nhs_number": "943 476 5918"})
    (error,) = errors_of(data)
    assert error.path == "identity.nhs_number"
    assert "not a valid NHS number" in error.message


@pytest.mark.parametrize("last", "0123456789")
def test_nhs_number_whose_check_digit_would_be_ten_is_always_invalid(last):
    # 1*10 + 2*9 + ... + 9*2 = 210 = 1 (mod 11), so the check digit would be 10
    assert not nhs_number_is_valid("123456789" + last)


@pytest.mark.parametrize(
    "number", ["", "943476591", "94347659190", "943476591X", "٩٤٣٤٧٦٥٩١٩", None, 9434765919]
)
def test_nhs_numbers_of_the_wrong_shape_are_invalid(number):
    assert not nhs_number_is_valid(number)


def test_nhs_number_output_is_ten_digits_without_spaces():
    data = minimal(identity={"name": "A B", "date_of_birth": "1990-01-31",
                             "nhs_number": " 401-023-2137 "})
    assert validate(data, today=TODAY)["identity"]["nhs_number"] == "4010232137"


# ------------------------------------------------------------------ identity and dates


def test_missing_name_is_refused_with_a_sentence():
    data = minimal(identity={"date_of_birth": "1990-01-31"})
    (error,) = errors_of(data)
    assert error == FieldError("identity.name", "Name is required.")


def test_name_longer_than_eighty_characters_is_refused():
    data = minimal(identity={"name": "x" * 81, "date_of_birth": "1990-01-31"})
    (error,) = errors_of(data)
    assert error.path == "identity.name" and "80 characters" in error.message
    assert "x" * 10 not in error.message  # the value itself is never echoed


@pytest.mark.parametrize("dob", ["1990-02-30", "31/01/1990", "19900131", "1990-1-31", "", 1990])
def test_date_of_birth_must_be_a_real_iso_date(dob):
    data = minimal(identity={"name": "A B", "date_of_birth": dob})
    assert paths_of(data) == ["identity.date_of_birth"]


def test_date_of_birth_in_the_future_is_refused():
    data = minimal(identity={"name": "A B", "date_of_birth": "2026-11-28"},
                   meta={"issued": "2026-11-28", "source": "self-reported"})
    (error,) = errors_of(data, today=date(2026, 11, 27))
    assert error.message == "Date of birth cannot be in the future."


def test_date_of_birth_before_1900_is_refused():
    data = minimal(identity={"name": "A B", "date_of_birth": "1899-12-31"})
    assert paths_of(data) == ["identity.date_of_birth"]


def test_dates_can_be_given_as_date_objects_and_come_back_as_strings():
    data = minimal(identity={"name": "A B", "date_of_birth": date(1990, 1, 31)})
    assert validate(data, today=TODAY)["identity"]["date_of_birth"] == "1990-01-31"


@pytest.mark.parametrize("sex", ["Female", "f", "", None])
def test_sex_must_be_one_of_the_listed_values(sex):
    data = minimal(identity={"name": "A B", "date_of_birth": "1990-01-31", "sex": sex})
    (error,) = errors_of(data)
    assert error.message == "Sex must be one of: female, male, other, unknown."


# ------------------------------------------------------------------ sections


def test_unknown_keys_are_refused_naming_the_key():
    data = minimal(allergies=[{"substance": "Latex", "severty": "mild"}], colour="blue")
    errors = errors_of(data)
    assert [e.path for e in errors] == ["colour", "allergies[0].severty"]
    assert "'severty' is not a field we recognise" in errors[1].message
    assert "severity" in errors[1].message  # says what was expected


def test_missing_identity_and_meta_are_reported_together():
    assert paths_of({"format": 1}) == ["identity", "meta"]


def test_a_summary_that_is_not_an_object_is_refused():
    assert paths_of(["not", "a", "summary"]) == ["(summary)"]


def test_wrong_format_version_is_refused():
    assert paths_of(minimal(format=2)) == ["format"]


def test_list_sections_must_be_lists_of_objects():
    assert paths_of(minimal(conditions="Asthma")) == ["conditions"]
    assert paths_of(minimal(conditions=["Asthma"])) == ["conditions[0]"]


def test_too_many_entries_are_refused_with_how_many_to_remove():
    data = minimal(contacts=[{"name": "A", "phone": "0123"}] * 5)
    (error,) = errors_of(data)
    assert error.path == "contacts" and "remove 1" in error.message


@pytest.mark.parametrize("severity", ["fatal", "Anaphylaxis", 3])
def test_allergy_severity_must_be_a_listed_value(severity):
    data = minimal(allergies=[{"substance": "Latex", "severity": severity}])
    assert paths_of(data) == ["allergies[0].severity"]


def test_no_known_allergies_together_with_allergies_is_refused():
    data = minimal(no_known_allergies=True, allergies=[{"substance": "Latex"}])
    (error,) = errors_of(data)
    assert error.path == "no_known_allergies"


def test_no_known_allergies_must_be_a_boolean():
    assert paths_of(minimal(no_known_allergies="yes")) == ["no_known_allergies"]


@pytest.mark.parametrize("code", ["oxygen-target", "other"])
def test_alerts_that_mean_nothing_without_detail_need_text(code):
    assert paths_of(minimal(alerts=[{"code": code}])) == ["alerts[0].text"]


def test_unknown_alert_code_is_refused():
    assert paths_of(minimal(alerts=[{"code": "vampire"}])) == ["alerts[0].code"]


def test_baseline_needs_a_known_kind_and_a_value():
    data = minimal(baseline=[{"kind": "temperature", "value": ""}])
    assert paths_of(data) == ["baseline[0].kind", "baseline[0].value"]


@pytest.mark.parametrize("phone", ["07700 900123", "+44 (0)20 7946-0018", "999", " 0123 "])
def test_phone_numbers_with_allowed_characters_are_accepted(phone):
    data = minimal(contacts=[{"name": "A B", "phone": phone}])
    assert validate(data, today=TODAY)["contacts"][0]["phone"] == phone.strip()


@pytest.mark.parametrize("phone", ["07700 ext 12", "0770.090.0123", "12", "1" * 16, "+ - ()"])
def test_phone_numbers_with_other_characters_or_digit_counts_are_refused(phone):
    data = minimal(contacts=[{"name": "A B", "phone": phone}])
    (error,) = errors_of(data)
    assert error.path == "contacts[0].phone"


def test_contacts_need_a_phone_number():
    assert paths_of(minimal(contacts=[{"name": "A B"}])) == ["contacts[0].phone"]


def test_line_breaks_and_control_characters_are_refused():
    data = minimal(note="call\nme", language="pl\x00")
    assert paths_of(data) == ["language", "note"]


def test_lone_surrogates_are_refused():
    assert paths_of(minimal(note="bad \ud800 text")) == ["note"]


def test_note_longer_than_its_limit_is_refused():
    assert paths_of(minimal(note="n" * 161)) == ["note"]
    assert validate(minimal(note="n" * 160), today=TODAY)["note"] == "n" * 160


def test_empty_gp_details_are_left_out():
    assert "gp" not in validate(minimal(gp={}), today=TODAY)


# ------------------------------------------------------------------ meta


def test_issue_date_is_required_and_source_must_be_known():
    data = minimal(meta={"source": "hearsay"})
    assert paths_of(data) == ["meta.issued", "meta.source"]


def test_review_date_must_be_after_issue_date():
    data = minimal(meta={"issued": "2026-11-01", "review": "2026-11-01", "source": "self-reported"})
    (error,) = errors_of(data)
    assert error == FieldError("meta.review", "Review date must be after the issue date.")


def test_issue_date_before_birth_is_refused():
    data = minimal(meta={"issued": "1980-01-01", "source": "self-reported"})
    assert paths_of(data) == ["meta.issued"]


def test_clinician_verified_summary_needs_the_verifier():
    data = minimal(meta={"issued": "2026-11-01", "source": "clinician-verified"})
    (error,) = errors_of(data)
    assert error.path == "meta.verified_by"


def test_self_reported_summary_cannot_name_a_verifier():
    data = minimal(meta={"issued": "2026-11-01", "source": "self-reported", "verified_by": "Dr X"})
    assert paths_of(data) == ["meta.verified_by"]


def test_dates_beyond_what_a_tag_can_store_are_refused():
    data = minimal(meta={"issued": "2079-06-07", "source": "self-reported"})
    assert paths_of(data) == ["meta.issued"]


# ------------------------------------------------------------------ errors


def test_summary_error_is_a_value_error_listing_every_problem():
    error = SummaryError([FieldError("a", "One."), FieldError("b", "Two.")])
    assert isinstance(error, ValueError)
    assert "a: One." in str(error) and "b: Two." in str(error)


def test_error_messages_never_contain_the_patients_data():
    data = fixture("heavy")
    data["identity"]["nhs_number"] = "401 023 2138"
    data["identity"]["name"] = "Zofia " * 20
    data["contacts"][0]["phone"] = "07700 TOM"
    text = str(SummaryError(errors_of(data)))
    for secret in ("Zofia", "401", "TOM"):
        assert secret not in text


# ------------------------------------------------------------------ critical alerts


def test_typical_summary_shows_anaphylaxis_and_the_anticoagulant_it_implies():
    lines = critical_alerts(validate(fixture("typical"), today=TODAY))
    assert lines == ["ANAPHYLAXIS: Penicillin", "ANTICOAGULANT: Warfarin"]


def test_heavy_summary_alerts_come_in_clinical_order_without_duplicates():
    lines = critical_alerts(validate(fixture("heavy"), today=TODAY))
    assert lines == [
        "ANAPHYLAXIS: Penicillin",
        "ANTICOAGULANT: Apixaban",
        "DNACPR: Signed form in kitchen drawer",
        "PACEMAKER: Medtronic, fitted 2021",
        "INSULIN-TREATED DIABETES",
        "OXYGEN TARGET: 88-92%",
    ]


def test_insulin_in_the_medication_list_raises_an_insulin_alert():
    data = minimal(medications=[{"name": "insulin aspart"}, {"name": "Paracetamol"}])
    assert critical_alerts(validate(data, today=TODAY)) == [
        "INSULIN-TREATED DIABETES: insulin aspart"
    ]


def test_devices_and_other_alerts_have_readable_lines():
    data = minimal(alerts=[
        {"code": "other", "text": "Carries a steroid card"},
        {"code": "icd"},
        {"code": "respect", "text": "Form on the fridge"},
    ])
    assert critical_alerts(validate(data, today=TODAY)) == [
        "ReSPECT FORM: Form on the fridge",
        "ICD (IMPLANTED DEFIBRILLATOR)",
        "ALERT: Carries a steroid card",
    ]


def test_a_summary_with_nothing_critical_has_no_alert_lines():
    assert critical_alerts(validate(minimal(), today=TODAY)) == []


# ------------------------------------------------------------------ JSON Schema


def schema_accepts(data: object) -> bool:
    return jsonschema.Draft202012Validator(SCHEMA).is_valid(data)


def test_the_schema_is_a_valid_draft_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_every_fixture_matches_the_schema(name):
    assert schema_accepts(fixture(name))


def _invalid_examples() -> dict[str, dict]:
    identity = {"name": "A B", "date_of_birth": "1990-01-31"}
    meta = {"issued": "2026-11-01", "source": "self-reported"}
    return {
        "unknown top-level key": {"identity": identity, "meta": meta, "colour": "blue"},
        "unknown nested key": {"identity": {**identity, "height": "2m"}, "meta": meta},
        "missing name": {"identity": {"date_of_birth": "1990-01-31"}, "meta": meta},
        "blank name": {"identity": {**identity, "name": "   "}, "meta": meta},
        "name too long": {"identity": {**identity, "name": "n" * 81}, "meta": meta},
        "bad sex": {"identity": {**identity, "sex": "F"}, "meta": meta},
        "date not ISO": {"identity": {**identity, "date_of_birth": "31/01/1990"}, "meta": meta},
        "nhs too short": {"identity": {**identity, "nhs_number": "943 476 591"}, "meta": meta},
        "bad severity": {"identity": identity, "meta": meta,
                         "allergies": [{"substance": "Latex", "severity": "fatal"}]},
        "letters in phone": {"identity": identity, "meta": meta,
                             "contacts": [{"name": "C", "phone": "call me"}]},
        "nka with allergies": {"identity": identity, "meta": meta, "no_known_allergies": True,
                               "allergies": [{"substance": "Latex"}]},
        "verified without verifier": {"identity": identity,
                                      "meta": {**meta, "source": "clinician-verified"}},
        "self-reported with verifier": {"identity": identity,
                                        "meta": {**meta, "verified_by": "Dr X"}},
        "oxygen target without text": {"identity": identity, "meta": meta,
                                       "alerts": [{"code": "oxygen-target"}]},
        "line break in note": {"identity": identity, "meta": meta, "note": "a\nb"},
        "too many contacts": {"identity": identity, "meta": meta,
                              "contacts": [{"name": "C", "phone": "0123"}] * 5},
        "missing meta": {"identity": identity},
    }


@pytest.mark.parametrize("case", sorted(_invalid_examples()))
def test_validate_and_the_schema_agree_on_invalid_examples(case):
    data = _invalid_examples()[case]
    assert not schema_accepts(data)
    with pytest.raises(SummaryError):
        validate(data, today=TODAY)


def test_validate_and_the_schema_agree_on_an_empty_optional_field():
    data = minimal(note="", gp={"phone": ""})
    assert schema_accepts(data)
    validate(data, today=TODAY)
