"""Prometheus metrics at /metrics: scans, unlocks, failures by kind, unlock latency.

Counting stays off the hot path and out of other modules: two Flask signals
read the endpoint and the final status code of each request, and audited
failures are counted from the audit events as they commit (the
`audit.events_committed` signal), so the views need not know. Every
label is a small fixed set of values: never a tag id, a clinician, an address
or anything from a summary.

Who may read it: with `TAGSERVICE_METRICS_TOKEN` set, anyone who sends
`Authorization: Bearer <token>`; without it, only a client on this machine
(loopback) that did not come through a reverse proxy. See docs/operations.md.

Under gunicorn, set `PROMETHEUS_MULTIPROC_DIR` (an empty directory, before the
server starts) so every worker's counts are added together; without it each
process serves its own in-process counts.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import time

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    g,
    request,
    request_finished,
    request_started,
)
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from tagservice import audit, crypto
from tagservice.store.db import db
from tagservice.web import edge

bp = Blueprint("metrics", __name__)

TOKEN_SETTING = "TAGSERVICE_METRICS_TOKEN"  # noqa: S105 (a setting name, not a secret)

SCAN_ENDPOINTS = frozenset({"scan.scan", "scan.desk_scan", "linked.scan"})
UNLOCK_ENDPOINTS = frozenset({"scan.unlock_summary", "api.api_unlock"})
# Unlocking is a database write, a decryption and a page: tens of milliseconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

SCANS = Counter(
    "tagservice_scans", "Tag scans (GET /T/... and the A&E desk field), by HTTP status.", ["code"]
)
UNLOCKS = Counter("tagservice_unlocks", "Unlock requests (page and API), by HTTP status.", ["code"])
UNLOCK_SECONDS = Histogram(
    "tagservice_unlock_seconds",
    "Time to answer an unlock request, by outcome (success = summary shown).",
    ["outcome"],
    buckets=LATENCY_BUCKETS,
)
FAILURES = Counter("tagservice_failures", "Failures, by kind (see docs/operations.md).", ["kind"])
AUDIT_EVENTS = Counter(
    "tagservice_audit_events", "Audit events committed, by kind and outcome.", ["kind", "outcome"]
)


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


def _invalid_tag_kinds() -> dict[str, str]:
    found, todo = {}, [crypto.InvalidTag]
    while todo:
        cls = todo.pop()
        found[cls.__name__] = _snake(cls.__name__)
        todo.extend(cls.__subclasses__())
    return found


# tag.rejected events name the InvalidTag subclass; only known names become labels.
INVALID_TAG_KINDS = _invalid_tag_kinds()
DENIED_KINDS = {
    "revoked": "tag_revoked",
    "expired": "tag_expired",
    "registration": "not_permitted",
    # a reader key retired or destroyed is found at the scan (unlock.scan), not by crypto
    "reader_key_retired": "retired_key",
    "reader_key_destroyed": "destroyed_key",
}
EVENT_FAILURE_KINDS = {
    "clinician.signin_failed": "signin_failed",
    "clinician.locked_out": "locked_out",
    "patient.signin_failed": "patient_signin_failed",
    "patient.locked_out": "patient_locked_out",
}
STATUS_FAILURE_KINDS = {429: "rate_limited", 503: "unavailable", 500: "server_error"}


def failure_kind(kind: str, outcome: str, details: str | None) -> str | None:
    """The failure label for one committed audit event, or None if it is not a failure."""
    if kind in EVENT_FAILURE_KINDS:
        return EVENT_FAILURE_KINDS[kind]
    if kind not in ("tag.rejected", "tag.unlock_denied") and outcome != "error":
        return None
    try:
        info = json.loads(details or "{}")
    except ValueError:
        info = {}
    if kind == "tag.rejected":
        return INVALID_TAG_KINDS.get(str(info.get("error")), "invalid_tag")
    if kind == "tag.unlock_denied":
        return DENIED_KINDS.get(str(info.get("why")), "unlock_denied")
    return "audited_error"


def observe_event(kind: str, outcome: str, details: str | None = None) -> None:
    """Count one committed audit event (and the failure it records, if any)."""
    AUDIT_EVENTS.labels(kind, outcome).inc()
    failure = failure_kind(kind, outcome, details)
    if failure:
        FAILURES.labels(failure).inc()


# ----------------------------------------------------------------- request hooks


def _on_request_started(sender: Flask, **_extra) -> None:
    if request.endpoint in UNLOCK_ENDPOINTS:
        g._metrics_started = time.perf_counter()


def _on_request_finished(sender: Flask, response: Response, **_extra) -> None:
    endpoint, code = request.endpoint, response.status_code
    if endpoint in SCAN_ENDPOINTS:
        SCANS.labels(str(code)).inc()
    elif endpoint in UNLOCK_ENDPOINTS:
        UNLOCKS.labels(str(code)).inc()
        started = g.pop("_metrics_started", None)
        if started is not None:
            outcome = "success" if code == 200 else "failure"
            UNLOCK_SECONDS.labels(outcome).observe(time.perf_counter() - started)
    if code in STATUS_FAILURE_KINDS and endpoint != "metrics.metrics":
        FAILURES.labels(STATUS_FAILURE_KINDS[code]).inc()


# ----------------------------------------------------------------- audit events
# Counted when the transaction that wrote them commits (audit.events_committed),
# so a rolled-back event is never counted.


def _on_events_committed(_sender, events: list[tuple[str, str, str]]) -> None:
    for kind, outcome, details in events:
        observe_event(kind, outcome, details)


def _install_audit_hooks(app: Flask) -> None:
    """Hook this app's engine (one per app, so each is hooked once)."""
    with app.app_context():
        audit.install_commit_hooks(db.engine)
    audit.events_committed.connect(_on_events_committed)


# ----------------------------------------------------------------- the endpoint


def _loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _forwarded() -> bool:
    """The request came through a reverse proxy, so 'loopback' means nothing."""
    headers = request.headers
    return any(h in headers for h in ("X-Forwarded-For", "Forwarded", "X-Real-IP"))


def _refusal() -> Response | None:
    token = current_app.config.get(TOKEN_SETTING)
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            return None
        response = Response("metrics: send Authorization: Bearer <token>\n", 401)
        response.headers["WWW-Authenticate"] = "Bearer"
        return response
    if _loopback(edge.client_address()) and not _forwarded():
        return None
    return Response(
        "metrics: served to this machine only; set TAGSERVICE_METRICS_TOKEN to scrape "
        "from elsewhere\n",
        403,
    )


def registry() -> CollectorRegistry:
    """All workers' counts in multiprocess mode, else this process's registry."""
    if current_app.config["TAGSERVICE"].metrics_multiprocess:
        combined = CollectorRegistry()
        multiprocess.MultiProcessCollector(combined)
        return combined
    return REGISTRY


@bp.get("/metrics")
def metrics():
    refused = _refusal()
    if refused is not None:
        refused.mimetype = "text/plain"
        return refused
    return Response(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    app.config.setdefault(TOKEN_SETTING, app.config["TAGSERVICE"].metrics_token)
    request_started.connect(_on_request_started, app)
    request_finished.connect(_on_request_finished, app)
    _install_audit_hooks(app)
    app.register_blueprint(bp)
