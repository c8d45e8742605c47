"""What the summary page shows, in priority order: pure, so it is easy to test.

The template only lays this out; every wording and ordering decision is here.
"""

from __future__ import annotations

import re
from datetime import date

from . import summary as summary_model

SEX = {"female": "Female", "male": "Male", "other": "Other", "unknown": "Not stated"}
BASELINE = {
    "spo2": "SpO₂", "bp": "Blood pressure", "heart-rate": "Heart rate",
    "resp-rate": "Respiratory rate", "mobility": "Mobility", "cognition": "Cognition",
    "other": "Other",
}  # fmt: skip
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


def build(summary: dict, today: date | None = None) -> dict:
    """The page's content, highest priority first."""
    today = today or date.today()
    identity = summary["identity"]
    born = date.fromisoformat(identity["date_of_birth"])
    meta = summary["meta"]
    return {
        "name": identity["name"],
        "born": born.strftime("%d %b %Y"),
        "age": age_on(born, today),
        "sex": SEX.get(identity.get("sex", "unknown"), "Not stated"),
        "nhs_number": format_nhs_number(identity["nhs_number"])
        if identity.get("nhs_number")
        else None,
        "critical": summary_model.critical_alerts(summary),
        "allergies": summary["allergies"],
        "no_known_allergies": bool(summary.get("no_known_allergies")),
        "medications": summary["medications"],
        "conditions": [c["name"] for c in summary["conditions"]],
        "baseline": [(BASELINE[b["kind"]], b["value"]) for b in summary["baseline"]],
        "contacts": [dict(c, href=tel_href(c["phone"])) for c in summary["contacts"]],
        "gp": dict(summary["gp"], href=tel_href(summary["gp"]["phone"]))
        if summary.get("gp", {}).get("phone")
        else summary.get("gp"),
        "language": summary.get("language"),
        "note": summary.get("note"),
        "issued": meta["issued"],
        "review": meta.get("review"),
        "source": SOURCE.get(meta["source"], meta["source"]),
        "verified_by": meta.get("verified_by"),
    }
