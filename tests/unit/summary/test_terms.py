"""The terminology (summary/terms.py) and the red lines it produces (summary/alerts.py).

One table per concept group: each wording or code → the red line a paramedic
sees; each negation or status → no line. The same answers hold for the
editor (typed text) and the FHIR import (codes), because both ask terms.py.
"""

from __future__ import annotations

import pytest

from tagservice.summary import terms
from tagservice.summary.alerts import critical_alerts, derived_alerts

ATC = "http://www.whocc.no/atc"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"


def summary(**sections) -> dict:
    """A draft as the editor holds it: only the sections given."""
    return {"alerts": [], "allergies": [], "medications": [], "conditions": [], **sections}


# --- anaphylaxis: reaction wording, typos, languages ----------------------------------------

ANAPHYLAXIS_WORDINGS = [
    "Anaphylaxis", "anaphylaxis", "ANAPHYLAXIS", "Anaphylactic shock", "anaphylactic reaction",
    "Anaphylactoid reaction", "anaphalaxis", "anaphylaxsis", "Anaphylatic shock",
    "anaphylaxis (disorder)", "Rash, then anaphylaxis", "Anafilaxia", "anaphylaxie",
    "Anaphylaktischer Schock", "anafylaxi", "anafilassi", "Anaphylaxis not excluded",
]


@pytest.mark.parametrize("reaction", ANAPHYLAXIS_WORDINGS)
def test_a_reaction_that_says_anaphylaxis_in_any_wording_gives_the_red_line(reaction):
    draft = summary(allergies=[{"substance": "Penicillin", "reaction": reaction,
                                "severity": "severe"}])

    assert critical_alerts(draft) == ["ANAPHYLAXIS: Penicillin"]


def test_the_issue_example_penicillin_anaphylaxis_severe_gives_the_red_line():
    draft = summary(allergies=[{"substance": "Penicillin", "reaction": "Anaphylaxis",
                                "severity": "severe"}])

    assert critical_alerts(draft) == ["ANAPHYLAXIS: Penicillin"]


@pytest.mark.parametrize("reaction", [
    "no anaphylaxis", "Not anaphylaxis - rash only", "history of anaphylaxis to X — refuted",
    "anaphylaxis ruled out by allergist", "Rash", "Urticaria", "Hives and itching",
    "denies anaphylaxis",
])
def test_a_negated_or_other_reaction_gives_no_anaphylaxis_line(reaction):
    draft = summary(allergies=[{"substance": "Penicillin", "reaction": reaction,
                                "severity": "moderate"}])

    assert critical_alerts(draft) == []


def test_the_anaphylaxis_manifestation_code_is_anaphylaxis_whatever_its_display_says():
    assert terms.says_anaphylaxis("Urticaria", [(SNOMED, "39579001")])


def test_severity_anaphylaxis_is_anaphylaxis_grade_without_a_reaction():
    draft = summary(allergies=[{"substance": "Peanut", "severity": "anaphylaxis"}])

    assert critical_alerts(draft) == ["ANAPHYLAXIS: Peanut"]


# --- medicines: generic, brand, typo, code ----------------------------------------------

