"""Audit events about a clinician's account, by whoever made the change.

Below clinicians.py and passkey_store.py, which both record them.
"""

from __future__ import annotations

from tagservice.audit import record_event
from tagservice.store.models import Clinician


def audit_account(kind, subject: Clinician, *, actor=None, outcome="success", **details):
    """Record a change to `subject`'s account, made by themselves (actor=subject),
    an admin clinician, or the command line (actor None)."""
    actor_type = "clinician" if actor is subject else ("admin" if actor else "cli")
    record_event(
        kind,
        outcome=outcome,
        actor=actor,
        actor_type=actor_type,
        clinician_id=subject.id,
        **details,
    )
