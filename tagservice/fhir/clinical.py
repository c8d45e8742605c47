"""FHIR IPS import, clinical part: one mapper per resource type, and the derived alerts.

Mixed into fhir._Importer, which owns the state these methods fill in
(alerts, allergies, medications, conditions, readings) and the bookkeeping
(warn, next_position, skipped, index, today). Each mapper keeps what changes
emergency treatment, skips what is no longer true, and says so.
"""

from __future__ import annotations

from typing import Any

from tagservice.fhir import structure as fhir_terms
from tagservice.fhir.read import (
    all_text,
    clean,
    code_in,
    coded_names,
    codes,
    codings_of,
    concept_text,
    dose_and_frequency,
    iso,
    observation_value,
    resource_kind,
    status_code,
    structured_dose,
    structured_frequency,
)
from tagservice.summary import alerts, fit, terms
from tagservice.summary import model as summary_model

_STOPPED = {
    "MedicationStatement": {"completed", "entered-in-error", "stopped", "not-taken"},
    "MedicationRequest": {"cancelled", "completed", "entered-in-error", "stopped", "draft"},
}
_SEVERITIES = ("mild", "moderate", "severe")


class ClinicalMapping:
    """The clinical resource mappers (`map_<resourceType>`) of an import."""

    SKIP_REASONS = {  # skipped-counter key → (one, many)
        "Observation": ("observation that is not a vital sign (e.g. a lab result)",
                        "observations that are not vital signs (e.g. lab results)"),
        "condition-inactive": ("condition that is no longer active or was refuted",
                               "conditions that are no longer active or were refuted"),
        "allergy-inactive": ("allergy that is no longer active or was refuted",
                             "allergies that are no longer active or were refuted"),
        "medication-stopped": ("medication that was stopped, completed or not taken",
                               "medications that were stopped, completed or not taken"),
        "flag-inactive": ("alert flag that is inactive or expired",
                          "alert flags that are inactive or expired"),
        "device-removed": ("device that is no longer in use", "devices that are no longer in use"),
        "consent-inactive": ("consent that is not active", "consents that are not active"),
        "vital-cancelled": ("vital sign reading that was cancelled or entered in error",
                            "vital sign readings that were cancelled or entered in error"),
        "other-patient": ("record about a different patient", "records about a different patient"),
    }

    def map_AllergyIntolerance(self, allergy: Any) -> None:
        position = self.next_position("Allergy")
        if status_code(allergy.clinicalStatus) in ("inactive", "resolved") or status_code(
                allergy.verificationStatus) in ("refuted", "entered-in-error"):
            self.skipped["allergy-inactive"] += 1
            return
        snomed = codes(allergy.code, fhir_terms.SNOMED)
        absent = codes(allergy.code, fhir_terms.IPS_ABSENT_UNKNOWN)
        statement = terms.no_known_allergy(snomed, absent)
        if statement == "all":
            self.no_known_allergies = True
            return
        if statement or absent:
            what = (f"no known allergy to {statement} only" if statement
                    else "no allergy information")
            self.warn(f"Allergy {position} records {what}; the tag can only say 'no known "
                      "allergies' for every substance, so it was left out")
            return
        substance = concept_text(allergy.code)
        if not substance:
            self.warn(f"Allergy {position} has no substance; skipped")
            return
        entry = {"substance": substance}
        _offer_shorter(entry, "substance", *coded_names(allergy.code))
        manifestations = [m for r in allergy.reaction or [] for m in r.manifestation or []]
        reaction = ", ".join(dict.fromkeys(filter(None, map(concept_text, manifestations))))
        reaction = reaction or next(
            filter(None, (clean(r.description) for r in allergy.reaction or [])), None)
        if reaction:
            entry["reaction"] = reaction
        severity = _allergy_severity(allergy, manifestations)
        if severity:
            entry["severity"] = severity
        self.allergies.append(entry)

    def map_MedicationStatement(self, statement: Any) -> None:
        self._medication(statement, statement.dosage)

    def map_MedicationRequest(self, request: Any) -> None:
        self._medication(request, request.dosageInstruction)

    def _medication(self, resource: Any, dosages: Any) -> None:
        position = self.next_position("Medication")
        if resource.status in _STOPPED[resource_kind(resource)]:
            self.skipped["medication-stopped"] += 1
            return
        concept = resource.medicationCodeableConcept
        if concept is None:
            medication = self.index.resolve(resource.medicationReference, resource)
            if medication is not None and resource_kind(medication) == "Medication":
                concept = medication.code
        if codes(concept, fhir_terms.IPS_ABSENT_UNKNOWN):
            self.warn(f"Medication {position} says there are no known medications or no "
                      "information; the tag has no field for that, so it was left out")
            return
        name = concept_text(concept) or clean(
            getattr(resource.medicationReference, "display", None))
        if not name:
            self.warn(f"Medication {position} has no name; skipped")
            return
        entry = {"name": name}
        dose, frequency = dose_and_frequency(dosages)
        if dose:
            entry["dose"] = dose
        if frequency:
            entry["frequency"] = frequency
        _offer_shorter(entry, "dose", structured_dose(dosages))
        _offer_shorter(entry, "frequency", structured_frequency(dosages))
        timing = structured_frequency(dosages)
        if fit.ALTERNATIVES in entry and "frequency" not in entry and timing:
            entry[fit.ALTERNATIVES].setdefault("frequency", [timing])
        _offer_shorter(entry, "name", *coded_names(concept))
        self.medications.append(entry)
        self.medicine_codings.append(codings_of(concept))

    def map_Condition(self, condition: Any) -> None:
        position = self.next_position("Condition")
        clinical = status_code(condition.clinicalStatus)
        abated = clinical is None and any((condition.abatementDateTime, condition.abatementAge,
                                           condition.abatementPeriod, condition.abatementRange,
                                           condition.abatementString))
        if clinical in ("inactive", "remission", "resolved") or abated or status_code(
                condition.verificationStatus) in ("refuted", "entered-in-error"):
            self.skipped["condition-inactive"] += 1
            return
        if codes(condition.code, fhir_terms.IPS_ABSENT_UNKNOWN):
            self.warn(f"Condition {position} says there are no known problems or no "
                      "information; the tag has no field for that, so it was left out")
            return
        name = concept_text(condition.code)
        if name:
            entry = {"name": name}
            _offer_shorter(entry, "name", *coded_names(condition.code))
            self.conditions.append(entry)
            self.condition_codings.append(codings_of(condition.code))
        else:
            self.warn(f"Condition {position} has no name; skipped")

    def map_Flag(self, flag: Any) -> None:
        """Our own alert codes come back exactly; other flags by their words, else "other"."""
        position = self.next_position("Flag")
        end = flag.period.end if flag.period is not None else None
        if flag.status != "active" or (end and iso(end)[:10] < self.today.isoformat()):
            self.skipped["flag-inactive"] += 1
            return
        own_code = code_in(flag.code, fhir_terms.ALERT_SYSTEM)
        if own_code in fhir_terms.ALERT_LABELS:
            detail = clean(flag.code.text)
            self.add_alert({"code": own_code, **({"text": detail} if detail else {})})
            return
        text = clean(flag.code.text) or concept_text(flag.code)  # a flag's text is its detail
        if text:
            code = terms.alert_code_for_text(all_text(flag.code) or text)
            self.add_alert({"code": code, "text": text})
        else:
            self.warn(f"Alert flag {position} has no text; skipped")

    def map_Consent(self, consent: Any) -> None:
        """Only a plain DNACPR or ReSPECT decision becomes an alert; anything else is reported."""
        position = self.next_position("Consent")
        if consent.status != "active":
            self.skipped["consent-inactive"] += 1
            return
        provision = consent.provision
        concepts = [consent.scope, *(consent.category or []), consent.policyRule]
        if provision is not None:
            concepts += [*(provision.code or []), *(provision.action or [])]
        title = clean(getattr(consent.sourceAttachment, "title", None))
        text = " ; ".join(filter(None, [*map(all_text, concepts), title]))
        code = terms.alert_code_for_text(text)
        if code not in ("dnacpr", "respect"):
            snomed = set().union(*(codes(concept, fhir_terms.SNOMED) for concept in concepts))
            refuses_cpr = getattr(provision, "type", None) == "deny" and terms.mentions(
                text, ("cpr", "resuscitation"))
            code = "dnacpr" if terms.is_dnacpr_code(snomed) or refuses_cpr else None
        if code:
            self.add_alert({"code": code})
        else:
            self.warn(f"Consent {position} is not a DNACPR or ReSPECT decision; skipped")

    def map_DeviceUseStatement(self, statement: Any) -> None:
        position = self.next_position("Device")
        if statement.status in ("completed", "stopped", "entered-in-error"):
            self.skipped["device-removed"] += 1
            return
        device = self.index.resolve(statement.device, statement)
        display = clean(statement.device.display)
        if device is not None and resource_kind(device) == "Device":
            self.devices_in_use.append(device)
            self._device_alert(device, position)
        elif display:
            self.add_alert({"code": terms.device_code(display, ()), "text": display})
        else:
            self.warn(f"Device {position} could not be identified; skipped")

    def map_Device(self, device: Any) -> None:
        """A Device counts only if affixed to the patient: a bundle's author may be a Device."""
        if device.patient is not None and device.status not in ("inactive", "entered-in-error"):
            self.devices_on_patient.append(device)

    def add_devices_on_patient(self) -> None:
        """Devices on the patient that no DeviceUseStatement already mentioned."""
        for device in self.devices_on_patient:
            if not any(device is used for used in self.devices_in_use):
                self._device_alert(device, self.next_position("Device"))

    def _device_alert(self, device: Any, position: int) -> None:
        if codes(device.type, fhir_terms.IPS_ABSENT_UNKNOWN):
            return  # "no known devices"
        name = next(filter(None, (clean(n.name) for n in device.deviceName or [])), None)
        name = name or concept_text(device.type)
        if not name:
            self.warn(f"Device {position} has no name or type; skipped")
            return
        manufacturer = clean(device.manufacturer)
        if manufacturer and manufacturer.casefold() not in name.casefold():
            name = f"{name}, {manufacturer}"
        text = f"{name} ; {all_text(device.type)}"
        code = terms.device_code(text, codes(device.type, fhir_terms.SNOMED))
        if code == "other-device" and not terms.is_implant(text):
            # a wheelchair or a hearing aid is not an implanted device: no red line
            self.warn(f"Device {position} is not an implanted device; left out of the alerts")
            return
        self.add_alert({"code": code, "text": name})

    def map_Observation(self, observation: Any) -> None:
        kind, declared = _baseline_kind(observation.code)
        if kind is None:
            self.skipped["Observation"] += 1
            return
        if observation.status in ("cancelled", "entered-in-error"):
            self.skipped["vital-cancelled"] += 1
            return
        value = observation_value(observation, kind)
        if value is None:
            label = fhir_terms.BASELINE_LABELS[kind].lower()
            self.warn(f"A reading of {label} has no value; skipped")
            return
        period = observation.effectivePeriod
        when = (observation.effectiveDateTime or observation.effectiveInstant
                or getattr(period, "end", None) or getattr(period, "start", None)
                or observation.issued)
        self.readings[kind].append((iso(when) if when else "", value, declared))

    def baseline(self) -> list[dict]:
        """One value per kind, the latest; vital signs not exported as baseline get a caution."""
        baseline, undeclared = [], False
        for kind, readings in self.readings.items():
            latest = max(readings, key=lambda reading: reading[0])
            if len(readings) > 1:
                label = fhir_terms.BASELINE_LABELS[kind].lower()
                self.warn(f"Kept the most recent of {len(readings)} {label} readings")
            undeclared = undeclared or not latest[2]
            baseline.append({"kind": kind, "value": latest[1]})
        if undeclared:
            self.warn("Vital signs were imported as the patient's usual (baseline) values; "
                      "check they were not taken while the patient was unwell")
        return baseline

    def add_alert(self, alert: dict) -> None:
        """Add unless already said; a detail text fills in an earlier bare alert."""
        same_code = [a for a in self.alerts if a["code"] == alert["code"]]
        if alert in same_code or (same_code and "text" not in alert):
            return
        bare = next((a for a in same_code if "text" not in a), None)
        if bare is not None:
            bare["text"] = alert["text"]
        else:
            self.alerts.append(alert)

    def derive_alerts(self) -> None:
        """Alerts that change the first ten minutes but are often only implied by the drug
        list or the problem list (alerts.derived_alerts, which the editor uses too)."""
        partial = {"alerts": self.alerts, "medications": self.medications,
                   "conditions": self.conditions}
        self.alerts.extend(alerts.derived_alerts(partial, self.medicine_codings,
                                                 self.condition_codings))


