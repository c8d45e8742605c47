"""The yardstick for real FHIR bundles: which critical facts are in the source, and on the card.

Deliberately independent of tagservice: it reads the raw JSON (never
fhir.resources, never the project's terminology), so a gap in the project's
lists or importer shows up here instead of being measured with itself. Its
lists are small and only cover what issue 13's target names:

* an active allergy (not inactive/resolved, not refuted/entered-in-error) with
  criticality "high" or an anaphylaxis reaction;
* an active MedicationStatement or MedicationRequest (status active, intended,
  on-hold, unknown or missing) for an anticoagulant.

Sources of the facts below (public, facts not text): WHO ATC index groups B01AA
(vitamin K antagonists), B01AB (heparins), B01AE (direct thrombin inhibitors),
B01AF (direct factor Xa inhibitors) and B01AX05 (fondaparinux); the brand names
are those on the UK/EU/US/AU/NZ product lists (BNF, EMA, FDA); RxNorm
ingredient concept ids as listed by RxNav; SNOMED CT 39579001 |Anaphylaxis| and
417516000 |Anaphylaxis due to substance|; ICD-10 T78.0, T78.2, T80.5 and T88.6
(anaphylactic reaction/shock). Wordings: the English stem "anaphyla-" and the
"anafila-" (Spanish, Portuguese, Italian) and "anafyla-" (Dutch, Scandinavian)
spellings of the same word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# agent -> every name it goes by (generic first, then brands), lower case
ANTICOAGULANT_NAMES: dict[str, tuple[str, ...]] = {
    "warfarin": ("warfarin", "coumadin", "jantoven", "marevan", "waran", "coumadine"),
    "acenocoumarol": ("acenocoumarol", "sintrom", "sinthrome", "minisintrom"),
    "phenprocoumon": ("phenprocoumon", "marcoumar", "marcumar", "falithrom"),
    "phenindione": ("phenindione",),
    "fluindione": ("fluindione", "previscan"),
    "heparin": ("heparin",),
    "enoxaparin": ("enoxaparin", "clexane", "lovenox", "inhixa", "arovi"),
    "dalteparin": ("dalteparin", "fragmin"),
    "tinzaparin": ("tinzaparin", "innohep"),
    "nadroparin": ("nadroparin", "fraxiparin", "fraxiparine"),
    "bemiparin": ("bemiparin", "hibor"),
    "danaparoid": ("danaparoid", "orgaran"),
    "fondaparinux": ("fondaparinux", "arixtra"),
    "dabigatran": ("dabigatran", "pradaxa", "pradax", "prazaxa"),
    "argatroban": ("argatroban",),
    "bivalirudin": ("bivalirudin", "angiomax", "angiox"),
    "rivaroxaban": ("rivaroxaban", "xarelto"),
    "apixaban": ("apixaban", "eliquis"),
    "edoxaban": ("edoxaban", "lixiana", "savaysa", "roteas"),
    "betrixaban": ("betrixaban", "bevyxxa"),
}
ANTICOAGULANT_ATC_GROUPS = ("B01AA", "B01AB", "B01AE", "B01AF", "B01AX05")
ATC_AGENTS = {
    "B01AA03": "warfarin",
    "B01AA07": "acenocoumarol",
    "B01AA04": "phenprocoumon",
    "B01AA02": "phenindione",
    "B01AA12": "fluindione",
    "B01AB01": "heparin",
    "B01AB05": "enoxaparin",
    "B01AB04": "dalteparin",
    "B01AB10": "tinzaparin",
    "B01AB06": "nadroparin",
    "B01AB12": "bemiparin",
    "B01AB09": "danaparoid",
    "B01AX05": "fondaparinux",
    "B01AE07": "dabigatran",
    "B01AE03": "argatroban",
    "B01AE06": "bivalirudin",
    "B01AF01": "rivaroxaban",
    "B01AF02": "apixaban",
    "B01AF03": "edoxaban",
    "B01AF04": "betrixaban",
}
RXNORM_AGENTS = {
    "11289": "warfarin",
    "5224": "heparin",
    "67108": "enoxaparin",
    "1364430": "apixaban",
    "1114195": "rivaroxaban",
    "1037042": "dabigatran",
    "1599538": "edoxaban",
}
ANAPHYLAXIS_CODES = {"39579001", "417516000", "T78.0", "T78.2", "T80.5", "T88.6"}
ANAPHYLAXIS_WORDS = ("anaphyla", "anafila", "anafyla")
# "no known (drug/food/environmental) allergy" in SNOMED CT and the IPS absent-unknown codes
NO_ALLERGY_CODES = {
    "716186003",
    "409137002",
    "429625007",
    "428607008",
    "no-allergy-info",
    "no-known-allergies",
    "no-known-medication-allergies",
    "no-known-food-allergies",
    "no-known-environmental-allergies",
}
INACTIVE = {"inactive", "resolved"}
NOT_TRUE = {"refuted", "entered-in-error"}
MED_ACTIVE = {"active", "intended", "on-hold", "unknown", None}
# words that name the kind of record, not the substance
_STOP_WORDS = {
    "allergy",
    "allergic",
    "allergies",
    "intolerance",
    "substance",
    "product",
    "containing",
    "reaction",
    "adverse",
    "propensity",
    "history",
    "drug",
    "medicinal",
    "agent",
    "disposition",
    "to",
    "of",
    "and",
    "the",
    "food",
    "with",
    "due",
    "caused",
    "oral",
    "tablet",
    "disorder",
    "finding",
    "class",
    "structure",
    "mechanism",
    "action",
    "alergia",
    "allergie",
    "allergia",
    "trastorno",
    "intolerantie",
}


@dataclass
class Fact:
    """One critical fact in the source bundle."""

    kind: str  # "allergy" or "anticoagulant"
    label: str  # short, for the table (a substance or drug name; never patient identity)
    names: tuple[str, ...]  # what counts as naming it on the card (lower case)
    anaphylaxis: bool = False
    on_card: bool = False
    why_missing: str = ""


@dataclass
class SourceFacts:
    facts: list[Fact] = field(default_factory=list)
    # key words of every active allergy with a name, critical or not: a card allergy
    # that matches none of them can only stand for an allergy known by a code alone
    named_allergies: list[tuple[str, ...]] = field(default_factory=list)

    @property
    def allergies(self) -> list[Fact]:
        return [f for f in self.facts if f.kind == "allergy"]

    @property
    def anticoagulants(self) -> list[Fact]:
        return [f for f in self.facts if f.kind == "anticoagulant"]


def _codings(concept: Any) -> list[dict]:
    if not isinstance(concept, dict):
        return []
    codings = concept.get("coding")
    return [c for c in codings if isinstance(c, dict)] if isinstance(codings, list) else []


def _texts(concept: Any) -> list[str]:
    """Every human wording in a CodeableConcept (text and coding displays)."""
    if isinstance(concept, str):
        return [concept]
    if not isinstance(concept, dict):
        return []
    found = [concept.get("text")] + [c.get("display") for c in _codings(concept)]
    return [t for t in found if isinstance(t, str) and t.strip()]


def _names(concept: Any) -> list[str]:
    """Wordings plus codes that are words (local systems put the name in the code)."""
    return _texts(concept) + [code for _s, code in _codes(concept) if _in_words(code)]


def _codes(concept: Any) -> list[tuple[str, str]]:
    return [(str(c.get("system") or ""), str(c.get("code") or "")) for c in _codings(concept)]


def _status(value: Any) -> str | None:
    """A status that may be a code (R4 MedicationStatement) or a CodeableConcept (R4 allergy)."""
    if isinstance(value, str):
        return value.strip().lower() or None
    for _system, code in _codes(value):
        if code:
            return code.strip().lower()
    return None


def _resources(bundle: dict) -> list[dict]:
    entries = bundle.get("entry")
    if not isinstance(entries, list):
        return []
    found = []
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict):
            found.append(resource)
    return found


def _by_reference(bundle: dict) -> dict[str, dict]:
    """fullUrl and Type/id -> resource, for resolving medicationReference."""
    index: dict[str, dict] = {}
    entries = bundle.get("entry") if isinstance(bundle.get("entry"), list) else []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
            continue
        resource = entry["resource"]
        if isinstance(entry.get("fullUrl"), str):
            index[entry["fullUrl"]] = resource
        if isinstance(resource.get("id"), str):
            index[f"{resource.get('resourceType')}/{resource['id']}"] = resource
    return index


def _medication_concepts(statement: dict, index: dict[str, dict]) -> list[Any]:
    """The medicine's concepts: inline, referenced (contained or in the bundle), R5-style."""
    concepts: list[Any] = [statement.get("medicationCodeableConcept")]
    references = [statement.get("medicationReference")]
    r5 = statement.get("medication")
    if isinstance(r5, dict):
        concepts.append(r5.get("concept"))
        references.append(r5.get("reference"))
    contained = {
        f"#{r.get('id')}": r for r in statement.get("contained") or [] if isinstance(r, dict)
    }
    for reference in references:
        if not isinstance(reference, dict):
            continue
        concepts.append(reference.get("display"))
        target = contained.get(reference.get("reference")) or index.get(reference.get("reference"))
        if not isinstance(target, dict):
            ref = str(reference.get("reference") or "")
            target = next((r for url, r in index.items() if ref and url.endswith(ref)), None)
        if isinstance(target, dict):
            concepts.append(target.get("code"))
            for ingredient in target.get("ingredient") or []:
                if isinstance(ingredient, dict):
                    item = ingredient.get("item")
                    concepts += [
                        ingredient.get("itemCodeableConcept"),
                        item.get("concept") if isinstance(item, dict) else None,
                    ]
    return [c for c in concepts if c]


