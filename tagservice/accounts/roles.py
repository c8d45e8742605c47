"""Who may read a clinical summary: the one place that says which roles never do.

A receptionist at the A&E desk records a patient's arrival and checks whether a
card is valid; they have no professional registration and never see the
summary, whatever reason or override they give. Every other role follows the
reason rules in tagservice.unlock.
"""

from __future__ import annotations

from tagservice.store.models import Role

#: Roles that sign in without a professional registration and open no summary.
NO_REGISTRATION = frozenset({Role.RECEPTIONIST})

CANNOT_OPEN = (
    "Reception accounts record a patient's arrival and check a card's status; they cannot "
    "open the clinical summary. Ask a nurse or doctor to open it."
)
NOT_PERMITTED = (
    "Your account is suspended or your professional registration has expired, so you "
    "cannot open summaries. Contact your administrator."
)


def opens_summaries(role: str) -> bool:
    """False for a role that may never read a summary (a receptionist)."""
    return role not in NO_REGISTRATION


def needs_registration(role: str) -> bool:
    return role not in NO_REGISTRATION
