"""Fitting a record to a card (summary/fit.py): priority, naming what is left off, no cutting."""

from __future__ import annotations

import copy
import hashlib
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tagservice.summary import capacity, fit
from tagservice.summary import model as summary_model
from tagservice.summary.alerts import critical_alerts, critical_facts

TODAY = date(2026, 11, 1)
BASE_URL = "https://tags.example.nhs.uk"


def record(**sections) -> dict:
    base = {"format": 1, "identity": {"name": "Test Patient", "date_of_birth": "1950-01-01"},
            "alerts": [], "allergies": [], "medications": [], "conditions": [], "baseline": [],
            "contacts": [], "meta": {"issued": "2026-11-01", "source": "self-reported"}}
    return {**base, **sections}


def fitted(raw: dict) -> fit.Fitted:
    return fit.fit(raw, BASE_URL, TODAY)


def test_a_record_that_fits_is_taken_whole_with_no_notes():
    raw = record(medications=[{"name": "Ramipril", "dose": "5 mg"}])

    result = fitted(raw)

    assert result.summary == summary_model.validate(raw, today=TODAY)
    assert result.notes == [] and result.complete


def test_thirty_seven_conditions_are_fitted_and_every_one_left_off_is_named():
    conditions = [{"name": f"Long-term condition number {n} of the problem list"}
                  for n in range(1, 38)]
    raw = record(allergies=[{"substance": "Penicillin", "reaction": "Anaphylaxis"}],
                 medications=[{"name": "Warfarin", "dose": "3 mg"}], conditions=conditions)

    result = fitted(raw)

    kept = [c["name"] for c in result.summary["conditions"]]
    left = result.left_off["conditions"]
    assert sorted(kept + left) == sorted(c["name"] for c in conditions)
    assert result.notes[0].startswith(f"not on the card: {len(left)} conditions — ")
    assert critical_alerts(result.summary) == ["ANAPHYLAXIS: Penicillin", "ANTICOAGULANT: Warfarin"]
    assert capacity.measure(result.summary, BASE_URL).fits


def test_critical_items_go_on_before_earlier_ordinary_ones():
    ordinary = [{"name": f"Ordinary tablet {n}", "dose": "1 tablet", "frequency": "at night"}
                for n in range(30)]
    raw = record(medications=[*ordinary, {"name": "Apixaban", "dose": "5 mg"}])

    result = fitted(raw)

    assert result.summary["medications"][0] == {"name": "Apixaban", "dose": "5 mg"}
    assert "medications" in result.left_off


def test_a_line_break_becomes_a_separator_and_is_said():
    raw = record(conditions=[{"name": "Asthma\nsince childhood"}])

    result = fitted(raw)

    assert result.summary["conditions"] == [{"name": "Asthma; since childhood"}]
    assert result.shortened == ["Condition 1: line breaks became '; '"]


def test_a_long_dose_becomes_the_structured_dose_the_record_gives_with_its_timing():
    long_dose = "850 mg, Oral, 2 TIMES DAILY WITH MEALS Starting Sun 2/18/2024, Disp-60 tablet"
    raw = record(medications=[{"name": "Metformin", "dose": long_dose, fit.ALTERNATIVES: {
        "dose": ["850 mg"], "frequency": ["twice daily"]}}])

    result = fitted(raw)

    assert result.summary["medications"] == [
        {"name": "Metformin", "dose": "850 mg", "frequency": "twice daily"}]
    assert "is written as '850 mg' + 'twice daily'" in result.shortened[0]


def test_a_long_dose_without_a_shorter_form_is_left_off_whole_and_the_medicine_kept():
    long_dose = "As per INR clinic booklet, dose changes weekly, see the yellow book " * 2

    result = fitted(record(medications=[{"name": "Warfarin", "dose": long_dose}]))

    assert result.summary["medications"] == [{"name": "Warfarin"}]
    assert result.shortened == [f"Medication 1 dose left off ({len(long_dose.strip())} "
                                f"characters; the card holds 40): '{long_dose.strip()}'"]


def test_a_long_condition_name_uses_the_coded_display_or_is_named_as_left_off():
    long_name = "Chronic obstructive pulmonary disease with acute lower respiratory infection x"
    raw = record(conditions=[
        {"name": long_name + "y" * 10, fit.ALTERNATIVES: {"name": ["COPD"]}},
        {"name": "Z" * 90},
    ])

    result = fitted(raw)

    assert result.summary["conditions"] == [{"name": "COPD"}]
    assert result.left_off == {"conditions": ["Z" * 90]}


