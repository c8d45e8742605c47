"""What the summary page shows, in priority order: pure, so it is easy to test.

The template only lays this out; every wording and ordering decision is here.
"""

from __future__ import annotations

import re
from datetime import date

from tagservice.summary import alerts
from tagservice.web import dates

SEX = {"female": "Female", "male": "Male", "other": "Other", "unknown": "Not stated"}
BASELINE = {
    "spo2": "SpO₂", "bp": "Blood pressure", "heart-rate": "Heart rate",
    "resp-rate": "Respiratory rate", "mobility": "Mobility", "cognition": "Cognition",
    "other": "Other",
}  # fmt: skip
# ISO 639 codes patients may give for their preferred language, shown by name.
LANGUAGE_NAMES = {
    "en": "English", "pl": "Polish", "ur": "Urdu", "pa": "Punjabi", "bn": "Bengali",
    "gu": "Gujarati", "ar": "Arabic", "ro": "Romanian", "pt": "Portuguese", "es": "Spanish",
    "fr": "French", "it": "Italian", "de": "German", "lt": "Lithuanian", "so": "Somali",
    "tr": "Turkish", "zh": "Chinese", "ta": "Tamil", "fa": "Farsi", "cy": "Welsh",
    "uk": "Ukrainian", "ru": "Russian", "bg": "Bulgarian", "hi": "Hindi", "yue": "Cantonese",
    "ku": "Kurdish", "ps": "Pashto", "ti": "Tigrinya", "sq": "Albanian", "el": "Greek",
    "lv": "Latvian", "hu": "Hungarian", "cs": "Czech", "sk": "Slovak", "ml": "Malayalam",
    "ne": "Nepali", "vi": "Vietnamese", "tl": "Tagalog", "sw": "Swahili", "am": "Amharic",
    "ja": "Japanese", "ko": "Korean", "th": "Thai", "he": "Hebrew", "nl": "Dutch",
}  # fmt: skip
UNVERIFIED_BANNER = "Patient-entered — not checked by a clinician"
SOURCE = {
    "self-reported": "Entered by the patient or carer (not checked by a clinician)",
    "clinician-verified": "Checked by a clinician",
}


def tel_href(phone: str) -> str:
    """A tel: link that any phone dials: digits and a leading +, nothing else."""
    digits = re.sub(r"[^0-9+]", "", phone)
    return "tel:" + (digits[0] + digits[1:].replace("+", "") if digits else "")


def format_nhs_number(number: str) -> str:
    return f"{number[:3]} {number[3:6]} {number[6:]}"


def age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def language_name(language: str | None) -> str | None:
    """'pl' or 'pl-PL' -> 'Polish (pl-PL)'; free text such as 'Polish' is shown as given."""
    if not language:
        return None
    name = LANGUAGE_NAMES.get(language.split("-")[0].lower())
    return f"{name} ({language})" if name else language


def build(summary: dict, today: date | None = None) -> dict:
    """The page's content, highest priority first."""
    today = today or date.today()
    identity = summary["identity"]
    born = date.fromisoformat(identity["date_of_birth"])
    meta = summary["meta"]
    return {
        "name": identity["name"],
        "born": dates.day(born),
        "age": age_on(born, today),
        "sex": SEX.get(identity.get("sex", "unknown"), "Not stated"),
        "nhs_number": format_nhs_number(identity["nhs_number"])
        if identity.get("nhs_number")
        else None,
        "critical": alerts.critical_alerts(summary),
        "alerts": alerts.alert_lines_by_kind(summary),
        "allergies": summary["allergies"],
        "no_known_allergies": bool(summary.get("no_known_allergies")),
        "medications": summary["medications"],
        "conditions": [c["name"] for c in summary["conditions"]],
        "baseline": [(BASELINE[b["kind"]], b["value"]) for b in summary["baseline"]],
        "contacts": [dict(c, href=tel_href(c["phone"])) for c in summary["contacts"]],
        "gp": dict(summary["gp"], href=tel_href(summary["gp"]["phone"]))
        if summary.get("gp", {}).get("phone")
        else summary.get("gp"),
        "language": language_name(summary.get("language")),
        "note": summary.get("note"),
        "issued": meta["issued"],
        "review": meta.get("review"),
        "source": SOURCE.get(meta["source"], meta["source"]),
        "verified": meta["source"] == "clinician-verified",
        "unverified_banner": None if meta["source"] == "clinician-verified"
        else UNVERIFIED_BANNER,
        "verified_by": meta.get("verified_by"),
    }
