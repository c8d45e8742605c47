"""Reading FHIR R4B datatypes (parsed by fhir.resources) as the short texts a tag holds.

Real-world bundles vary: a concept may have a display, only a text, or only
a code; names may be given+family or text; dosage may be free text or
structured. Each reader takes whatever is there, in a fixed order of
preference, and returns None rather than failing when nothing usable is.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from tagservice.fhir import structure as terms
from tagservice.summary import terms as clinical_terms

_RESOURCE_TYPE = re.compile(r"[A-Z][A-Za-z]{1,63}")
_RESOURCE_ID = re.compile(r"[A-Za-z0-9.-]{1,64}")
_NAME_USE_ORDER = ("official", "usual", None, "nickname", "temp")
_AS_NEEDED = ("as required", "as needed", "when required", "prn")


def resource_kind(resource: Any) -> str:
    """"Patient", "Flag", …: the FHIR resourceType of a parsed resource."""
    return resource.get_resource_type()


class BundleIndex:
    """A bundle's parsed resources, with references resolved the ways real bundles write them:
    urn:uuid fullUrls, absolute or relative "Type/id" URLs, and "#id" for contained resources."""

    def __init__(self, entries: list[tuple[str | None, Any]]):
        self.resources = [resource for _url, resource in entries]
        self.composition = next(
            (r for r in self.resources if resource_kind(r) == "Composition"), None)
        self._by_reference: dict[str, Any] = {}
        for full_url, resource in entries:
            if full_url:
                self._by_reference.setdefault(full_url, resource)
            if resource.id:
                self._by_reference.setdefault(f"{resource_kind(resource)}/{resource.id}", resource)

    def resolve(self, reference: Any, container: Any = None) -> Any:
        """The resource a Reference points to inside the bundle, or None."""
        target = getattr(reference, "reference", None)
        if not target:
            return None
        if target.startswith("#"):
            contained = getattr(container, "contained", None) or []
            return next((r for r in contained if r.id == target[1:]), None)
        found = self._by_reference.get(target)
        return found if found is not None else self._by_reference.get(_type_and_id(target))


def _type_and_id(reference: str) -> str | None:
    """"Patient/123" from ".../fhir/Patient/123" or ".../Patient/123/_history/2"."""
    parts = reference.split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    if len(parts) < 2 or not (_RESOURCE_TYPE.fullmatch(parts[-2])
                              and _RESOURCE_ID.fullmatch(parts[-1])):
        return None
    return f"{parts[-2]}/{parts[-1]}"


def clean(text: Any) -> str | None:
    """The string stripped of surrounding space, or None if there is no text."""
    return text.strip() if isinstance(text, str) and text.strip() else None


def iso(value: date | datetime | str) -> str:
    """FHIR dates are date objects when complete and strings when partial ("1972")."""
    return value.isoformat() if isinstance(value, date | datetime) else str(value)


def codes(concept: Any, system: str | None) -> set[str]:
    """Codes of a CodeableConcept from one code system."""
    return {c.code for c in getattr(concept, "coding", None) or [] if c.code and c.system == system}


def code_in(concept: Any, system: str | None) -> str | None:
    """The first code of a CodeableConcept from one code system."""
    return next((c.code for c in getattr(concept, "coding", None) or []
                 if c.code and c.system == system), None)


def codings_of(concept: Any) -> list[tuple[str | None, str | None]]:
    """(system, code) pairs of a CodeableConcept, for the terminology (terms.py)."""
    return [(c.system, c.code) for c in getattr(concept, "coding", None) or [] if c.code]


def status_code(concept: Any) -> str | None:
    """clinicalStatus-style concepts: the first code, whatever the system."""
    return next((c.code for c in getattr(concept, "coding", None) or [] if c.code), None)


def concept_text(concept: Any) -> str | None:
    """What to show for a code: the display, then the text, then the bare code."""
    if concept is None:
        return None
    for coding in concept.coding or []:
        display = clean(coding.display)
        if display:
            return terms.snomed_name(display) if coding.system == terms.SNOMED else display
    known = clinical_terms.display_for(codings_of(concept))  # a code without words
    return clean(concept.text) or known or next(
        filter(None, (_bare_code(c) for c in concept.coding or [])), None)


_SYSTEM_NAMES = {"snomed": "SNOMED CT", "atc": "ATC", "rxnorm": "RxNorm"}


def _bare_code(coding: Any) -> str | None:
    """A code nobody named, said with its code system so a reader knows it is a code."""
    code = clean(coding.code)
    kind = clinical_terms.system_kind(coding.system)
    return f"{code} ({_SYSTEM_NAMES[kind]} code)" if code and kind else code


def coded_names(concept: Any) -> list[str]:
    """Every name a concept gives for itself (displays, text, the terminology's name for its
    code), shortest first: the shorter forms fitting may use."""
    if concept is None:
        return []
    names = [terms.snomed_name(c.display) if c.system == terms.SNOMED else c.display
             for c in concept.coding or [] if clean(c.display)]
    names += [concept.text, clinical_terms.display_for(codings_of(concept))]
    return sorted(dict.fromkeys(n.strip() for n in names if clean(n)), key=len)


def all_text(concept: Any) -> str:
    """Every human-readable word in a concept, for keyword matching."""
    if concept is None:
        return ""
    parts = [concept.text, *(c.display for c in concept.coding or [])]
    return " ; ".join(filter(None, map(clean, parts)))


def person_name(names: Iterable[Any] | None) -> str | None:
    """The official, else usual, else any current name: its text, else given + family."""
    current = [n for n in names or [] if n.use not in ("old", "maiden", "anonymous")]
    ranked = sorted(current or list(names or []), key=lambda n: _NAME_USE_ORDER.index(n.use)
                    if n.use in _NAME_USE_ORDER else len(_NAME_USE_ORDER))
    for name in ranked:
        text = clean(name.text) or " ".join(filter(None, map(clean, [*(name.given or []),
                                                                     name.family])))
        if text:
            return text
    return None


def phone_number(telecoms: Iterable[Any] | None) -> str | None:
    """The first current phone number, without a "tel:" prefix."""
    phones = [t for t in telecoms or [] if t.system in ("phone", "sms") and clean(t.value)]
    phones.sort(key=lambda t: t.use == "old")
    if not phones:
        return None
    number = clean(phones[0].value)
    return clean(number[4:]) if number.lower().startswith("tel:") else number


def narrative_text(narrative: Any) -> str | None:
    """The plain text of our own exported narrative (<div><p>…</p></div>), tags removed."""
    div = getattr(narrative, "div", None)
    if not isinstance(div, str):
        return None
    return clean(html.unescape(re.sub(r"<[^<>]*>", "", div)))


def unit_of(quantity: Any) -> str | None:
    """The unit people read: "mg", "tablet", "mmHg" (UCUM "{tablet}" and "1" are not)."""
    unit = clean(quantity.unit)
    code = clean(quantity.code)
    if unit:
        return unit
    if code in (None, "1"):
        return None
    return {"mm[Hg]": "mmHg"}.get(code, code.strip("{}"))


def dose_and_frequency(dosages: list | None) -> tuple[str | None, str | None]:
    """Split a dosage into the tag's dose and frequency texts.

    The prescriber's free text wins; it is split only where the structured
    timing says exactly how it ends ("5 mg" + "once daily"), which is also how
    our own export writes it. Several dosages (tapering, alternate days) are
    kept whole, joined by "; ", rather than guessed at.
    """
    dosages = list(dosages or [])
    if len(dosages) > 1:
        parts = [" ".join(filter(None, _split_dosage(d))) for d in dosages]
        return "; ".join(filter(None, parts)) or None, None
    return _split_dosage(dosages[0]) if dosages else (None, None)


def structured_dose(dosages: list | None) -> str | None:
    """The dose from the structured fields alone ("5 mg"), for when the free text is too long."""
    dosages = list(dosages or [])
    return _structured_dose(dosages[0]) if len(dosages) == 1 else None


def structured_frequency(dosages: list | None) -> str | None:
    """The timing from the structured fields alone ("twice daily")."""
    dosages = list(dosages or [])
    return _frequency(dosages[0]) if len(dosages) == 1 else None


def _split_dosage(dosage: Any) -> tuple[str | None, str | None]:
    text, dose, frequency = clean(dosage.text), _structured_dose(dosage), _frequency(dosage)
    if not text:
        return dose, frequency
    if frequency and text == frequency:
        return dose, frequency
    if frequency and text.endswith(f" {frequency}"):
        return clean(text[: -len(frequency)]), frequency
    return text, None


def _structured_dose(dosage: Any) -> str | None:
    for dose_and_rate in dosage.doseAndRate or []:
        quantity, dose_range = dose_and_rate.doseQuantity, dose_and_rate.doseRange
        if quantity is not None and quantity.value is not None:
            return terms.format_quantity(quantity.value, unit_of(quantity))
        low, high = getattr(dose_range, "low", None), getattr(dose_range, "high", None)
        if getattr(low, "value", None) is not None and getattr(high, "value", None) is not None:
            unit = unit_of(high) or unit_of(low)
            amount = f"{terms.format_number(low.value)}-{terms.format_number(high.value)}"
            return f"{amount} {unit}" if unit else amount
    return None


def _frequency(dosage: Any) -> str | None:
    timing, phrase = dosage.timing, None
    if timing is not None:
        phrase = concept_text(timing.code)
        repeat = timing.repeat
        if phrase is None and repeat is not None:
            phrase = terms.timing_phrase(repeat.frequency, repeat.period, repeat.periodUnit,
                                         [w for w in repeat.when or [] if w])
    if (dosage.asNeededBoolean or dosage.asNeededCodeableConcept) and not (
            phrase and terms.mentions(phrase, _AS_NEEDED)):
        reason = concept_text(dosage.asNeededCodeableConcept)
        as_needed = f"as required for {reason}" if reason else "as required"
        phrase = f"{phrase}, {as_needed}" if phrase else as_needed
    return phrase


def observation_value(observation: Any, kind: str) -> str | None:
    """A reading as text: "90%", "72 /min", "130/80 mmHg", or a coded/free-text value."""
    if kind == "bp":
        parts = {}
        for component in observation.component or []:
            quantity = component.valueQuantity
            loinc = codes(component.code, terms.LOINC)
            for name, code in (("systolic", terms.LOINC_SYSTOLIC),
                               ("diastolic", terms.LOINC_DIASTOLIC)):
                if quantity is not None and quantity.value is not None and (
                        code in loinc or terms.mentions(all_text(component.code), (name,))):
                    parts.setdefault(name, quantity)
        if len(parts) == 2:
            systolic, diastolic = parts["systolic"], parts["diastolic"]
            pressure = (f"{terms.format_number(systolic.value)}/"
                        f"{terms.format_number(diastolic.value)}")
            unit = unit_of(systolic)
            return f"{pressure} {unit}" if unit else pressure
    quantity = observation.valueQuantity
    if quantity is not None and quantity.value is not None:
        # a comparator changes the meaning: "<88%" is not "88%"
        return (quantity.comparator or "") + terms.format_quantity(quantity.value,
                                                                   unit_of(quantity))
    if observation.valueInteger is not None:
        return str(observation.valueInteger)
    return clean(observation.valueString) or concept_text(observation.valueCodeableConcept)
