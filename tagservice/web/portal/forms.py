"""The summary editor's form, both ways: posted fields → native summary dict → fields.

Form field names are the summary's own paths (`identity.name`,
`allergies[0].substance`), so a validation or capacity error's path names the
field it belongs to, and the page can show it right there. Blank rows are
dropped, so the dict handed to summary.validate has only what the patient
typed; the form is always re-drawn from that dict, so row numbers in errors
match the rows on screen.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date

from werkzeug.datastructures import MultiDict

from tagservice.summary import capacity
from tagservice.summary import model as summary_model
from tagservice.summary.display import BASELINE

LIST_SECTIONS = summary_model.LIST_SECTIONS
MAX_ROWS = 64  # form rows read per section; validation reports more than MAX_ITEMS
MAX_VALUE_CHARS = 2000  # longer than any limit, so the "shorten by N" message stays true
# [0-9], not \d: \d also matches Arabic-Indic and other Unicode digits.
_ROW_KEY = re.compile(r"([a-z]+)\[([0-9]{1,3})\]\.([a-z_]+)")
_FORM_NUMBER = re.compile(r"[0-9]{1,6}")

ALERT_LABELS = {
    "anticoagulant": "Blood thinner (anticoagulant)",
    "dnacpr": "DNACPR: do not attempt CPR",
    "respect": "ReSPECT form",
    "pacemaker": "Pacemaker",
    "icd": "ICD (implanted defibrillator)",
    "insulin-pump": "Insulin pump",
    "other-device": "Other implanted device",
    "adrenal-insufficiency": "Adrenal insufficiency (steroid dependent)",
    "insulin-diabetes": "Diabetes treated with insulin",
    "epilepsy": "Epilepsy",
    "oxygen-target": "Oxygen target (give the range)",
    "communication": "Communication needs",
    "other": "Other (say what)",
}
SEVERITY_LABELS = {
    "mild": "Mild", "moderate": "Moderate", "severe": "Severe",
    "anaphylaxis": "Anaphylaxis (life-threatening)",
}  # fmt: skip
SEX_LABELS = {"female": "Female", "male": "Male", "other": "Other", "unknown": "Prefer not to say"}
CHOICES = {
    ("identity", "sex"): SEX_LABELS,
    ("alerts", "code"): ALERT_LABELS,
    ("allergies", "severity"): SEVERITY_LABELS,
    ("baseline", "kind"): BASELINE,
}
# Where an error about a whole-summary rule is shown.
ERROR_HOME = {"meta.issued": "identity.date_of_birth", "meta.source": "meta.review",
              "meta.verified_by": "meta.review", "identity": "identity.name"}  # fmt: skip
ROW_NOUNS = {"alerts": "Alert", "allergies": "Allergy", "medications": "Medicine",
             "conditions": "Condition", "baseline": "Normal value",
             "contacts": "Contact"}  # fmt: skip


def form_number(text: str) -> int | None:
    """A row or line number posted by a form: ASCII digits only, else None.

    str.isdigit() is true for "²" and "①", which int() refuses (a 500), and int()
    reads "１" and "١"; our pages only ever send 0-9.
    """
    return int(text) if isinstance(text, str) and _FORM_NUMBER.fullmatch(text) else None


def field_id(path: str) -> str:
    """An HTML id for a path: allergies[0].substance → f-allergies-0-substance."""
    return "f-" + re.sub(r"[^A-Za-z0-9]+", "-", path).strip("-")


def _value(form: MultiDict, key: str) -> str:
    value = form.get(key, "")
    return value[:MAX_VALUE_CHARS] if isinstance(value, str) else ""


def _fields(form: MultiDict, prefix: str, names) -> dict:
    out = {}
    for name in names:
        value = _value(form, f"{prefix}.{name}")
        if value.strip():
            out[name] = value
    return out


def from_form(form: MultiDict, today: date, remove: tuple[str, int] | None = None) -> dict:
    """The summary the patient typed (not yet validated). `remove` drops one form row."""
    rows: dict[str, set[int]] = {section: set() for section in LIST_SECTIONS}
    for key in form:
        match = _ROW_KEY.fullmatch(key)
        if match and match[1] in rows and int(match[2]) < MAX_ROWS:
            rows[match[1]].add(int(match[2]))
    draft: dict = {"format": summary_model.FORMAT}
    draft["identity"] = _fields(form, "identity", summary_model.SECTION_FIELDS["identity"])
    for section in LIST_SECTIONS:
        items = []
        for index in sorted(rows[section]):
            if remove == (section, index):
                continue
            item = _fields(form, f"{section}[{index}]", summary_model.SECTION_FIELDS[section])
            if item:
                items.append(item)
        draft[section] = items
    if form.get("no_known_allergies") == "yes":
        draft["no_known_allergies"] = True
    gp = _fields(form, "gp", summary_model.SECTION_FIELDS["gp"])
    if gp:
        draft["gp"] = gp
    for name in ("language", "note"):
        value = _value(form, name)
        if value.strip():
            draft[name] = value
    draft["meta"] = {"issued": today.isoformat(), "source": "self-reported"}
    review = _value(form, "meta.review").strip()
    if review:
        draft["meta"]["review"] = review
    return draft


def _strings(value: object, names) -> dict:
    if not isinstance(value, dict):
        return {}
    return {n: value[n] for n in names if isinstance(value.get(n), str) and value[n].strip()}


def as_draft(summary: dict, today: date) -> dict:
    """An imported summary in the editor's shape: known fields, text values only.

    A summary the patient can change is marked self-reported: "checked by a
    clinician" would no longer be true after the first edit.
    """
    fields = summary_model.SECTION_FIELDS
    draft: dict = {"format": summary_model.FORMAT}
    draft["identity"] = _strings(summary.get("identity"), fields["identity"])
    for section in LIST_SECTIONS:
        items = summary.get(section)
        rows = [_strings(item, fields[section]) for item in (items or [])[:MAX_ROWS]] \
            if isinstance(items, list) else []  # fmt: skip
        draft[section] = [row for row in rows if row]
    if summary.get("no_known_allergies") is True:
        draft["no_known_allergies"] = True
    gp = _strings(summary.get("gp"), fields["gp"])
    if gp:
        draft["gp"] = gp
    draft |= _strings(summary, ("language", "note"))
    draft["meta"] = {"issued": today.isoformat(), "source": "self-reported"}
    draft["meta"] |= _strings(summary.get("meta"), ("review",))
    return draft


def empty_draft(today: date) -> dict:
    return as_draft({"identity": {}, **{s: [] for s in LIST_SECTIONS}}, today)


@dataclass
class Checked:
    """A draft after validation and, if valid, the capacity meter."""

    draft: dict
    summary: dict | None = None
    meter: capacity.Meter | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return self.summary is not None and not self.errors

    def error_list(self) -> list[tuple[str, str]]:
        """(field id to link to, message) for the error summary at the top of the page."""
        return [(field_id(ERROR_HOME.get(p, p)), m) for p, ms in self.errors.items() for m in ms]

    def errors_for(self, path: str) -> list[str]:
        found = list(self.errors.get(path, []))
        found += [m for p, ms in self.errors.items() if ERROR_HOME.get(p) == path for m in ms]
        return found


def check(draft: dict, base_url: str, today: date) -> Checked:
    """Validate, then meter; a summary that does not fit gets errors on the fields to shorten."""
    result = Checked(draft)
    try:
        result.summary = summary_model.validate(draft, today=today)
    except summary_model.SummaryError as e:
        for error in e.errors:
            result.errors.setdefault(error.path, []).append(error.message)
        return result
    result.meter = capacity.measure(result.summary, base_url)
    if not result.meter.fits:
        cap = result.meter.cap_bytes
        over = math.ceil(100 * (result.meter.tag_bytes - cap) / cap)
        for path, saved in result.meter.shorten:
            result.errors.setdefault(path, []).append(
                f"{describe_path(path)}: your summary is {over}% too long for the card. "
                f"Shortening or removing this frees up to {math.ceil(100 * saved / cap)}% "
                "of the card."
            )
        if not result.meter.shorten:
            result.errors["summary"] = [f"Your summary is {over}% too long for the card."]
    return result


def meter_json(checked: Checked) -> dict:
    """What the live meter (static/portal.js) shows."""
    errors = [{"id": i, "message": m} for i, m in checked.error_list()]
    if checked.meter is None:
        return {"valid": False, "errors": errors, "meter": None, "text": meter_text(checked)}
    meter = checked.meter
    return {
        "valid": checked.valid,
        "errors": errors,
        "meter": {"percent": meter.percent, "fits": meter.fits, "tag_bytes": meter.tag_bytes,
                  "cap_bytes": meter.cap_bytes, "qr_version": meter.qr_version,
                  "shorten": [{"id": field_id(p), "path": p, "saves": s}
                              for p, s in meter.shorten]},
        "text": meter_text(checked),
    }  # fmt: skip


def meter_text(checked: Checked) -> str:
    meter = checked.meter
    if meter is None:
        count = sum(len(m) for m in checked.errors.values())
        return f"Fix {count} problem{'s' if count != 1 else ''} to see how full your card is."
    if not meter.fits:
        names = ", ".join(describe_path(p) for p, _ in meter.shorten) or "the summary"
        return f"Too long for the card: {meter.percent}% full. Shorten or remove: {names}."
    small = (meter.qr_version or 99) <= capacity.TARGET_QR_VERSION
    size = "a small, quick-to-scan" if small else "a larger"
    return f"Your card is {meter.percent}% full ({size} QR code, version {meter.qr_version})."


def describe_path(path: str) -> str:
    """A field path in the editor's words: allergies[2] → "Allergy 3", note → "Note"."""
    match = re.fullmatch(r"([a-z]+)\[([0-9]+)\](?:\.([a-z_]+))?", path)
    if match and match[1] in ROW_NOUNS:
        text = f"{ROW_NOUNS[match[1]]} {int(match[2]) + 1}"
        return f"{text} ({match[3].replace('_', ' ')})" if match[3] else text
    section, _, key = path.partition(".")
    spec = summary_model.SECTION_FIELDS.get(section, {}).get(key)
    if spec is not None:
        return spec.label
    if path in summary_model.TOP_LEVEL_TEXT:
        return summary_model.TOP_LEVEL_TEXT[path].label
    return {"no_known_allergies": "No known allergies"}.get(path, path.capitalize())
