"""The red lines at the top of a summary: what the patient ticked plus what the record implies.

One function for every path (import, editor, card, page, API, command line),
so a medicine typed in the editor raises the same line as the same medicine
imported from a GP record. Which words and codes mean what is the
terminology's business (terms.py); this module only turns its answers into
alerts and lines, in DESIGN §4 order: anaphylaxis first, then the alerts in
summary.ALERT_CODES order.
"""

from __future__ import annotations

from collections.abc import Sequence

from tagservice.summary import terms
from tagservice.summary.model import ALERT_CODES

# An alert already present covers the one a medicine or condition would add.
_COVERED_BY = {"insulin-diabetes": {"insulin-diabetes", "insulin-pump"}}


def _text(item: object, key: str) -> str:
    value = item.get(key) if isinstance(item, dict) else None
    return value if isinstance(value, str) else ""


def _items(summary: dict, section: str) -> list[dict]:
    items = summary.get(section)
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def is_anaphylaxis_grade(allergy: dict) -> bool:
    """Severity "anaphylaxis", or a reaction or substance text that says anaphylaxis in any
    wording ("Severe" + "Anaphylactic reaction" is anaphylaxis-grade)."""
    return allergy.get("severity") == "anaphylaxis" or terms.says_anaphylaxis(
        _text(allergy, "reaction")) or terms.says_anaphylaxis(_text(allergy, "substance"))


def derived_alerts(summary: dict, medicine_codings: Sequence = (),
                   condition_codings: Sequence = ()) -> list[dict]:
    """Alerts implied by the medicines and conditions that the alert list does not already say.

    `medicine_codings[i]` / `condition_codings[i]` are the (system, code) pairs
    of medication / condition i when the caller has them (FHIR import).
    Steroids are treated conservatively: many people take a short course of
    prednisolone, so a steroid alone never raises adrenal insufficiency; a
    condition naming it does, with the systemic steroids as the detail.
    """
    present = {_text(alert, "code") for alert in _items(summary, "alerts")}
    found: dict[str, list[str]] = {}
    steroids = []
    for index, medicine in enumerate(_items(summary, "medications")):
        name = _text(medicine, "name")
        codings = medicine_codings[index] if index < len(medicine_codings) else ()
        groups = terms.medicine_groups(name, codings)
        for code in terms.group_alert_codes(groups):
            found.setdefault(code, []).append(name or terms.display_for(codings) or "")
        if "systemic-steroid" in groups:
            steroids.append(name)
    for index, condition in enumerate(_items(summary, "conditions")):
        name = _text(condition, "name")
        codings = condition_codings[index] if index < len(condition_codings) else ()
        for code in terms.condition_alert_codes(name, codings):
            if code == "adrenal-insufficiency":
                found.setdefault(code, []).extend(steroids or [name])
            elif code not in found:
                found[code] = [name]
    derived = []
    for code in ALERT_CODES:
        if code in found and not present & _COVERED_BY.get(code, {code}):
            names = list(dict.fromkeys(filter(None, found[code])))
            derived.append({"code": code, "text": ", ".join(names)} if names else {"code": code})
    return derived


#: Alerts that are targets or needs, not a danger: shown apart, not in red alone.
NEED_CODES = frozenset({"oxygen-target", "communication"})


def critical_alerts(summary: dict) -> list[str]:
    """Lines for the top of the screen: anaphylaxis first, then alerts in ALERT_CODES order.

    Works on a validated summary and on an editor draft alike (it only reads).
    """
    return [line for line, _ in alert_lines_by_kind(summary)]


def alert_lines_by_kind(summary: dict) -> list[tuple[str, str]]:
    """(line, kind) in critical_alerts order; kind is "danger" or "need" (NEED_CODES)."""
    lines = [(f"{terms.anaphylaxis_line()}: {_text(allergy, 'substance')}", "danger")
             for allergy in _items(summary, "allergies")
             if _text(allergy, "substance") and is_anaphylaxis_grade(allergy)]
    entries = [(_text(a, "code"), _text(a, "text")) for a in _items(summary, "alerts")
               if _text(a, "code") in ALERT_CODES]
    entries += [(a["code"], a.get("text", "")) for a in derived_alerts(summary)]
    entries.sort(key=lambda entry: ALERT_CODES.index(entry[0]))
    for code, text in entries:
        line = f"{terms.alert_line(code)}: {text}" if text else terms.alert_line(code)
        if line not in (seen for seen, _ in lines):
            lines.append((line, "need" if code in NEED_CODES else "danger"))
    return lines


def critical_facts(summary: dict) -> list[str]:
    """Each critical fact of a summary as a short phrase, for fitting and its tests:
    anaphylaxis-grade allergies, alerts (other than "other"), derived alerts."""
    facts = [f"allergy:{_text(a, 'substance')}" for a in _items(summary, "allergies")
             if is_anaphylaxis_grade(a)]
    codes = {_text(a, "code") for a in _items(summary, "alerts")}
    codes |= {a["code"] for a in derived_alerts(summary)}
    return facts + sorted(f"alert:{code}" for code in codes if code and code != "other")
