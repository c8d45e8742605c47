"""The tamper-evident audit trail: what the rest of the service calls.

kinds (what can happen) · chain (append an event, committed before what it
guards) · verify (check every link; read events back) · export (FHIR
AuditEvent) · access_log (the patient's view of who opened their cards).
"""

from tagservice.audit.chain import (
    HASHED_FIELDS,
    RecordedEvent,
    canonical_json,
    event_hash,
    events_committed,
    install_commit_hooks,
    record_event,
)
from tagservice.audit.export import to_fhir_audit_event
from tagservice.audit.kinds import AuditWriteError, EventKind
from tagservice.audit.verify import (
    VerifyResult,
    event_to_dict,
    events_for_tag,
    iter_events,
    verify_chain,
)

__all__ = [
    "HASHED_FIELDS",
    "AuditWriteError",
    "EventKind",
    "RecordedEvent",
    "VerifyResult",
    "canonical_json",
    "event_hash",
    "event_to_dict",
    "events_committed",
    "events_for_tag",
    "install_commit_hooks",
    "iter_events",
    "record_event",
    "to_fhir_audit_event",
    "verify_chain",
]