def test_an_anaphylaxis_reaction_too_long_to_carry_keeps_its_grade_as_the_severity():
    reaction = "Anaphylaxis within minutes of the first dose, needed two adrenaline pens"
    raw = record(allergies=[{"substance": "Penicillin", "reaction": reaction,
                             "severity": "severe"}])

    result = fitted(raw)

    assert result.summary["allergies"] == [{"substance": "Penicillin",
                                            "severity": "anaphylaxis"}]
    assert critical_alerts(result.summary) == ["ANAPHYLAXIS: Penicillin"]


def test_an_invalid_nhs_number_is_left_off_and_said_not_the_whole_card():
    raw = record(identity={"name": "Test Patient", "date_of_birth": "1950-01-01",
                           "nhs_number": "943 476 5918"})

    result = fitted(raw)

    assert "nhs_number" not in result.summary["identity"]
    assert result.shortened[0].startswith("identity nhs_number left off")


def test_critical_facts_that_alone_do_not_fit_are_refused_and_the_refusal_says_so():
    def unusual(n: int, size: int) -> str:  # text deflate cannot shrink much
        return hashlib.sha256(str(n).encode()).hexdigest()[:size]

    allergies = [{"substance": unusual(n, 60), "severity": "anaphylaxis"} for n in range(20)]
    alerts = [{"code": "other-device", "text": unusual(100 + n, 100)} for n in range(13)]

    with pytest.raises(fit.FitRefused, match="critical facts alone .* linked tag"):
        fitted(record(allergies=allergies, alerts=alerts))


def test_a_missing_name_is_a_summary_error_not_a_fit():
    with pytest.raises(summary_model.SummaryError):
        fitted(record(identity={"date_of_birth": "1950-01-01"}))


def test_fitting_does_not_change_its_input():
    raw = record(conditions=[{"name": "Asthma\nsince childhood"}])
    before = copy.deepcopy(raw)

    fitted(raw)

    assert raw == before


# --- properties -----------------------------------------------------------------------------

texts = st.text(st.characters(blacklist_categories=("Cs",), max_codepoint=0x2FF),
                min_size=1, max_size=120).filter(lambda t: t.strip())
critical_names = st.sampled_from(["Warfarin", "Apixaban 5mg", "Insulin glargine", "Eliquis"])


@st.composite
def records(draw):
    meds = draw(st.lists(st.fixed_dictionaries(
        {"name": texts | critical_names}, optional={"dose": texts, "frequency": texts}),
        max_size=35))
    allergies = draw(st.lists(st.fixed_dictionaries(
        {"substance": st.text("abcdefghij ", min_size=3, max_size=20).filter(str.strip)},
        optional={"reaction": texts | st.just("Anaphylaxis"),
                  "severity": st.sampled_from(["mild", "severe", "anaphylaxis"])}), max_size=4))
    conditions = draw(st.lists(st.fixed_dictionaries({"name": texts}), max_size=40))
    contacts = draw(st.lists(st.fixed_dictionaries(
        {"name": texts, "phone": st.sampled_from(["07700 900123", "12"])}), max_size=5))
    return record(allergies=allergies, medications=meds, conditions=conditions,
                  contacts=contacts, note=draw(texts))


def source_texts(raw: dict) -> set[str]:
    found = set()
    for section in summary_model.LIST_SECTIONS:
        for item in raw.get(section, []):
            found.update(v.strip() for v in item.values() if isinstance(v, str))
    return found


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(records())
def test_a_fitted_summary_always_validates_fits_and_keeps_every_critical_fact(raw):
    try:
        result = fitted(raw)
    except fit.FitRefused as refused:
        assert "critical fact" in str(refused)
        return
    assert summary_model.validate(result.summary, today=TODAY) == result.summary
    assert capacity.measure(result.summary, BASE_URL).fits
    def cleaned(fact: str) -> str:  # "allergy: aa" is "allergy:aa" once its text is cleaned
        kind, _, what = fact.partition(":")
        return f"{kind}:{fit.clean_text(what)}"

    assert set(map(cleaned, critical_facts(raw))) <= set(critical_facts(result.summary))
    sources = source_texts(raw)
    for section in ("allergies", "medications", "conditions", "contacts"):
        for item in result.summary[section]:
            for value in item.values():
                # a card text is a source text, cleaned only by the shown rule
                assert value in {fit.clean_text(s) for s in sources}
