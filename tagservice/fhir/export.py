"""Native emergency summary → FHIR R4B IPS document Bundle, for hospital records.

The document holds a Composition with the IPS sections, the Patient (with
contacts, GP practice and language), and one resource per allergy,
medication, condition, alert (Flag) and baseline value (Observation). It is
built so that fhir.summary_from_ips gives the same summary back: native
codes FHIR has no single code for travel in our own code systems
(fhir_terms), and dose/frequency are written so they can be split again.
The output is checked against the fhir.resources R4B models before it is returned.
"""

from __future__ import annotations

import html
import json
import re
import uuid
from typing import Any

from fhir.resources.R4B.bundle import Bundle

from tagservice.fhir import structure as terms

_AS_NEEDED = ("as required", "as needed", "when required", "prn")
_BLOOD_PRESSURE = re.compile(r"([1-9]\d{0,2})/([1-9]\d{0,2})(?: (\S+))?")
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*")
_XHTML = "http://www.w3.org/1999/xhtml"


def ips_from_summary(summary: dict) -> dict:
    """Export a (validated) native summary as a FHIR R4B IPS document Bundle, as JSON data.

    Identifiers are derived from the summary's content, so the same summary
    always gives the same document. Raises ValueError (pydantic's
    ValidationError) if a value cannot be expressed as valid FHIR.
    """
    document = _Document(summary).bundle()
    return Bundle.model_validate(document).model_dump(mode="json")


