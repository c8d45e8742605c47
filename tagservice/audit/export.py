"""The trail as FHIR R4 AuditEvent resources, for a hospital's or regulator's tools."""

from __future__ import annotations

import copy
import json
from typing import Any

from tagservice.audit.chain import canonical_json, iso_time
from tagservice.store.models import (
    AuditEvent,
)

DCM = "http://dicom.nema.org/resources/ontology/DCM"
TERMINOLOGY = "http://terminology.hl7.org/CodeSystem"
PURPOSE_OF_USE = f"{TERMINOLOGY}/v3-ActReason"  # holds the v3 PurposeOfUse codes
ROLE_TYPES = f"{TERMINOLOGY}/extra-security-role-type"
SOURCE = {
    "observer": {"display": "tagservice"},
    "type": [{"system": f"{TERMINOLOGY}/security-source-type", "code": "4"}],  # app server
}
EVENT_KIND_SYSTEM = "urn:tagservice:audit-event-kind"
TAG_ID_SYSTEM = "urn:tagservice:tag-id"
REGISTER_SYSTEMS = {
    "GMC": "https://fhir.hl7.org.uk/Id/gmc-number",
    "NMC": "https://fhir.hl7.org.uk/Id/nmc-number",
    "HCPC": "https://fhir.hl7.org.uk/Id/hcpc-number",
}
# success 0; a refusal or failed attempt is a minor failure (4); an error is serious (8).
FHIR_OUTCOME = {"success": "0", "denied": "4", "failed": "4", "error": "8"}
# FHIR action codes: Create, Read, Update, Delete; everything else is Execute.
_ACTIONS = {
    kind: action
    for action, kinds in {
        "C": "tag.issued clinician.added clinician.passkey_added clinician.token_created"
        " key.created",
        "R": "tag.scanned tag.unlocked tag.unlock_denied tag.decoded_by_admin audit.exported"
        " tag.status_looked_up tag.exported tag.arrival_recorded",
        "U": "tag.superseded tag.revoked tag.expired clinician.updated clinician.suspended"
        " clinician.reinstated clinician.totp_reset clinician.password_changed key.rotated"
        " key.retired key.kek_changed",
        "D": "clinician.passkey_removed clinician.token_revoked key.destroyed",
    }.items()
    for kind in kinds.split()
}


def _event_type(kind: str) -> dict[str, str]:
    if kind.startswith("tag."):
        return {"system": DCM, "code": "110110", "display": "Patient Record"}
    if kind.startswith(("clinician.signe", "clinician.locked", "patient.signe", "patient.locked")):
        return {"system": DCM, "code": "110114", "display": "User Authentication"}
    if kind.startswith("audit."):
        return {"system": DCM, "code": "110101", "display": "Audit Log Used"}
    if kind.startswith("key."):
        return {"system": DCM, "code": "110113", "display": "Security Alert"}
    return {"system": DCM, "code": "110100", "display": "Application Activity"}


def _purpose(event: AuditEvent) -> list[dict[str, Any]]:
    if event.reason is None:
        return []
    if event.reason == "break-glass":
        coding = {"system": PURPOSE_OF_USE, "code": "BTG", "display": "break the glass"}
    else:
        coding = {"system": PURPOSE_OF_USE, "code": "ETREAT", "display": "Emergency Treatment"}
    concept: dict[str, Any] = {"coding": [coding]}
    if event.reason_text:
        concept["text"] = event.reason_text
    return [concept]


def _agents(event: AuditEvent, purpose: list[dict[str, Any]]) -> list[dict[str, Any]]:
    human = event.actor_type in ("clinician", "patient", "admin")
    role_type = {"system": ROLE_TYPES, "code": "humanuser" if human else "dataprocessor"}
    agent: dict[str, Any] = {
        "type": {"coding": [role_type], "text": event.actor_type},
        "requestor": True,
        "who": {"display": f"{event.actor_type} {event.actor_id or ''}".strip()},
    }
    if event.registration:
        register, _, number = event.registration.partition(" ")
        agent["who"] = {
            "type": "Practitioner",
            "identifier": {"system": REGISTER_SYSTEMS.get(register, "urn:tagservice:register"),
                           "value": number},
        }  # fmt: skip
    if event.actor_id:
        agent["altId"] = event.actor_id
    if event.role:
        agent["role"] = [{"text": event.role}]
    if event.client:
        agent["network"] = {"address": event.client, "type": "2"}  # 2 = IP address
    if purpose:
        agent["purposeOfUse"] = purpose
    agents = [agent]
    if event.organisation:
        agents.append(
            {
                "type": {"text": "organisation"},
                "requestor": False,
                "who": {"type": "Organization", "display": event.organisation},
            }
        )
    return agents


def to_fhir_audit_event(event: AuditEvent) -> dict[str, Any]:
    """One event as a FHIR R4 AuditEvent resource (a plain dict, ready for JSON)."""
    purpose = _purpose(event)
    entity: dict[str, Any] = {}
    if event.tag_id:
        entity["what"] = {"identifier": {"system": TAG_ID_SYSTEM, "value": event.tag_id}}
        entity["type"] = {"system": f"{TERMINOLOGY}/audit-entity-type", "code": "2"}
    details = json.loads(event.details or "{}")
    chain = {"prev_hash": event.prev_hash, "hash": event.hash}
    entity["detail"] = [
        {"type": key, "valueString": value if isinstance(value, str) else canonical_json(value)}
        for key, value in sorted({**details, **chain}.items())
    ]
    resource: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": str(event.id),
        "type": _event_type(event.kind),
        "subtype": [{"system": EVENT_KIND_SYSTEM, "code": event.kind}],
        "action": _ACTIONS.get(event.kind, "E"),
        "recorded": iso_time(event.created_at),
        "outcome": FHIR_OUTCOME[event.outcome],
        "outcomeDesc": event.outcome,
        "agent": _agents(event, purpose),
        "source": copy.deepcopy(SOURCE),
        "entity": [entity],
    }
    if purpose:
        resource["purposeOfEvent"] = purpose
    return resource
