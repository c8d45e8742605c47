"""What the patient prints in clear on the card for whoever finds it, chosen before issuing.

The QR code needs a clinician's sign-in; these words do not, so each is opt-in
except the first name: the surname, the year of birth, one emergency contact's
number and a line for a member of the public. The choices are resolved into
words from the saved summary when the card is made, checked against the space
on the card (cards.check_card: refused with what to untick, never cut), and kept
with the card's details (encrypted with them, tagservice.accounts.patients).

The critical lines printed on the back (none unless ticked) are chosen on the same
form, by their words rather than their position: if the summary changed since the
page was drawn, a ticked line that is gone is refused, never swapped for another.
Whether they fit is asked of the renderer itself (`fit_report`), both as the
patient ticks (static/portal.js) and again when the card is made.
"""

from __future__ import annotations

from datetime import date

import cards
from tagservice.accounts import patient_tags
from tagservice.summary import alerts
from tagservice.summary import model as summary_model

FINDER_LINE = "If found, call 999 or hand to a paramedic."
NO_CONTACT = "none"
BACK_SEPARATOR = "; "


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


def check_fits(in_clear: dict, critical_line: str | None = None, sides=cards.render.SIDES) -> None:
    """Raise cards.CardError if these words do not fit the card (before issuing).

    A summary with no name is left to the summary's own check, which says so.
    """
    if not in_clear["first_name"]:
        return
    cards.check_card(
        issuer=patient_tags.issuer_name(), critical_line=critical_line, sides=sides, **in_clear
    )


def printed(card: dict) -> dict:
    """The renderer's keyword arguments for an issued card (older cards: first name only)."""
    in_clear = card.get("in_clear") or {}
    return {
        "first_name": in_clear.get("first_name") or card["first_name"],
        "born_year": in_clear.get("born_year"),
        "ice_line": in_clear.get("ice_line"),
        "finder_line": in_clear.get("finder_line"),
    }


def back_lines(draft: dict, today: date) -> list[str]:
    """The critical lines the card made from this draft can print on its back, in order.

    Read from the summary as it will be sealed (validated and normalised), so the
    words match the issued card's; a draft that is not valid yet gives its raw lines.
    """
    try:
        summary = summary_model.validate(draft, today=today)
    except summary_model.SummaryError:
        summary = draft
    return alerts.critical_alerts(summary)


class StaleBackLine(ValueError):
    """A ticked back line is no longer one of the summary's critical lines."""


def picked_back_lines(form, available: list[str]) -> list[str]:
    """The ticked back lines, in the card's order; raise StaleBackLine for a line that is gone.

    Values are the lines' own words; anything else (an old page, a forged value) is
    refused rather than guessed at.
    """
    ticked = set(form.getlist("critical")[: len(available) + 1])
    if not ticked <= set(available):
        raise StaleBackLine(
            "Your critical lines have changed since this page was shown. Check what to "
            "print on the back again."
        )
    return [line for line in available if line in ticked]


def fit_report(in_clear: dict, lines: list[str]) -> dict:
    """Whether these words and back lines fit the card, asked of the renderer itself.

    {"fits": bool, "text": what to tell the patient, "fitting": the ticked lines that fit
    together, first ones first}. Each check draws the card once (tens of ms); when they
    do not all fit, a few more find how many of the first lines do (by halving).
    """
    try:
        check_fits(in_clear, BACK_SEPARATOR.join(lines) or None)
    except cards.CardError as e:
        fitting = _longest_fitting(in_clear, lines)
        if fitting is None:  # the back lines are not the problem: the words in clear are
            return {"fits": False, "text": f"That does not fit on the card: {e}.",
                    "fitting": []}  # fmt: skip
        if fitting:
            keep = f" These fit together: {BACK_SEPARATOR.join(fitting)}."
        else:
            keep = " None of them fits beside what you chose to print in clear."
        text = (f"That does not fit on the back of the card: untick a line (or print fewer "
                f"words in clear).{keep} Nothing is ever cut short.")  # fmt: skip
        return {"fits": False, "text": text, "fitting": fitting}
    if not lines:
        return {"fits": True, "text": "No critical line on the back.", "fitting": []}
    count = "line fits" if len(lines) == 1 else f"{len(lines)} lines fit"
    return {"fits": True, "text": f"The {count} on the back of the card.", "fitting": lines}


def _fits(in_clear: dict, lines: list[str], sides=cards.render.SIDES) -> bool:
    try:
        check_fits(in_clear, BACK_SEPARATOR.join(lines) or None, sides)
    except cards.CardError:
        return False
    return True


def _longest_fitting(in_clear: dict, lines: list[str]) -> list[str] | None:
    """The longest run of the first ticked lines that fits (the first is the most urgent),
    found by halving (more lines never take less room); None if not even none fits."""
    low, high = 0, len(lines) - 1  # lines[:high + 1] is known not to fit
    if not _fits(in_clear, []):
        return None
    while low < high:  # the front is checked: only the back changes with the lines
        middle = (low + high + 1) // 2
        if _fits(in_clear, lines[:middle], ("back",)):
            low = middle
        else:
            high = middle - 1
    return lines[:low]