class _Document:
    """Collects bundle entries; each `_add` returns the reference other resources use."""

    def __init__(self, summary: dict):
        self.summary = summary
        content = json.dumps(summary, sort_keys=True, ensure_ascii=False, default=str)
        namespace = uuid.uuid5(uuid.NAMESPACE_URL, terms.TAGSERVICE_FHIR_BASE)
        self.document_id = uuid.uuid5(namespace, content)
        self.entries: list[dict] = []

    def _add(self, resource: dict) -> str:
        resource_id = str(uuid.uuid5(self.document_id, str(len(self.entries))))
        full_url = f"urn:uuid:{resource_id}"
        self.entries.append({"fullUrl": full_url, "resource": {**resource, "id": resource_id}})
        return full_url

    def bundle(self) -> dict:
        summary = self.summary
        issued = summary["meta"]["issued"]
        self._add({"resourceType": "Composition"})  # filled in below; IPS wants it first
        patient = self._add(self._patient())
        subject = {"reference": patient}
        sections = [
            self._allergies(subject),
            self._section(terms.SECTION_MEDICATIONS, "Medication Summary",
                          [(self._medication(m, subject), _medication_line(m))
                           for m in summary["medications"]]),
            self._section(terms.SECTION_PROBLEMS, "Problem List",
                          [(self._condition(c, subject), c["name"])
                           for c in summary["conditions"]]),
            self._section(terms.SECTION_ALERTS, "Alerts",
                          [(self._flag(a, subject), _alert_line(a)) for a in summary["alerts"]],
                          required=False),
        ]
        baseline = self._baseline(subject)  # in the summary's order, which import keeps
        sections += [
            self._section(terms.SECTION_VITAL_SIGNS, "Vital Signs (usual for this patient)",
                          [item for vital, *item in baseline if vital], required=False),
            self._section(terms.SECTION_FUNCTIONAL_STATUS, "Functional Status (usual)",
                          [item for vital, *item in baseline if not vital], required=False),
        ]
        if summary.get("note"):
            note_code = _code(terms.SECTION_SYSTEM, terms.SECTION_NOTE, "Note")
            sections.append({"title": "Note", "code": note_code,
                             "text": _narrative([summary["note"]], as_list=False)})
        composition = {
            "resourceType": "Composition",
            "status": "final",
            "type": _code(terms.LOINC, terms.IPS_DOCUMENT_TYPE, "Patient summary Document"),
            "subject": subject,
            "date": issued,
            "author": [subject],  # the patient's own summary, whoever verified it
            "title": "Emergency summary",
            "section": [section for section in sections if section],
        }
        meta = summary["meta"]
        if meta.get("review"):
            composition["extension"] = [{"url": terms.REVIEW_DATE_EXTENSION,
                                         "valueDate": meta["review"]}]
        if meta.get("source") == "clinician-verified" and meta.get("verified_by"):
            composition["attester"] = [{"mode": "professional",
                                        "party": {"display": meta["verified_by"]}}]
        self.entries[0]["resource"].update(composition)
        return {
            "resourceType": "Bundle",
            "identifier": {"system": "urn:ietf:rfc:3986",
                           "value": f"urn:uuid:{self.document_id}"},
            "type": "document",
            "timestamp": f"{issued}T00:00:00Z",
            "entry": self.entries,
        }

    def _patient(self) -> dict:
        identity, summary = self.summary["identity"], self.summary
        patient: dict[str, Any] = {"resourceType": "Patient",
                                   "name": [{"use": "official", "text": identity["name"]}],
                                   "birthDate": identity["date_of_birth"]}
        if identity.get("nhs_number"):
            patient["identifier"] = [{"system": terms.NHS_NUMBER_SYSTEM,
                                      "value": re.sub(r"\s", "", identity["nhs_number"])}]
        if identity.get("sex"):
            patient["gender"] = identity["sex"]
        contacts = []
        for contact in summary["contacts"]:
            entry = {"name": {"text": contact["name"]},
                     "telecom": [{"system": "phone", "value": contact["phone"]}]}
            if contact.get("relationship"):
                entry["relationship"] = [{"text": contact["relationship"]}]
            contacts.append(entry)
        if contacts:
            patient["contact"] = contacts
        gp = summary.get("gp") or {}
        if gp:
            practice: dict[str, Any] = {"resourceType": "Organization"}
            if gp.get("name"):
                practice["name"] = gp["name"]
            if gp.get("phone"):
                practice["telecom"] = [{"system": "phone", "value": gp["phone"], "use": "work"}]
            patient["generalPractitioner"] = [{"reference": self._add(practice)}]
        language = summary.get("language")
        if language:
            concept = ({"coding": [{"system": terms.BCP47, "code": language}]}
                       if _LANGUAGE_TAG.fullmatch(language) else {"text": language})
            patient["communication"] = [{"language": concept, "preferred": True}]
        return patient

    def _allergies(self, subject: dict) -> dict:
        items = []
        if self.summary.get("no_known_allergies") and not self.summary["allergies"]:
            items.append((self._add({
                "resourceType": "AllergyIntolerance",
                "clinicalStatus": _code(terms.ALLERGY_CLINICAL, "active"),
                "code": _code(terms.SNOMED, terms.NO_KNOWN_ALLERGY_SNOMED, "No known allergy"),
                "patient": subject}), "No known allergies"))
        for allergy in self.summary["allergies"]:
            items.append((self._allergy(allergy, subject), _allergy_line(allergy)))
        return self._section(terms.SECTION_ALLERGIES, "Allergies and Intolerances", items)

    def _allergy(self, allergy: dict, subject: dict) -> str:
        """Anaphylaxis-grade → criticality high (how import reads it back)."""
        resource: dict[str, Any] = {"resourceType": "AllergyIntolerance",
                                    "clinicalStatus": _code(terms.ALLERGY_CLINICAL, "active"),
                                    "code": {"text": allergy["substance"]}, "patient": subject}
        severity, reaction = allergy.get("severity"), allergy.get("reaction")
        if severity == "anaphylaxis":
            resource["criticality"] = "high"
        if reaction or severity in ("mild", "moderate", "severe"):
            # FHIR needs a manifestation for a reaction; when only the severity
            # is known, say the manifestation is unknown rather than invent one.
            unknown = {"extension": [{"url": terms.DATA_ABSENT_REASON, "valueCode": "unknown"}]}
            entry: dict[str, Any] = {"manifestation": [{"text": reaction} if reaction else unknown]}
            if severity:
                entry["severity"] = "severe" if severity == "anaphylaxis" else severity
            resource["reaction"] = [entry]
        return self._add(resource)

    def _medication(self, medication: dict, subject: dict) -> str:
        resource: dict[str, Any] = {"resourceType": "MedicationStatement", "status": "active",
                                    "medicationCodeableConcept": {"text": medication["name"]},
                                    "subject": subject}
        dose, frequency = medication.get("dose"), medication.get("frequency")
        if dose or frequency:
            # Full instruction as text; the timing text lets import split it again.
            dosage: dict[str, Any] = {"text": " ".join(filter(None, (dose, frequency)))}
            if frequency:
                dosage["timing"] = {"code": {"text": frequency}}
                if terms.mentions(frequency, _AS_NEEDED):
                    dosage["asNeededBoolean"] = True
            quantity = terms.parse_quantity(dose) if dose else None
            if quantity:
                dosage["doseAndRate"] = [{"doseQuantity": _quantity(*quantity)}]
            resource["dosage"] = [dosage]
        return self._add(resource)

    def _condition(self, condition: dict, subject: dict) -> str:
        return self._add({
            "resourceType": "Condition",
            "clinicalStatus": _code(terms.CONDITION_CLINICAL, "active"),
            "category": [_code("http://terminology.hl7.org/CodeSystem/condition-category",
                               "problem-list-item", "Problem List Item")],
            "code": {"text": condition["name"]}, "subject": subject})

    def _flag(self, alert: dict, subject: dict) -> str:
        code = _code(terms.ALERT_SYSTEM, alert["code"], terms.ALERT_LABELS.get(alert["code"]))
        if alert.get("text"):
            code["text"] = alert["text"]
        return self._add({"resourceType": "Flag", "status": "active", "code": code,
                          "subject": subject})

    def _baseline(self, subject: dict) -> list[tuple[bool, str, str]]:
        """(is a vital sign, reference, narrative line) per baseline value."""
        items = []
        for item in self.summary["baseline"]:
            kind, value = item["kind"], item["value"]
            vital = kind in terms.VITAL_SIGN_KINDS
            label = terms.BASELINE_LABELS.get(kind, kind)
            coding = [{"system": terms.BASELINE_SYSTEM, "code": kind, "display": label}]
            if kind in terms.VITAL_SIGN_LOINC:
                coding.insert(0, {"system": terms.LOINC, "code": terms.VITAL_SIGN_LOINC[kind][0]})
            observation: dict[str, Any] = {"resourceType": "Observation", "status": "final",
                                           "code": {"coding": coding, "text": label},
                                           "subject": subject, **_observation_value(kind, value)}
            if vital:
                observation["category"] = [_code(terms.OBSERVATION_CATEGORY, "vital-signs")]
            items.append((vital, self._add(observation), f"{label}: {value}"))
        return items

    def _section(self, loinc: str, title: str, items: list[tuple[str, str]],
                 required: bool = True) -> dict | None:
        """An IPS section; a required one with nothing to list says why it is empty."""
        section: dict[str, Any] = {"title": title, "code": _code(terms.LOINC, loinc)}
        if items:
            section["text"] = _narrative([line for _, line in items])
            section["entry"] = [{"reference": reference} for reference, _ in items]
        elif required:
            reason = "Not recorded in the emergency summary"
            section["text"] = _narrative([reason], as_list=False)
            section["emptyReason"] = {
                **_code(terms.LIST_EMPTY_REASON, "unavailable", "Unavailable"), "text": reason}
        else:
            return None
        return section