def _offer_shorter(entry: dict, key: str, *texts: str | None) -> None:
    """Give fitting (fit.py) the record's own shorter forms of a long text: the structured
    dose, a coded term's display. Only when there is something to shorten."""
    limit = summary_model.SECTION_FIELDS[_SECTION_OF[key]][key].limit
    current = entry.get(key)
    if not isinstance(current, str) or len(current) <= limit:
        return
    options = [t for t in dict.fromkeys(filter(None, texts)) if t != current]
    if options:
        entry.setdefault(fit.ALTERNATIVES, {})[key] = options


_SECTION_OF = {"dose": "medications", "frequency": "medications", "name": "medications",
               "substance": "allergies"}


def _allergy_severity(allergy: Any, manifestations: list) -> str | None:
    """The tag's one scale. FHIR criticality "high" means a reaction may be life-threatening,
    so, like a manifestation that says anaphylaxis (by code or any wording), it is shown as
    anaphylaxis-grade."""
    descriptions = [clean(r.description) for r in allergy.reaction or []]
    anaphylaxis = any(terms.says_anaphylaxis(all_text(m), codings_of(m))
                      for m in manifestations) or any(map(terms.says_anaphylaxis, descriptions))
    if allergy.criticality == "high" or anaphylaxis:
        return "anaphylaxis"
    found = [_SEVERITIES.index(r.severity) for r in allergy.reaction or []
             if r.severity in _SEVERITIES]
    return _SEVERITIES[max(found)] if found else None


def _baseline_kind(concept: Any) -> tuple[str | None, bool]:
    """(kind, declared): declared when our own export marked it as the patient's baseline."""
    own = code_in(concept, fhir_terms.BASELINE_SYSTEM)
    if own in fhir_terms.BASELINE_LABELS:
        return own, True
    loinc = codes(concept, fhir_terms.LOINC)
    for kind, loinc_codes in fhir_terms.VITAL_SIGN_LOINC.items():
        if loinc & set(loinc_codes):
            return kind, False
    text = all_text(concept)
    for kind, phrases in fhir_terms.VITAL_SIGN_KEYWORDS.items():
        if terms.mentions(text, phrases):
            return kind, False
    return None, False