MEDICINES = [
    # anticoagulants: vitamin K antagonists, DOACs, heparins, fondaparinux; UK brands
    ("Warfarin 3mg", "ANTICOAGULANT"), ("Warfarin5mg", "ANTICOAGULANT"),
    ("Acenocoumarol", "ANTICOAGULANT"), ("Sinthrome 1mg", "ANTICOAGULANT"),
    ("Phenindione", "ANTICOAGULANT"), ("Phenprocoumon", "ANTICOAGULANT"),
    ("Marcoumar", "ANTICOAGULANT"), ("Marevan", "ANTICOAGULANT"), ("Coumadin", "ANTICOAGULANT"),
    ("Apixaban 5 mg", "ANTICOAGULANT"), ("Eliquis 2.5mg", "ANTICOAGULANT"),
    ("ELIQUIS FTBL 2,5MG", "ANTICOAGULANT"), ("apixiban", "ANTICOAGULANT"),
    ("Rivaroxaban", "ANTICOAGULANT"), ("Rivaroxiban 20mg", "ANTICOAGULANT"),
    ("Xarelto 20mg", "ANTICOAGULANT"), ("Edoxaban", "ANTICOAGULANT"),
    ("Lixiana 60mg", "ANTICOAGULANT"), ("Dabigatran etexilate", "ANTICOAGULANT"),
    ("Pradaxa 150mg", "ANTICOAGULANT"), ("Heparin", "ANTICOAGULANT"),
    ("Enoxaparin 40mg", "ANTICOAGULANT"), ("Clexane 40mg/0.4ml", "ANTICOAGULANT"),
    ("Inhixa", "ANTICOAGULANT"), ("Dalteparin", "ANTICOAGULANT"),
    ("Fragmin 5000 units", "ANTICOAGULANT"), ("Tinzaparin", "ANTICOAGULANT"),
    ("Innohep", "ANTICOAGULANT"), ("Fondaparinux", "ANTICOAGULANT"),
    ("Arixtra 2.5mg", "ANTICOAGULANT"), ("Enoxaparina 40 mg", "ANTICOAGULANT"),
    # insulins
    ("Insulin glargine", "INSULIN-TREATED DIABETES"),
    ("Lantus SoloStar", "INSULIN-TREATED DIABETES"),
    ("Levemir", "INSULIN-TREATED DIABETES"), ("Tresiba FlexTouch", "INSULIN-TREATED DIABETES"),
    ("NovoRapid", "INSULIN-TREATED DIABETES"), ("Humalog Mix25", "INSULIN-TREATED DIABETES"),
    ("Humulin I", "INSULIN-TREATED DIABETES"), ("Toujeo", "INSULIN-TREATED DIABETES"),
    ("Abasaglar", "INSULIN-TREATED DIABETES"), ("Fiasp", "INSULIN-TREATED DIABETES"),
    ("Apidra", "INSULIN-TREATED DIABETES"), ("SEMGLEE INJ 100E/ML", "INSULIN-TREATED DIABETES"),
]


@pytest.mark.parametrize(("name", "line"), MEDICINES)
def test_a_medicine_by_generic_or_brand_name_gives_its_red_line(name, line):
    assert critical_alerts(summary(medications=[{"name": name}])) == [f"{line}: {name}"]


@pytest.mark.parametrize(("codings", "group", "display"), [
    ([(ATC, "B01AF02")], "anticoagulant", "Apixaban"),
    ([(ATC, "B01AA03")], "anticoagulant", "Warfarin"),
    ([(ATC, "B01AB05")], "anticoagulant", "Enoxaparin"),
    ([(ATC, "B01AE07")], "anticoagulant", "Dabigatran"),
    ([(ATC, "B01AX05")], "anticoagulant", "Fondaparinux"),
    ([("http://www.whocc.no/atc/", "B01AF")], "anticoagulant", None),  # a class code
    ([(RXNORM, "11289")], "anticoagulant", "Warfarin"),
    ([(RXNORM, "1364430")], "anticoagulant", "Apixaban"),
    ([(RXNORM, "1114195")], "anticoagulant", "Rivaroxaban"),
    ([(SNOMED, "372756006")], "anticoagulant", "Warfarin"),
    ([(ATC, "A10AE04")], "insulin", "Insulin glargine"),
    ([(RXNORM, "274783")], "insulin", "Insulin glargine"),
    ([(ATC, "H02AB09")], "systemic-steroid", "Hydrocortisone"),
])
def test_a_medicine_known_only_by_a_code_is_grouped_and_named(codings, group, display):
    assert group in terms.medicine_groups(None, codings)
    assert terms.display_for(codings) == display


def test_a_code_only_anticoagulant_raises_the_alert_when_imported():
    draft = summary(medications=[{"name": "Apixaban"}])

    assert derived_alerts(draft, [[(ATC, "B01AF02")]]) == [
        {"code": "anticoagulant", "text": "Apixaban"}]


def test_an_antiplatelet_is_not_an_anticoagulant():
    assert terms.medicine_groups("Clopidogrel", [(ATC, "B01AC04")]) == set()
    assert terms.medicine_groups("Aspirin 75mg") == set()


@pytest.mark.parametrize("name", [
    "Warfarin stopped", "Warfarin (stopped 2020)", "not on warfarin", "No anticoagulants",
    "Apixaban discontinued", "previously on rivaroxaban", "Inulin fibre supplement",
    "Non-insulin", "Heparinoid cream",
])
def test_a_stopped_negated_or_look_alike_medicine_gives_no_line(name):
    assert critical_alerts(summary(medications=[{"name": name}])) == []