def _observation_value(kind: str, value: str) -> dict:
    """Numbers as quantities when they print back identically, else the text as written."""
    pressure = _BLOOD_PRESSURE.fullmatch(value) if kind == "bp" else None
    if pressure:
        systolic, diastolic, unit = pressure.groups()
        return {"component": [
            {"code": _code(terms.LOINC, terms.LOINC_SYSTOLIC, "Systolic blood pressure"),
             "valueQuantity": _quantity(systolic, unit)},
            {"code": _code(terms.LOINC, terms.LOINC_DIASTOLIC, "Diastolic blood pressure"),
             "valueQuantity": _quantity(diastolic, unit)}]}
    quantity = terms.parse_quantity(value) if kind in terms.VITAL_SIGN_KINDS else None
    return {"valueQuantity": _quantity(*quantity)} if quantity else {"valueString": value}


def _quantity(value: Any, unit: str | None) -> dict:
    quantity: dict[str, Any] = {"value": value}
    if unit:
        quantity["unit"] = unit
    if unit == "%":
        quantity.update(system="http://unitsofmeasure.org", code="%")
    return quantity


def _code(system: str, code: str, display: str | None = None) -> dict:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def _narrative(lines: list[str], as_list: bool = True) -> dict:
    """Human-readable section text (IPS expects one); the values are escaped."""
    if as_list:
        body = "<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in lines) + "</ul>"
    else:
        body = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    return {"status": "generated", "div": f'<div xmlns="{_XHTML}">{body}</div>'}


def _allergy_line(allergy: dict) -> str:
    details = ", ".join(filter(None, (allergy.get("reaction"), allergy.get("severity"))))
    return f"{allergy['substance']} ({details})" if details else allergy["substance"]


def _medication_line(medication: dict) -> str:
    return " ".join(filter(None, (medication["name"], medication.get("dose"),
                                  medication.get("frequency"))))


def _alert_line(alert: dict) -> str:
    label = terms.ALERT_LABELS.get(alert["code"], alert["code"])
    return f"{label}: {alert['text']}" if alert.get("text") else label