def anticoagulant_agent(concepts: list[Any]) -> str | None:
    """The anticoagulant these concepts name, by ATC, RxNorm or name; None if none."""
    for concept in concepts:
        for system, code in _codes(concept):
            code_upper = code.strip().upper()
            if "atc" in system.lower() and code_upper.startswith(ANTICOAGULANT_ATC_GROUPS):
                return ATC_AGENTS.get(code_upper, f"anticoagulant (ATC {code_upper})")
            if "rxnorm" in system.lower() and code.strip() in RXNORM_AGENTS:
                return RXNORM_AGENTS[code.strip()]
    words = " ".join(t.lower() for c in concepts for t in _texts(c))
    for agent, names in ANTICOAGULANT_NAMES.items():
        if any(re.search(rf"\b{name}", words) for name in names):
            return agent
    return None


def _is_anaphylaxis(texts: list[str], codes: list[tuple[str, str]]) -> bool:
    return any(code.strip() in ANAPHYLAXIS_CODES for _system, code in codes) or any(
        word in text.lower() for text in texts for word in ANAPHYLAXIS_WORDS
    )


def _is_active_allergy(allergy: dict) -> bool:
    return (
        _status(allergy.get("clinicalStatus")) not in INACTIVE
        and _status(allergy.get("verificationStatus")) not in NOT_TRUE
        and not any(c in NO_ALLERGY_CODES for _s, c in _codes(allergy.get("code")))
    )


