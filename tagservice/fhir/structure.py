"""FHIR structure shared by IPS import (fhir.py) and export (fhir_export.py): systems, sections.

Keeping both directions on one vocabulary is what makes export → import give
back the same summary. Codes are public terminology facts (LOINC, SNOMED CT,
HL7 code systems); only codes we are sure of are listed, because a wrong
code here would silently turn one thing into another on a paramedic's screen.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from tagservice.summary import terms

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
BCP47 = "urn:ietf:bcp:47"
LIST_EMPTY_REASON = "http://terminology.hl7.org/CodeSystem/list-empty-reason"
IPS_ABSENT_UNKNOWN = "http://hl7.org/fhir/uv/ips/CodeSystem/absent-unknown-uv-ips"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
DATA_ABSENT_REASON = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"

# Our own code systems carry the native codes that FHIR has no single code
# for (alert kinds, baseline kinds, the free-text note), so they survive a
# round trip exactly. `.invalid` is reserved: the base is a name, not a
# website; replace it with the deployment's canonical URL once there is one.
TAGSERVICE_FHIR_BASE = "https://tagservice.invalid/fhir"
ALERT_SYSTEM = f"{TAGSERVICE_FHIR_BASE}/CodeSystem/alert"
BASELINE_SYSTEM = f"{TAGSERVICE_FHIR_BASE}/CodeSystem/baseline"
SECTION_SYSTEM = f"{TAGSERVICE_FHIR_BASE}/CodeSystem/section"
REVIEW_DATE_EXTENSION = f"{TAGSERVICE_FHIR_BASE}/StructureDefinition/review-date"

IPS_DOCUMENT_TYPE = "60591-5"  # LOINC "Patient summary Document"

# IPS section codes (LOINC), with the wording used in warnings.
SECTION_ALLERGIES = "48765-2"
SECTION_MEDICATIONS = "10160-0"
SECTION_PROBLEMS = "11450-4"
SECTION_ALERTS = "104605-1"
SECTION_VITAL_SIGNS = "8716-3"
SECTION_FUNCTIONAL_STATUS = "47420-5"
SECTION_NOTE = "note"  # in SECTION_SYSTEM
SECTION_LABELS = {
    SECTION_ALLERGIES: "allergies",
    SECTION_MEDICATIONS: "medications",
    SECTION_PROBLEMS: "problems",
}

ALERT_LABELS = {
    "anticoagulant": "Anticoagulant",
    "dnacpr": "DNACPR",
    "respect": "ReSPECT form",
    "pacemaker": "Pacemaker",
    "icd": "Implantable cardioverter-defibrillator",
    "insulin-pump": "Insulin pump",
    "other-device": "Other implanted device",
    "adrenal-insufficiency": "Adrenal insufficiency / steroid dependence",
    "insulin-diabetes": "Insulin-treated diabetes",
    "epilepsy": "Epilepsy",
    "oxygen-target": "Oxygen target",
    "communication": "Communication needs",
    "other": "Other alert",
}

BASELINE_LABELS = {
    "spo2": "Oxygen saturation",
    "bp": "Blood pressure",
    "heart-rate": "Heart rate",
    "resp-rate": "Respiratory rate",
    "mobility": "Mobility",
    "cognition": "Cognition",
    "other": "Other baseline",
}
VITAL_SIGN_KINDS = ("spo2", "bp", "heart-rate", "resp-rate")
# LOINC codes a vital-sign Observation may carry; the first of each is what we export.
VITAL_SIGN_LOINC = {
    "spo2": ("59408-5", "2708-6", "20564-1"),
    "bp": ("85354-9", "55284-4"),
    "heart-rate": ("8867-4",),
    "resp-rate": ("9279-1",),
}
LOINC_SYSTOLIC = "8480-6"
LOINC_DIASTOLIC = "8462-4"
VITAL_SIGN_KEYWORDS = {
    "spo2": ("spo2", "oxygen saturation"),
    "bp": ("blood pressure",),
    "heart-rate": ("heart rate", "pulse rate"),
    "resp-rate": ("respiratory rate",),
}

# Which codes and words mean a clinical concept (anaphylaxis, anticoagulant,
# DNACPR, a device, "no known allergy") is terms.py's business, not this module's.
NO_KNOWN_ALLERGY_SNOMED = terms.data()["no_known_allergy"]["snomed"][0]  # what export writes

# v3 RoleCode / v2-0131 relationship codes seen without a display.
RELATIONSHIP_WORDS = {
    "MTH": "mother", "FTH": "father", "PRN": "parent", "SON": "son", "DAU": "daughter",
    "SONC": "son", "DAUC": "daughter", "CHILD": "child", "HUSB": "husband", "WIFE": "wife",
    "SPS": "spouse", "DOMPART": "partner", "BRO": "brother", "SIS": "sister", "SIB": "sibling",
    "GRMTH": "grandmother", "GRFTH": "grandfather", "GRNDCHILD": "grandchild",
    "FRND": "friend", "NBOR": "neighbour", "FAMMEMB": "family member", "GUARD": "guardian",
    "C": "emergency contact", "N": "next of kin",
}

_SEMANTIC_TAG = re.compile(  # searched, then the space before it stripped: linear time
    r"\((?:substance|disorder|finding|situation|medicinal product|product|clinical drug|"
    r"procedure|physical object|observable entity|qualifier value|morphologic abnormality|"
    r"regime/therapy|event)\)$"
)


words = terms.fold  # lower-case single-spaced words, for keyword matching
mentions = terms.mentions  # whole-word phrase test


_STRUCTURE_CLASS = re.compile(r"Substance with ([\w -]+?) structure and ([\w -]+?) "
                              r"mechanism of action")


def snomed_name(display: str) -> str:
    """A SNOMED CT display as a name: without its "(disorder)"-style tag, which classifies
    the term, and with a drug-class name ("Substance with penicillin structure and
    antibacterial mechanism of action") said as clinicians say it ("Penicillin
    (antibacterial)"). Same meaning, no truncation."""
    tag = _SEMANTIC_TAG.search(display)
    name = display[: tag.start()].rstrip() if tag else display
    drug_class = _STRUCTURE_CLASS.fullmatch(name) if len(name) < 200 else None
    if drug_class:
        structure, mechanism = drug_class.groups()
        name = f"{structure[:1].upper()}{structure[1:]} ({mechanism})"
    return name


def format_number(value: Decimal | int | float) -> str:
    """A FHIR decimal as people write it: 5, 2.5, 20 (never 2E+1 or 5.0)."""
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
        if number == number.to_integral_value():
            return str(number.quantize(Decimal(1)))
        return format(number.normalize(), "f")
    except (InvalidOperation, ValueError):
        return str(value)


def format_quantity(value: Decimal | int | float, unit: str | None) -> str:
    """"90%", "5 mg", "72 /min": the same text export expects back on import."""
    number = format_number(value)
    if not unit:
        return number
    return f"{number}{unit}" if unit == "%" else f"{number} {unit}"


_QUANTITY = re.compile(r"(\d{1,9}(?:\.\d{1,6})?)\s?(\S.*)?")


def parse_quantity(text: str) -> tuple[Decimal, str | None] | None:
    """Split "5 mg" / "90%" into number and unit, but only if it formats back identically."""
    match = _QUANTITY.fullmatch(text)
    if not match:
        return None
    number, unit = Decimal(match.group(1)), match.group(2)
    return (number, unit) if format_quantity(number, unit) == text else None


_TIMES = {1: "once", 2: "twice", 3: "three times", 4: "four times"}
_PERIODS = {"h": ("hour", "hourly"), "d": ("day", "daily"), "wk": ("week", "weekly"),
            "mo": ("month", "monthly"), "a": ("year", "yearly"), "min": ("minute", None)}
_WHEN = {"MORN": "in the morning", "AFT": "in the afternoon", "EVE": "in the evening",
         "NIGHT": "at night", "HS": "at bedtime", "WAKE": "on waking", "C": "with meals",
         "AC": "before meals", "PC": "after meals", "CM": "with breakfast",
         "CD": "with lunch", "CV": "with the evening meal"}


def timing_phrase(frequency: int | None, period: Decimal | None, period_unit: str | None,
                  when: list[str] | None) -> str | None:
    """Timing.repeat in plain words ("twice daily", "every 8 hours at night")."""
    parts = []
    if period_unit in _PERIODS:
        times = frequency or 1
        every = period or Decimal(1)
        noun, adverb = _PERIODS[period_unit]
        times_text = _TIMES.get(times, f"{times} times")
        if every == 1 and adverb:
            parts.append(f"{times_text} {adverb}")
        elif every == 1:
            parts.append(f"{times_text} every {noun}")
        else:
            prefix = "" if times == 1 else f"{times_text} "
            parts.append(f"{prefix}every {format_number(every)} {noun}s")
    parts.extend(_WHEN[code] for code in when or () if code in _WHEN)
    return " ".join(parts) or None
