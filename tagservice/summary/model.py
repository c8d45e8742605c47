"""The emergency-summary model: validation, normalisation and priority order.

A summary is plain JSON (see docs/summary-format.md). `validate` is the one
gate every summary passes before it is encoded into a tag or shown, so that
everything downstream can rely on a single, normalised shape. Messages are
written for the patient filling in the form; they never repeat the value.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

FORMAT = 1

# The order of sections on screen and in the tag, most urgent first.
PRIORITY = (
    "identity", "alerts", "allergies", "medications", "conditions",
    "baseline", "contacts", "gp", "language", "note", "meta",
)
LIST_SECTIONS = ("alerts", "allergies", "medications", "conditions", "baseline", "contacts")

SEXES = ("female", "male", "other", "unknown")
ALERT_CODES = (
    "anticoagulant", "dnacpr", "respect", "pacemaker", "icd", "insulin-pump", "other-device",
    "adrenal-insufficiency", "insulin-diabetes", "epilepsy", "oxygen-target", "communication",
    "other",
)
ALERTS_NEEDING_TEXT = ("oxygen-target", "other")
SEVERITIES = ("mild", "moderate", "severe", "anaphylaxis")
BASELINE_KINDS = ("spo2", "bp", "heart-rate", "resp-rate", "mobility", "cognition", "other")
SOURCES = ("self-reported", "clinician-verified")

# The tag stores dates as 16-bit day counts from EARLIEST_DATE.
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = EARLIEST_DATE + timedelta(days=0xFFFF)

MIN_PHONE_DIGITS, MAX_PHONE_DIGITS = 3, 15  # E.164 numbers have at most 15 digits

_DATE_SHAPE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_PHONE_CHARS = re.compile(r"[0-9 +()\-]+")
_REJECTED_CATEGORIES = ("Cc", "Cs", "Zl", "Zp")  # controls, lone surrogates, line breaks


@dataclass(frozen=True)
class Field:
    """How one key of a section is checked; `limit` is in characters (code points)."""

    label: str
    kind: str = "text"  # text | enum | date | phone | nhs
    required: bool = False
    limit: int = 0
    choices: tuple[str, ...] = ()


def _text(label: str, limit: int, required: bool = False) -> Field:
    return Field(label, "text", required, limit)


def _enum(label: str, choices: tuple[str, ...], required: bool = False) -> Field:
    return Field(label, "enum", required, choices=choices)


PHONE_LIMIT = 20
SECTION_FIELDS: dict[str, dict[str, Field]] = {
    "identity": {
        "name": _text("Name", 80, required=True),
        "date_of_birth": Field("Date of birth", "date", required=True),
        "nhs_number": Field("NHS number", "nhs"),
        "sex": _enum("Sex", SEXES),
    },
    "alerts": {"code": _enum("Alert type", ALERT_CODES, True), "text": _text("Alert detail", 100)},
    "allergies": {
        "substance": _text("Allergy substance", 60, required=True),
        "reaction": _text("Allergy reaction", 60),
        "severity": _enum("Allergy severity", SEVERITIES),
    },
    "medications": {
        "name": _text("Medication name", 80, required=True),
        "dose": _text("Medication dose", 40),
        "frequency": _text("Medication frequency", 40),
    },
    "conditions": {"name": _text("Condition", 80, required=True)},
    "baseline": {
        "kind": _enum("Baseline type", BASELINE_KINDS, required=True),
        "value": _text("Baseline value", 60, required=True),
    },
    "contacts": {
        "name": _text("Contact name", 80, required=True),
        "relationship": _text("Relationship", 30),
        "phone": Field("Contact phone number", "phone", required=True, limit=PHONE_LIMIT),
    },
    "gp": {
        "name": _text("GP practice name", 80),
        "phone": Field("GP phone number", "phone", limit=PHONE_LIMIT),
    },
    "meta": {
        "issued": Field("Issue date", "date", required=True),
        "review": Field("Review date", "date"),
        "source": _enum("Source", SOURCES, required=True),
        "verified_by": _text("Verified by", 80),
    },
}
TOP_LEVEL_TEXT = {"language": _text("Preferred language", 35), "note": _text("Note", 160)}
MAX_ITEMS = {"alerts": 13, "allergies": 20, "medications": 30, "conditions": 20, "baseline": 7,
             "contacts": 4}
TOP_LEVEL_KEYS = ("format", *PRIORITY, "no_known_allergies")


@dataclass(frozen=True)
class FieldError:
    """One problem with one field; `path` is like `allergies[0].substance`."""

    path: str
    message: str


class SummaryError(ValueError):
    """The summary is invalid; `errors` lists every problem found, not just the first."""

    def __init__(self, errors: list[FieldError]):
        self.errors = list(errors)
        detail = "; ".join(f"{e.path}: {e.message}" for e in self.errors)
        super().__init__(f"the summary has {len(self.errors)} problem(s): {detail}")


def _has_rejected_char(text: str) -> bool:
    """True if any character of `text` is in _REJECTED_CATEGORIES.

    Fast path: str.isprintable() is False for every character in the Other (C*)
    and Separator (Z*) categories except the ASCII space, which covers all of
    _REJECTED_CATEGORIES; so printable text (nearly every field) needs no
    per-character lookup. Anything else gets the exact per-character check.
    """
    if text.isprintable():
        return False
    return any(unicodedata.category(c) in _REJECTED_CATEGORIES for c in text)


def nhs_number_is_valid(number: object) -> bool:
    """True for a 10-digit NHS number (spaces/hyphens allowed) with a correct Modulus 11 check."""
    if not isinstance(number, str):
        return False
    digits = re.sub(r"[ \-]", "", number)
    if len(digits) != 10 or not digits.isascii() or not digits.isdigit():
        return False
    check = nhs_check_digit(digits[:9])
    return check is not None and check == int(digits[9])


def nhs_check_digit(first_nine: str) -> int | None:
    """The Modulus 11 check digit for nine digits, or None when no valid number can end them."""
    total = sum(int(d) * w for d, w in zip(first_nine, range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        return 0
    return None if check == 10 else check


class _Checker:
    """Collects errors while building the normalised copy."""

    def __init__(self, today: date):
        self.today = today
        self.errors: list[FieldError] = []

    def error(self, path: str, message: str) -> None:
        self.errors.append(FieldError(path, message))

    def object(self, value: object, path: str, allowed: tuple[str, ...], label: str) -> dict | None:
        if not isinstance(value, dict):
            self.error(path or "(summary)", f"{label} must be a JSON object (a group of fields).")
            return None
        for key in value:
            if key not in allowed:
                name = str(key)[:40]
                self.error(
                    f"{path}.{name}" if path else name,
                    f"'{name}' is not a field we recognise here; remove it or check the spelling "
                    f"(expected one of: {', '.join(allowed)}).",
                )
        return value

    def fields(self, value: object, path: str, section: str, label: str) -> dict | None:
        spec = SECTION_FIELDS[section]
        raw = self.object(value, path, tuple(spec), label)
        if raw is None:
            return None
        out = {}
        for key, field in spec.items():
            checked = self.field(raw.get(key), f"{path}.{key}", field, present=key in raw)
            if checked is not None:
                out[key] = checked
        return out

    def field(self, value: object, path: str, field: Field, present: bool = True) -> str | None:
        if not present:
            if field.required:
                self.error(path, f"{field.label} is required.")
            return None
        if field.kind == "date":
            return self.date(value, path, field.label)
        if field.kind == "enum":
            if value in field.choices:
                return value
            self.error(path, f"{field.label} must be one of: {', '.join(field.choices)}.")
            return None
        if not isinstance(value, str):
            self.error(path, f"{field.label} must be text.")
            return None
        text = unicodedata.normalize("NFC", value).strip()
        if not text:
            if field.required:
                self.error(path, f"{field.label} is required.")
            return None  # an empty optional field is the same as leaving it out
        if _has_rejected_char(text):
            self.error(path, f"{field.label} must not contain line breaks or control characters.")
            return None
        if field.kind == "nhs":
            return self.nhs(text, path)
        if field.limit and len(text) > field.limit:
            self.error(
                path,
                f"{field.label} must be {field.limit} characters or fewer; "
                f"shorten it by {len(text) - field.limit}.",
            )
            return None
        if field.kind == "phone":
            return self.phone(text, path, field.label)
        return text

    def date(self, value: object, path: str, label: str) -> str | None:
        parsed = value if type(value) is date else None  # a date, not a datetime
        if isinstance(value, str) and _DATE_SHAPE.fullmatch(value):
            with contextlib.suppress(ValueError):
                parsed = date.fromisoformat(value)
        if parsed is None:
            self.error(path, f"{label} must be a real date written as YYYY-MM-DD, e.g. 2026-11-01.")
            return None
        if not EARLIEST_DATE <= parsed <= LATEST_DATE:
            self.error(path, f"{label} must be between {EARLIEST_DATE} and {LATEST_DATE}.")
            return None
        return parsed.isoformat()

    def nhs(self, text: str, path: str) -> str | None:
        digits = re.sub(r"[ \-]", "", text)
        if len(digits) != 10 or not digits.isascii() or not digits.isdigit():
            self.error(path, "NHS number must be 10 digits (spaces or hyphens between are fine).")
            return None
        if not nhs_number_is_valid(digits):
            self.error(path, "This is not a valid NHS number; check it for a typing mistake.")
            return None
        return digits

    def phone(self, text: str, path: str, label: str) -> str | None:
        if not _PHONE_CHARS.fullmatch(text):
            self.error(path, f"{label} can only contain digits, spaces, +, brackets and hyphens.")
            return None
        digits = sum(c.isdigit() for c in text)
        if not MIN_PHONE_DIGITS <= digits <= MAX_PHONE_DIGITS:
            self.error(path, f"{label} must have {MIN_PHONE_DIGITS} to {MAX_PHONE_DIGITS} digits.")
            return None
        return text

    def items(self, value: object, section: str) -> list[dict]:
        if not isinstance(value, list):
            self.error(section, f"The {section} section must be a list.")
            return []
        if len(value) > MAX_ITEMS[section]:
            self.error(
                section,
                f"The {section} section can hold at most {MAX_ITEMS[section]} entries; "
                f"remove {len(value) - MAX_ITEMS[section]}.",
            )
            return []
        items = []
        for index, item in enumerate(value):
            checked = self.fields(item, f"{section}[{index}]", section, f"Each {section} entry")
            if checked is not None:
                items.append(checked)
        return items


def validate(data: dict, *, today: date | None = None) -> dict:
    """Check a native-JSON summary and return its normalised copy, or raise SummaryError.

    `today` bounds the date of birth; it defaults to the system date.
    """
    check = _Checker(today or date.today())
    top = check.object(data, "", TOP_LEVEL_KEYS, "The summary")
    if top is None:
        raise SummaryError(check.errors)
    if "format" in top and (type(top["format"]) is not int or top["format"] != FORMAT):
        check.error("format", f"Only summary format {FORMAT} is supported.")
    out: dict = {"format": FORMAT}
    for section in PRIORITY:
        if section in LIST_SECTIONS:
            out[section] = check.items(top.get(section, []), section)
        elif section in TOP_LEVEL_TEXT:
            text = check.field(top.get(section), section, TOP_LEVEL_TEXT[section], section in top)
            if text is not None:
                out[section] = text
        elif section in top:
            label = "GP details" if section == "gp" else f"The {section} section"
            fields = check.fields(top[section], section, section, label)
            if fields or section != "gp":
                out[section] = fields or {}
        elif section != "gp":
            check.error(section, f"The {section} section is required.")
            out[section] = {}
    nka = top.get("no_known_allergies", False)
    if type(nka) is not bool:
        check.error("no_known_allergies", "No known allergies must be true or false.")
    elif nka:
        out["no_known_allergies"] = True
    _check_relations(out, check)
    if check.errors:
        raise SummaryError(check.errors)
    return out


def _check_relations(out: dict, check: _Checker) -> None:
    """Rules that involve more than one field."""
    born = out["identity"].get("date_of_birth")
    if born and date.fromisoformat(born) > check.today:
        check.error("identity.date_of_birth", "Date of birth cannot be in the future.")
    meta = out["meta"]
    issued = meta.get("issued")
    if born and issued and issued < born:
        check.error("meta.issued", "Issue date cannot be before the date of birth.")
    if issued and meta.get("review") and meta["review"] <= issued:
        check.error("meta.review", "Review date must be after the issue date.")
    if meta.get("source") == "clinician-verified" and "verified_by" not in meta:
        check.error(
            "meta.verified_by",
            "Say who verified this summary (name and registration number), "
            "or set the source to self-reported.",
        )
    if meta.get("source") == "self-reported" and "verified_by" in meta:
        check.error(
            "meta.verified_by",
            "A self-reported summary has no verifier; remove 'verified by' "
            "or set the source to clinician-verified.",
        )
    if out.get("no_known_allergies") and out["allergies"]:
        check.error("no_known_allergies", "Either tick 'no known allergies' or list allergies.")
    for index, alert in enumerate(out["alerts"]):
        if alert.get("code") in ALERTS_NEEDING_TEXT and "text" not in alert:
            check.error(
                f"alerts[{index}].text",
                "Add the detail for this alert (for example the oxygen target range).",
            )

