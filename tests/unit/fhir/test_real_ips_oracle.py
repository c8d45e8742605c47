"""The yardstick for real bundles (tests/real_ips_oracle.py) finds what it should, and only that.

Small hand-made resources, one rule each: the oracle is what the importer is
measured with, so its own mistakes would hide the importer's.
"""

from __future__ import annotations

import pytest

from tests.real_ips_oracle import check_card, source_facts

SNOMED = "http://snomed.info/sct"
ATC = "http://www.whocc.no/atc"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ANAPHYLAXIS = {"coding": [{"system": SNOMED, "code": "39579001"}]}


def bundle(*resources: dict) -> dict:
    return {
        "resourceType": "Bundle",
        "type": "document",
        "entry": [{"fullUrl": f"urn:uuid:{i}", "resource": r} for i, r in enumerate(resources)],
    }


def allergy(text="Penicillin", **fields) -> dict:
    return {"resourceType": "AllergyIntolerance", "code": {"text": text}, **fields}


def status(code: str) -> dict:
    return {"coding": [{"code": code}]}


def statement(concept: dict, state="active", kind="MedicationStatement") -> dict:
    return {"resourceType": kind, "status": state, "medicationCodeableConcept": concept}


@pytest.mark.parametrize(
    "resource",
    [
        allergy(criticality="high"),
        allergy(reaction=[{"manifestation": [ANAPHYLAXIS]}]),
        allergy(reaction=[{"manifestation": [{"text": "Anaphylactic shock"}]}]),
        allergy(reaction=[{"description": "anafilaxia"}]),
        allergy(reaction=[{"manifestation": [{"concept": {"text": "anaphylaxis"}}]}]),  # R5
    ],
    ids=["criticality high", "SNOMED code", "wording", "Spanish wording", "R5 shape"],
)
def test_a_high_criticality_or_anaphylaxis_allergy_is_a_critical_fact(resource):
    [fact] = source_facts(bundle(resource)).facts
    assert fact.kind == "allergy" and "penicillin" in fact.names


@pytest.mark.parametrize(
    "resource",
    [
        allergy(criticality="low", reaction=[{"manifestation": [{"text": "rash"}]}]),
        allergy(criticality="high", verificationStatus=status("refuted")),
        allergy(criticality="high", verificationStatus=status("entered-in-error")),
        allergy(criticality="high", clinicalStatus=status("inactive")),
        allergy(criticality="high", clinicalStatus=status("resolved")),
        {
            "resourceType": "AllergyIntolerance",
            "criticality": "high",
            "code": {"coding": [{"code": "no-known-food-allergies"}]},
        },
    ],
    ids=["low, rash", "refuted", "entered in error", "inactive", "resolved", "no known"],
)
def test_a_minor_negated_or_ended_allergy_is_not_a_critical_fact(resource):
    assert source_facts(bundle(resource)).facts == []


@pytest.mark.parametrize(
    ("concept", "agent"),
    [
        ({"text": "Warfarin 5 mg tablet"}, "warfarin"),
        ({"coding": [{"display": "Eliquis 2.5mg"}]}, "apixaban"),
        ({"coding": [{"system": ATC, "code": "B01AF01"}]}, "rivaroxaban"),
        ({"coding": [{"system": ATC, "code": "B01AB05"}]}, "enoxaparin"),
        ({"coding": [{"system": RXNORM, "code": "1037042"}]}, "dabigatran"),
        ({"text": "Marcoumar 3 mg"}, "phenprocoumon"),
    ],
)
def test_an_active_anticoagulant_is_found_by_name_brand_atc_or_rxnorm(concept, agent):
    [fact] = source_facts(bundle(statement(concept))).facts
    assert (fact.kind, fact.label) == ("anticoagulant", agent)


@pytest.mark.parametrize(
    "resource",
    [
        statement({"text": "Warfarin 5 mg"}, state="stopped"),
        statement({"text": "Warfarin 5 mg"}, state="completed", kind="MedicationRequest"),
        statement({"text": "Warfarin 5 mg"}, state="entered-in-error"),
        statement({"coding": [{"system": ATC, "code": "B01AC06"}]}),  # aspirin: antiplatelet
        statement({"text": "Clopidogrel 75 mg"}),
    ],
    ids=["stopped", "completed request", "entered in error", "ATC antiplatelet", "clopidogrel"],
)
def test_a_stopped_medicine_or_an_antiplatelet_is_not_an_anticoagulant_fact(resource):
    assert source_facts(bundle(resource)).facts == []


def test_a_medication_reference_is_followed_to_a_contained_or_bundled_medication():
    contained = {
        "resourceType": "MedicationRequest",
        "status": "active",
        "contained": [{"resourceType": "Medication", "id": "m", "code": {"text": "Xarelto"}}],
        "medicationReference": {"reference": "#m"},
    }
    medication = {"resourceType": "Medication", "id": "w", "code": {"text": "Coumadin"}}
    bundled = {
        "resourceType": "MedicationStatement",
        "status": "active",
        "medicationReference": {"reference": "Medication/w"},
    }
    labels = [f.label for f in source_facts(bundle(contained, medication, bundled)).facts]
    assert labels == ["rivaroxaban", "warfarin"]


def test_a_malformed_bundle_gives_no_facts_and_no_error():
    for junk in (None, [], {"entry": "x"}, {"entry": [None, {"resource": 3}]}):
        assert source_facts(junk).facts == []


def card(allergies=(), medications=(), alerts=()) -> dict:
    return {"allergies": list(allergies), "medications": list(medications), "alerts": list(alerts)}


def test_a_fact_is_on_the_card_when_the_card_names_it():
    facts = source_facts(
        bundle(
            allergy("Allergy to penicillin (disorder)", criticality="high"),
            statement({"text": "Apixaban 5 mg"}),
        )
    )
    on = check_card(facts, card([{"substance": "Penicillin"}], [{"name": "Eliquis 5mg"}])).facts
    assert [f.on_card for f in on] == [True, True]


def test_no_card_or_an_unnamed_medicine_leaves_the_fact_missing():
    facts = source_facts(bundle(statement({"text": "Warfarin"})))
    assert check_card(facts, None).facts[0].why_missing == "no card"
    facts = source_facts(bundle(statement({"text": "Warfarin"})))
    missing = check_card(facts, card(medications=[{"name": "Metformin"}])).facts[0]
    assert not missing.on_card and missing.why_missing == "medicine not on the card"


def test_an_anaphylaxis_allergy_must_say_anaphylaxis_on_the_card():
    source = bundle(allergy("Peanut", reaction=[{"manifestation": [ANAPHYLAXIS]}]))
    plain = check_card(source_facts(source), card([{"substance": "Peanut"}])).facts[0]
    assert not plain.on_card and "anaphylaxis" in plain.why_missing
    marked = card([{"substance": "Peanut", "severity": "anaphylaxis"}])
    assert check_card(source_facts(source), marked).facts[0].on_card


def test_an_allergy_known_by_a_code_only_must_be_in_words_on_the_card():
    coded = {
        "resourceType": "AllergyIntolerance",
        "criticality": "high",
        "code": {"coding": [{"system": SNOMED, "code": "91936005"}]},
    }
    source = bundle(coded, allergy("Latex"))
    bare = check_card(
        source_facts(source), card([{"substance": "Latex"}, {"substance": "91936005"}])
    )
    assert bare.facts[0].why_missing == "on the card only as a bare code"
    worded = card([{"substance": "Latex"}, {"substance": "Penicillin"}])
    assert check_card(source_facts(source), worded).facts[0].on_card