def _allergy_fact(allergy: dict) -> Fact | None:
    code = allergy.get("code")
    reaction_texts: list[str] = []
    reaction_codes: list[tuple[str, str]] = []
    for reaction in allergy.get("reaction") or []:
        if not isinstance(reaction, dict):
            continue
        if isinstance(reaction.get("description"), str):
            reaction_texts.append(reaction["description"])
        for manifestation in reaction.get("manifestation") or []:
            concept = (
                manifestation.get("concept", manifestation)
                if isinstance(manifestation, dict)
                else manifestation
            )
            reaction_texts += _texts(concept)
            reaction_codes += _codes(concept)
    anaphylaxis = _is_anaphylaxis(reaction_texts + _texts(code), reaction_codes + _codes(code))
    if str(allergy.get("criticality") or "").lower() != "high" and not anaphylaxis:
        return None
    names = _names(code)
    label = names[0] if names else "(known by a code only)"
    return Fact("allergy", label[:40], _key_words(names), anaphylaxis=anaphylaxis)


def _key_words(texts: list[str]) -> tuple[str, ...]:
    words = set()
    for text in texts:
        for word in re.findall(r"[^\W\d_]{4,}", text.lower()):
            if word not in _STOP_WORDS:
                words.add(word)
    return tuple(sorted(words))


