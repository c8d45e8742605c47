"""Fit a record to a card: a proposal in emergency priority that names everything left off.

A real record holds more than a card carries (37 conditions, dose
instructions of 150 characters). Nothing is cut mid-text: an item is on the
card whole or it is named as left off. Long texts are shortened only by
rules that keep the meaning and are reported: a line break becomes "; ",
and a shorter form the source itself gives (the structured dose from FHIR
dosage fields, the coded term's display) replaces the long one. An optional
detail that still does not fit (a dose instruction) is left off by itself,
keeping the item.

Order (DESIGN §4): identity and critical facts first and always
(anaphylaxis-grade allergies, alerts, anticoagulants, insulins, systemic
steroids, conditions that raise an alert); then what changes treatment
(other allergies and medicines, other alerts); then conditions and baseline;
then contacts, GP, language and note. If the critical facts alone do not
fit a self-contained card, fitting refuses and says so: a linked tag
(format v2) will carry them.

Pure: summary dict in, Fitted out; capacity is measured with capacity.py.
Importers may give each list item "_alternatives": {field: [shorter texts
from the same source]}; they are used here and never reach the card.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from datetime import date

from tagservice.summary import alerts, capacity, terms
from tagservice.summary import model as summary_model

ALTERNATIVES = "_alternatives"
_LINE_BREAK = re.compile(r"\s*(?:\r\n|[\r\n\u2028\u2029\x0b\x0c\x85])+\s*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SCALARS = ("gp", "language", "note")
_NOUNS = {"alerts": ("alert", "alerts"), "allergies": ("allergy", "allergies"),
          "medications": ("medication", "medications"), "conditions": ("condition", "conditions"),
          "baseline": ("baseline value", "baseline values"), "contacts": ("contact", "contacts"),
          "gp": ("GP detail", "GP details"), "language": ("preferred language", ""),
          "note": ("note", "")}


def clean_text(text: str) -> str:
    """A line break becomes "; ", another control character a space; the ends are trimmed."""
    return _CONTROL.sub(" ", _LINE_BREAK.sub("; ", text.strip())).strip()


class FitRefused(ValueError):
    """The critical facts alone do not fit a self-contained card; the message says which."""


@dataclass
class Fitted:
    summary: dict  # validated and within capacity
    left_off: dict[str, list[str]] = field(default_factory=dict)  # section → item labels
    shortened: list[str] = field(default_factory=list)
    meter: capacity.Meter | None = None

    @property
    def notes(self) -> list[str]:
        """One line per section left off and per shortening, for `note:` lines and the portal."""
        lines = []
        for section, labels in self.left_off.items():
            one, many = _NOUNS[section]
            noun = one if len(labels) == 1 or not many else many
            lines.append(f"not on the card: {len(labels)} {noun} — {'; '.join(labels)}")
        return lines + [f"shortened: {text}" for text in self.shortened]

    @property
    def complete(self) -> bool:
        return not self.left_off and not self.shortened


def _label(section: str, item: dict) -> str:
    if section == "medications":
        details = ", ".join(filter(None, (item.get("dose"), item.get("frequency"))))
        return f"{item.get('name', '?')} ({details})" if details else item.get("name", "?")
    if section == "allergies":
        return item.get("substance", "?")
    if section == "alerts":
        return f"{terms.alert_line(item['code'])}: {item['text']}" if item.get(
            "text") else terms.alert_line(item.get("code", "other"))
    if section == "baseline":
        return f"{item.get('kind')}: {item.get('value')}"
    for key in ("name", "text", "value"):
        if isinstance(item.get(key), str):
            return item[key]
    return "(item)"


class _Fitter:
    def __init__(self, raw: dict, base_url: str, today: date):
        self.raw, self.base_url, self.today = raw, base_url, today
        self.result = Fitted(summary={})

    def clean(self, where: str, text: object) -> object:
        """clean_text, saying so once per field when a line break became "; "."""
        if not isinstance(text, str):
            return text
        if _LINE_BREAK.search(text.strip()):
            self.result.shortened.append(f"{where}: line breaks became '; '")
        return clean_text(text)

    def fit_field(self, section: str, item: dict, key: str, where: str) -> bool:
        """Make one field fit its limit; False when a required field cannot."""
        spec = summary_model.SECTION_FIELDS[section][key]
        value = item.get(key)
        if not isinstance(value, str) or not spec.limit or len(value) <= spec.limit:
            return True
        options = [self.clean(where, t) for t in item.get(ALTERNATIVES, {}).get(key, [])
                   if isinstance(t, str)]
        shorter = sorted((t for t in options if t and len(t) <= spec.limit), key=len)
        if shorter:
            item[key] = shorter[-1]  # the longest that fits says the most
            said = [f"'{item[key]}'"]
            timing = item.get(ALTERNATIVES, {}).get("frequency", [])
            if key == "dose" and "frequency" not in item and timing and len(
                    timing[0]) <= summary_model.SECTION_FIELDS[section]["frequency"].limit:
                item["frequency"] = timing[0]  # the structured timing, said with the dose
                said.append(f"'{timing[0]}'")
            self.result.shortened.append(
                f"{where} {key}: '{value}' is written as {' + '.join(said)} "
                "(the shorter form the record gives)")
            return True
        if spec.required or (section, key) == ("alerts", "text") and item.get(
                "code") in summary_model.ALERTS_NEEDING_TEXT:
            return False
        grade = section == "allergies" and alerts.is_anaphylaxis_grade(item)
        del item[key]
        if grade and not alerts.is_anaphylaxis_grade(item):
            item["severity"] = "anaphylaxis"  # what the long reaction said stays on the card
            self.result.shortened.append(f"{where} severity set to anaphylaxis, as its "
                                         "reaction said")
        self.result.shortened.append(
            f"{where} {key} left off ({len(value)} characters; the card holds "
            f"{spec.limit}): '{value}'")
        return True

    def prepare(self) -> tuple[dict, list[tuple[int, str, dict]]]:
        """The base summary (identity, meta) and every list item as (tier, section, item)."""
        raw = copy.deepcopy(self.raw)
        base = {key: raw[key] for key in ("format", "identity", "meta", "no_known_allergies")
                if key in raw}
        if isinstance(base.get("identity"), dict):
            base["identity"] = {k: self.clean(f"identity {k}", v)
                                for k, v in base["identity"].items()}
        candidates = []
        for section in summary_model.LIST_SECTIONS:
            items = raw.get(section, [])
            for position, item in enumerate(items if isinstance(items, list) else []):
                if not isinstance(item, dict):
                    continue
                label = f"{_NOUNS[section][0].capitalize()} {position + 1}"
                item = {k: self.clean(label, v) if k != ALTERNATIVES else v
                        for k, v in item.items()}
                keys = [k for k in item if k != ALTERNATIVES]
                fits = all([self.fit_field(section, item, k, label) for k in keys
                            if k in summary_model.SECTION_FIELDS[section]])
                item.pop(ALTERNATIVES, None)
                candidates.append((_tier(section, item), section,
                                   item if fits else {"_too_long": True, **item}))
        for key in _SCALARS:
            if key in raw:
                value = raw[key]
                if isinstance(value, dict):
                    value = {k: self.clean(key, v) for k, v in value.items()}
                candidates.append((3, key, {"_scalar": self.clean(key, value)}))
        candidates.sort(key=lambda c: c[0])  # stable: section order, then source order
        return base, candidates

    def measure(self, summary: dict) -> capacity.Meter | None:
        """The meter if the summary is valid and fits, else None."""
        try:
            valid = summary_model.validate(summary, today=self.today)
        except summary_model.SummaryError:
            return None
        meter = capacity.measure(valid, self.base_url)
        return meter if meter.fits else None

    def run(self) -> Fitted:
        base, candidates = self.prepare()
        summary = {**base, **{section: [] for section in summary_model.LIST_SECTIONS}}
        self.check_base(summary)
        critical = [c for c in candidates if c[0] == 0]
        for _, section, item in critical:
            if item.get("_too_long"):
                raise FitRefused(f"A critical fact is too long for the card and the record "
                                 f"gives no shorter form: {_label(section, item)}")
            summary[section].append(item)
        if self.measure(summary) is None:
            raise FitRefused(_critical_refusal(summary, self.base_url, self.today))
        for tier, section, item in candidates:
            if tier == 0:
                continue
            self.try_add(summary, section, item)
        final = summary_model.validate(summary, today=self.today)
        self.result.summary = final
        self.result.meter = capacity.measure(final, self.base_url)
        self.result.shortened = list(dict.fromkeys(self.result.shortened))
        return self.result

    def check_base(self, summary: dict) -> None:
        """Identity and metadata must be valid on their own; an invalid optional identity
        field (an NHS number with a wrong check digit) is left off and said."""
        try:
            summary_model.validate(summary, today=self.today)
            return
        except summary_model.SummaryError as error:
            optional = {f"identity.{k}" for k in ("nhs_number", "sex")}
            fixable = [e for e in error.errors if e.path in optional]
            for problem in fixable:
                key = problem.path.split(".")[1]
                value = summary["identity"].pop(key, None)
                self.result.shortened.append(f"identity {key} left off ({problem.message}): "
                                             f"'{value}'")
            if len(fixable) < len(error.errors):
                raise summary_model.SummaryError(
                    [e for e in error.errors if e.path not in optional]) from None

    def try_add(self, summary: dict, section: str, item: dict) -> None:
        if section in _SCALARS:
            trial = {**summary, section: item["_scalar"]}
            if self.measure(trial) is not None:
                summary[section] = item["_scalar"]
            else:
                value = item["_scalar"]
                label = ", ".join(map(str, value.values())) if isinstance(value, dict) else str(
                    value)
                self.result.left_off.setdefault(section, []).append(label)
            return
        if not item.get("_too_long") and len(summary[section]) < summary_model.MAX_ITEMS[section]:
            trial = {**summary, section: [*summary[section], item]}
            if self.measure(trial) is not None:
                summary[section].append(item)
                return
        clean = {k: v for k, v in item.items() if k != "_too_long"}
        self.result.left_off.setdefault(section, []).append(_label(section, clean))


def _tier(section: str, item: dict) -> int:
    """0 critical, 1 changes treatment, 2 conditions and baseline, 3 the rest (DESIGN §4)."""
    if section == "alerts":
        return 0 if item.get("code") != "other" else 1
    if section == "allergies":
        return 0 if alerts.is_anaphylaxis_grade(item) else 1
    if section == "medications":
        return 0 if terms.medicine_groups(item.get("name")) else 1
    if section == "conditions":
        return 0 if terms.condition_alert_codes(item.get("name")) else 2
    return 2 if section == "baseline" else 3


def _critical_refusal(summary: dict, base_url: str, today: date) -> str:
    try:
        valid = summary_model.validate(summary, today=today)
    except summary_model.SummaryError as error:
        return ("The critical facts alone cannot go on a self-contained card: "
                + "; ".join(f"{e.path}: {e.message}" for e in error.errors))
    meter = capacity.measure(valid, base_url)
    return (f"The critical facts alone need {meter.tag_bytes} bytes and a self-contained card "
            f"holds {meter.cap_bytes}: this record needs a linked tag (format v2), which will "
            "carry them. Nothing was issued.")


def fit(raw: dict, base_url: str, today: date) -> Fitted:
    """Propose a card summary for `raw` (an unvalidated summary, e.g. from FHIR import).

    Raises SummaryError when identity or metadata are invalid (nothing can be
    fitted around them) and FitRefused when the critical facts alone do not fit.
    """
    return _Fitter(raw, base_url, today).run()
