"""FHIR R4/R4B International Patient Summary (IPS) import: Bundle → native emergency summary.

GP systems and patient apps export IPS document Bundles. This keeps the few
facts that change treatment in the first ten minutes, derives the alerts a
paramedic must not miss, and says in plain English what it skipped. It
neither validates nor truncates the result: summary.validate reports bad or
over-long values with their field paths. Warnings give positions and counts,
never patient data. The reverse direction is in fhir_export.py.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import date
from typing import Any

from tagservice.fhir import structure as terms
from tagservice.fhir.clinical import ClinicalMapping
from tagservice.fhir.read import (
    BundleIndex,
    all_text,
    clean,
    code_in,
    concept_text,
    iso,
    narrative_text,
    person_name,
    phone_number,
    resource_kind,
    status_code,
)
from tagservice.fhir.tolerant import FhirImportError, read_bundle
from tagservice.summary import terms as clinical_terms

__all__ = ["FhirImportError", "is_fhir_bundle", "summary_from_ips"]

SEXES = ("female", "male", "other", "unknown")
# Resources that only give context to others (names, phone numbers, drug codes).
_SUPPORTING = {"Composition", "Patient", "Organization", "Practitioner", "PractitionerRole",
               "Medication", "Device", "Location", "Provenance", "Substance"}
_TYPE_LABELS = {"Immunization": "immunization", "Procedure": "procedure",
                "DiagnosticReport": "diagnostic report", "CarePlan": "care plan",
                "Encounter": "encounter", "DocumentReference": "document",
                "MedicationAdministration": "medication administration record",
                "MedicationDispense": "medication dispensing record",
                "ImagingStudy": "imaging study", "ClinicalImpression": "clinical impression"}


def is_fhir_bundle(data: Any) -> bool:
    """True for parsed JSON that claims to be a FHIR Bundle (native summaries are not)."""
    return isinstance(data, dict) and data.get("resourceType") == "Bundle"


def summary_from_ips(bundle: dict, today: date) -> tuple[dict, list[str]]:
    """Map an IPS-like Bundle to an unvalidated native summary, plus warnings about what was
    left out or could not be read.

    `today` becomes meta.issued. Each resource is read on its own
    (fhir_tolerant), so a malformed part is reported, never the reason the
    whole bundle is refused. Raises FhirImportError only for data that is not
    a Bundle, passes a bound, or has no single patient to be about.
    """
    read = read_bundle(bundle)
    index = BundleIndex(read.entries)
    importer = _Importer(index, _find_patient(index, read), today)
    summary, warnings = importer.run(read.other_kinds)
    unreadable = [f"Could not read {what}: it is not on the card; check the record by hand"
                  for what in read.unreadable]
    problems = [f"Malformed part of the file: {problem}" for problem in read.problems]
    return summary, unreadable + warnings + problems


def _find_patient(index: BundleIndex, read: Any) -> Any:
    patients = [r for r in index.resources if resource_kind(r) == "Patient"]
    if not patients:
        lost = next((p for p in read.problems if p.startswith("Patient at ")), None)
        if lost:
            raise FhirImportError(f"The patient's details could not be read: {lost}")
        why = f" ({read.problems[0]})" if read.problems else ""
        raise FhirImportError(f"This is a FHIR Bundle but it has no Patient resource{why}")
    if len(patients) == 1:
        return patients[0]
    subject = index.resolve(getattr(index.composition, "subject", None), index.composition)
    if any(subject is patient for patient in patients):
        return subject
    raise FhirImportError(f"This Bundle holds {len(patients)} Patient resources and no "
                          "Composition saying which one the summary is about")


class _Importer(ClinicalMapping):
    """One import: reads the patient and document, then each clinical resource once."""

    def __init__(self, index: BundleIndex, patient: Any, today: date):
        self.index, self.patient, self.today = index, patient, today
        self.warnings: list[str] = []
        self.alerts: list[dict] = []
        self.allergies: list[dict] = []
        self.medications: list[dict] = []
        self.conditions: list[dict] = []
        self.medicine_codings: list[list] = []  # (system, code) pairs, parallel to medications
        self.condition_codings: list[list] = []
        self.contacts: list[dict] = []
        self.readings: dict[str, list[tuple[str, str, bool]]] = defaultdict(list)
        self.devices_in_use: list[Any] = []
        self.devices_on_patient: list[Any] = []
        self.no_known_allergies = False
        self.extras: dict[str, Any] = {}
        self.meta: dict[str, str] = {"issued": today.isoformat(), "source": "self-reported"}
        self.positions: Counter[str] = Counter()
        self.skipped: Counter[str] = Counter()

    def run(self, unparsed_kinds: list[str]) -> tuple[dict, list[str]]:
        identity = self._identity()
        self._read_composition()
        for resource in self.index.resources:
            kind = resource_kind(resource)
            mapper = getattr(self, f"map_{kind}", None)
            if mapper is None:
                if kind not in _SUPPORTING:
                    self.skipped[kind] += 1
            elif self._about_someone_else(resource):
                self.skipped["other-patient"] += 1
            else:
                mapper(resource)
        self.skipped.update(unparsed_kinds)  # types the card never uses were not parsed
        self._contacts_gp_language()
        self.add_devices_on_patient()
        self.derive_alerts()
        summary = {"format": 1, "identity": identity, "alerts": self.alerts,
                   "allergies": self.allergies}
        if self.no_known_allergies and self.allergies:
            self.warn("The bundle says 'no known allergies' but also lists allergies; "
                      "kept the allergies and left out 'no known allergies'")
        elif self.no_known_allergies:
            summary["no_known_allergies"] = True
        summary.update(medications=self.medications, conditions=self.conditions,
                       baseline=self.baseline(), contacts=self.contacts)
        summary.update((key, self.extras[key]) for key in ("gp", "language", "note")
                       if key in self.extras)
        summary["meta"] = self.meta
        self._report_skips()
        return summary, self.warnings

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def next_position(self, kind: str) -> int:
        self.positions[kind] += 1
        return self.positions[kind]

    def _about_someone_else(self, resource: Any) -> bool:
        reference = getattr(resource, "subject", None) or getattr(resource, "patient", None)
        target = self.index.resolve(reference, resource)
        return (target is not None and resource_kind(target) == "Patient"
                and target is not self.patient)

    def _identity(self) -> dict:
        patient, identity = self.patient, {}
        name = person_name(patient.name)
        if name:
            identity["name"] = name
        else:
            self.warn("The patient has no name")
        if patient.birthDate is None:
            self.warn("The patient has no birth date")
        else:
            identity["date_of_birth"] = iso(patient.birthDate)
            if not isinstance(patient.birthDate, date):
                self.warn("The patient's birth date is incomplete (year or month only)")
        nhs_number = next((clean(i.value) for i in patient.identifier or []
                           if i.system == terms.NHS_NUMBER_SYSTEM and clean(i.value)), None)
        if nhs_number:
            digits = re.sub(r"[\s-]", "", nhs_number)
            spaced = f"{digits[:3]} {digits[3:6]} {digits[6:]}"  # as printed on NHS cards
            identity["nhs_number"] = spaced if re.fullmatch(r"\d{10}", digits) else nhs_number
        if patient.gender in SEXES:
            identity["sex"] = patient.gender
        elif patient.gender:
            self.warn("The patient's gender code is not one the tag knows; sex left out")
        return identity

    def _read_composition(self) -> None:
        composition = self.index.composition
        if composition is None:
            return
        sections = list(composition.section or [])
        while sections:
            section = sections.pop(0)
            sections.extend(section.section or [])
            if code_in(section.code, terms.SECTION_SYSTEM) == terms.SECTION_NOTE:
                note = narrative_text(section.text)
                if note:
                    self.extras["note"] = note
            if section.emptyReason is not None and not section.entry:
                self._empty_section(code_in(section.code, terms.LOINC), section.emptyReason)
        for extension in composition.extension or []:
            if extension.url == terms.REVIEW_DATE_EXTENSION and extension.valueDate:
                self.meta["review"] = iso(extension.valueDate)
        verifier = self._verifier(composition)
        if verifier:
            self.meta.update(source="clinician-verified", verified_by=verifier)
            self.warn("The document is attested by a clinician, so the summary is marked "
                      "clinician-verified; check this before issuing a tag")

    def _empty_section(self, loinc: str | None, reason: Any) -> None:
        """"Nil known" allergies is information; "not asked" or "unavailable" is not."""
        said = clean(reason.text) or concept_text(reason) or "empty"
        nil_known = status_code(reason) == "nilknown" or clinical_terms.says_no_known_allergies(
            said)
        if loinc == terms.SECTION_ALLERGIES and nil_known:
            self.no_known_allergies = True
        elif loinc in terms.SECTION_LABELS:
            self.warn(f"The {terms.SECTION_LABELS[loinc]} section says: {said}")

    def _verifier(self, composition: Any) -> str | None:
        """The clinician (Practitioner or role) who attested the document, if any."""
        for attester in composition.attester or []:
            if attester.mode not in ("professional", "legal", "official") or not attester.party:
                continue
            party = self.index.resolve(attester.party, composition)
            if party is not None and resource_kind(party) == "PractitionerRole":
                party = self.index.resolve(party.practitioner, party)
                if party is None:
                    continue
            if party is not None and resource_kind(party) != "Practitioner":
                continue  # an organisation or the patient does not verify clinically
            name = clean(attester.party.display) or (person_name(party.name) if party else None)
            if name:
                return name
        return None

    def _contacts_gp_language(self) -> None:
        for contact in self.patient.contact or []:
            name = (person_name([contact.name]) if contact.name else None) or clean(
                getattr(contact.organization, "display", None))
            self._add_contact(name, contact.relationship, contact.telecom)
        gp: dict[str, str] = {}
        for reference in sorted(self.patient.generalPractitioner or [], key=self._not_practice):
            name, phone = self._gp_name_and_phone(reference)
            if name:
                gp.setdefault("name", name)
            if phone:
                gp.setdefault("phone", phone)
        if gp:
            self.extras["gp"] = gp
        communications = self.patient.communication or []
        chosen = next((c for c in communications if c.preferred), None) or next(
            iter(communications), None)
        if chosen is not None:
            language = code_in(chosen.language, terms.BCP47) or clean(
                chosen.language.text) or concept_text(chosen.language)
            if language:
                self.extras["language"] = language

    def _not_practice(self, reference: Any) -> bool:
        """Sort key: the practice (Organization) before an individual GP."""
        target = self.index.resolve(reference, self.patient)
        return target is None or resource_kind(target) != "Organization"

    def _gp_name_and_phone(self, reference: Any) -> tuple[str | None, str | None]:
        target = self.index.resolve(reference, self.patient)
        display = clean(reference.display)
        kind = resource_kind(target) if target is not None else None
        if kind == "Organization":
            return clean(target.name) or display, phone_number(target.telecom)
        if kind == "Practitioner":
            return person_name(target.name) or display, phone_number(target.telecom)
        if kind == "PractitionerRole":
            practice = self.index.resolve(target.organization, target)
            doctor = self.index.resolve(target.practitioner, target)
            name = clean(getattr(practice, "name", None)) or person_name(
                getattr(doctor, "name", None))
            phones = [*(target.telecom or []), *(getattr(practice, "telecom", None) or [])]
            return name or display, phone_number(phones)
        return display, None

    def _add_contact(self, name: str | None, relationships: Any, telecoms: Any) -> None:
        position = self.next_position("Contact")
        phone = phone_number(telecoms)
        if not name:
            self.warn(f"Contact {position} has no name; skipped")
        elif not phone:
            self.warn(f"Contact {position} has no phone number; skipped")
        else:
            contact = {"name": name}
            relationship = next(filter(None, map(_relationship, relationships or [])), None)
            if relationship:
                contact["relationship"] = relationship
            self.contacts.append({**contact, "phone": phone})

    def map_RelatedPerson(self, person: Any) -> None:
        if person.active is not False:
            self._add_contact(person_name(person.name), person.relationship, person.telecom)

    def _report_skips(self) -> None:
        for key, count in self.skipped.items():
            if key in self.SKIP_REASONS:
                one, many = self.SKIP_REASONS[key]
                self.warn(f"Skipped {count} {one if count == 1 else many}")
            else:
                label = _TYPE_LABELS.get(key, f"{key} resource")
                self.warn(f"Skipped {count} {label}{'' if count == 1 else 's'}: "
                          "not part of the emergency summary")


def _relationship(concept: Any) -> str | None:
    """Relationship words; a bare v3 code such as "MTH" becomes "mother"."""
    if all_text(concept):
        return concept_text(concept)
    code = status_code(concept)
    return terms.RELATIONSHIP_WORDS.get(code, code) if code else None