def source_facts(bundle: Any) -> SourceFacts:
    """Every critical fact in a raw bundle (any shape; malformed parts are passed over)."""
    found = SourceFacts()
    if not isinstance(bundle, dict):
        return found
    index = _by_reference(bundle)
    for resource in _resources(bundle):
        kind = resource.get("resourceType")
        if kind == "AllergyIntolerance" and _is_active_allergy(resource):
            names = _key_words(_names(resource.get("code")))
            if names:
                found.named_allergies.append(names)
            fact = _allergy_fact(resource)
            if fact:
                found.facts.append(fact)
        elif kind in ("MedicationStatement", "MedicationRequest"):
            if _status(resource.get("status")) not in MED_ACTIVE:
                continue
            agent = anticoagulant_agent(_medication_concepts(resource, index))
            if agent:
                names = ANTICOAGULANT_NAMES.get(agent, (agent,))
                found.facts.append(Fact("anticoagulant", agent, names))
    return found


def _card_texts(card: dict, section: str, keys: tuple[str, ...]) -> list[str]:
    items = card.get(section) or []
    return [
        " ".join(str(item.get(k, "")) for k in keys).lower()
        for item in items
        if isinstance(item, dict)
    ]


def _in_words(text: Any) -> bool:
    """A clinician can read it: not a bare code such as "418770003"."""
    return bool(re.search(r"[^\W\d_]{3,}", str(text or "")))


def check_card(facts: SourceFacts, card: dict | None) -> SourceFacts:
    """Mark each fact on_card (or why not) against the summary that went on the card."""
    for fact in facts.facts:
        if card is None:
            fact.why_missing = "no card"
            continue
        alerts = _card_texts(card, "alerts", ("code", "text"))
        if fact.kind == "anticoagulant":
            meds = _card_texts(card, "medications", ("name",))
            fact.on_card = any(name in text for text in meds + alerts for name in fact.names)
            fact.why_missing = "" if fact.on_card else "medicine not on the card"
            continue
        allergies = [a for a in card.get("allergies") or [] if isinstance(a, dict)]
        if fact.names:
            named = [
                a
                for a in allergies
                if any(w in str(a.get("substance", "")).lower() for w in fact.names)
            ]
            named_in_alerts = [t for t in alerts if any(w in t for w in fact.names)]
        else:  # known by a code only: a card allergy in words must stand for no named one
            named = [
                a
                for a in allergies
                if _in_words(a.get("substance"))
                and not any(
                    w in str(a.get("substance", "")).lower()
                    for names in facts.named_allergies
                    for w in names
                )
            ]
            named_in_alerts = []
        if not (named or named_in_alerts):
            bare_code = not fact.names and any(not _in_words(a.get("substance")) for a in allergies)
            fact.why_missing = (
                "on the card only as a bare code" if bare_code else "allergy not on the card"
            )
            continue
        if fact.anaphylaxis and not (
            any(
                a.get("severity") == "anaphylaxis"
                or any(w in str(a.get("reaction", "")).lower() for w in ANAPHYLAXIS_WORDS)
                for a in named
            )
            or any(w in t for t in named_in_alerts for w in ANAPHYLAXIS_WORDS)
        ):
            fact.why_missing = "on the card but not marked anaphylaxis"
            continue
        fact.on_card = True
    return facts