def test_stopping_one_medicine_and_starting_an_anticoagulant_still_says_anticoagulant():
    assert terms.medicine_groups("Stopped aspirin and started warfarin") == {"anticoagulant"}


@pytest.mark.parametrize(("name", "systemic"), [
    ("Prednisolone 5mg tablets", True), ("Hydrocortisone 10mg", True), ("Plenadren", True),
    ("Fludrocortisone", True), ("Dexamethasone", True),
    ("Hydrocortisone 1% cream", False), ("Beclometasone inhaler", False),
    ("Prednisolone eye drops", False),
])
def test_only_systemic_steroids_are_systemic(name, systemic):
    assert ("systemic-steroid" in terms.medicine_groups(name)) is systemic


# --- conditions -------------------------------------------------------------------------------

CONDITIONS = [
    ("Addison's disease", "ADRENAL INSUFFICIENCY (STEROID DEPENDENT)"),
    ("Primary adrenal insufficiency", "ADRENAL INSUFFICIENCY (STEROID DEPENDENT)"),
    ("Congenital adrenal hyperplasia", "ADRENAL INSUFFICIENCY (STEROID DEPENDENT)"),
    ("Hypopituitarism", "ADRENAL INSUFFICIENCY (STEROID DEPENDENT)"),
    ("Epilepsy", "EPILEPSY"), ("Generalised epileptic seizures", "EPILEPSY"),
    ("Type 1 diabetes mellitus", "INSULIN-TREATED DIABETES"),
    ("Insulin dependent diabetes", "INSULIN-TREATED DIABETES"),
]


@pytest.mark.parametrize(("name", "line"), CONDITIONS)
def test_a_condition_that_changes_emergency_treatment_gives_its_red_line(name, line):
    assert critical_alerts(summary(conditions=[{"name": name}])) == [f"{line}: {name}"]


@pytest.mark.parametrize("name", [
    "Non-insulin-dependent diabetes mellitus", "Type 2 diabetes", "Febrile convulsion",
    "Epilepsy ruled out", "No history of epilepsy", "Adrenal adenoma",
])
def test_a_condition_that_does_not_say_it_gives_no_line(name):
    assert critical_alerts(summary(conditions=[{"name": name}])) == []


@pytest.mark.parametrize(("codings", "alert"), [
    ([(SNOMED, "363732003")], "adrenal-insufficiency"),
    ([(SNOMED, "84757009")], "epilepsy"),
    ([(SNOMED, "46635009")], "insulin-diabetes"),
])
def test_a_condition_known_by_its_snomed_code_raises_its_alert(codings, alert):
    assert terms.condition_alert_codes("", codings) == {alert}


def test_adrenal_insufficiency_names_the_systemic_steroid_not_the_cream():
    draft = summary(conditions=[{"name": "Addison's disease"}],
                    medications=[{"name": "Hydrocortisone 10mg tablets"},
                                 {"name": "Hydrocortisone 1% cream"}])

    assert critical_alerts(draft) == [
        "ADRENAL INSUFFICIENCY (STEROID DEPENDENT): Hydrocortisone 10mg tablets"]


def test_a_ticked_alert_is_not_repeated_by_the_derived_one():
    draft = summary(alerts=[{"code": "anticoagulant", "text": "On warfarin"}],
                    medications=[{"name": "Warfarin"}])

    assert critical_alerts(draft) == ["ANTICOAGULANT: On warfarin"]


# --- no known allergies ----------------------------------------------------------------------


@pytest.mark.parametrize(("snomed", "ips", "answer"), [
    (["716186003"], [], "all"), ([], ["no-known-allergies"], "all"),
    (["409137002"], [], "drugs"), (["429625007"], [], "food"), ([], [], None),
])
def test_no_known_allergy_codes_are_told_apart_from_partial_statements(snomed, ips, answer):
    assert terms.no_known_allergy(snomed, ips) == answer


def test_every_group_in_the_data_file_names_its_public_sources():
    data = terms.data()
    groups = [data["anaphylaxis"], *data["medicine_groups"].values(),
              *data["condition_groups"].values(), data["devices"], data["no_known_allergy"]]
    assert all(group.get("sources") for group in groups)


def test_work_per_text_is_bounded_to_its_first_2000_characters():
    assert not terms.says_anaphylaxis("rash " * 100_000 + "anaphylaxis")
