"""What the patient prints in clear on the card for whoever finds it, chosen before issuing.

The QR code needs a clinician's sign-in; these words do not, so each is opt-in
except the first name: the surname, the year of birth, one emergency contact's
number and a line for a member of the public. The choices are resolved into
words from the saved summary when the card is made, checked against the space
on the card (cards.check_card: refused with what to untick, never cut), and kept
with the card's details (encrypted with them, tagservice.accounts.patients).
"""

from __future__ import annotations

import cards
from tagservice.accounts import patient_tags

FINDER_LINE = "If found, call 999 or hand to a paramedic."
NO_CONTACT = "none"


def contacts(draft: dict | None) -> list[str]:
    """The emergency contacts as they would be printed, in the summary's order."""
    found = (draft or {}).get("contacts")
    lines = []
    for contact in found if isinstance(found, list) else []:
        if isinstance(contact, dict) and contact.get("name") and contact.get("phone"):
            relation = f" ({contact['relationship']})" if contact.get("relationship") else ""
            lines.append(f"In an emergency call {contact['name']}{relation}: {contact['phone']}")
    return lines


def from_form(form) -> dict:
    """The ticked choices (anything unexpected is simply not chosen)."""
    contact = form.get("contact", NO_CONTACT)
    return {
        "surname": form.get("surname") == "yes",
        "born_year": form.get("born_year") == "yes",
        "contact": int(contact) if contact.isdigit() and len(contact) < 3 else None,
        "finder": form.get("finder") == "yes",
    }


def resolve(choices: dict, draft: dict) -> dict:
    """The words the card will carry for these choices, from the saved summary."""
    identity = draft.get("identity") if isinstance(draft.get("identity"), dict) else {}
    name = str(identity.get("name") or "")
    born = str(identity.get("date_of_birth") or "")
    lines = contacts(draft)
    index = choices.get("contact")
    return {
        "first_name": name.strip() if choices.get("surname") else patient_tags.first_name(name),
        "born_year": int(born[:4]) if choices.get("born_year") and born[:4].isdigit() else None,
        "ice_line": lines[index] if index is not None and index < len(lines) else None,
        "finder_line": FINDER_LINE if choices.get("finder") else None,
    }


def check_fits(in_clear: dict, critical_line: str | None = None) -> None:
    """Raise cards.CardError if these words do not fit the card (before issuing).

    A summary with no name is left to the summary's own check, which says so.
    """
    if not in_clear["first_name"]:
        return
    cards.check_card(issuer=patient_tags.issuer_name(), critical_line=critical_line, **in_clear)


def printed(card: dict) -> dict:
    """The renderer's keyword arguments for an issued card (older cards: first name only)."""
    in_clear = card.get("in_clear") or {}
    return {
        "first_name": in_clear.get("first_name") or card["first_name"],
        "born_year": in_clear.get("born_year"),
        "ice_line": in_clear.get("ice_line"),
        "finder_line": in_clear.get("finder_line"),
    }
