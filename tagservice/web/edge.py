"""The request edge: who is asking, whether a machine is asking, and the one JSON error.

Every module that needs the client's address, a rate-limit key, API detection
or a JSON error body takes it from here, so each has one answer. (When the
operator trusts a reverse proxy, ProxyFix has already set `remote_addr` from it:
security.py.)
"""

from __future__ import annotations

from flask import g, jsonify, request

API_PREFIX = "/api/"
#: Paths answered in JSON whatever the client accepts.
JSON_PREFIXES = (API_PREFIX, "/.well-known/", "/healthz")


def client_address() -> str | None:
    """The client's address as the audit trail and the rate limits see it."""
    return request.remote_addr


def client_label() -> str:
    """The client's address, or "unknown": what the audit trail and throttles record."""
    return request.remote_addr or "unknown"


def is_api_request() -> bool:
    """A request to the JSON API (bearer tokens, no cookies, JSON errors)."""
    return request.path.startswith(API_PREFIX)


def wants_json() -> bool:
    """True for API paths and for clients that prefer JSON over HTML."""
    if request.path.startswith(JSON_PREFIXES):
        return True
    best = request.accept_mimetypes.best_match(("text/html", "application/json"))
    return best == "application/json"


def json_error(status: int, error: str, message: str, **headers):
    """The one error body machines get: {"error": snake_case_code, "message": words}."""
    return jsonify(error=error, message=message), status, headers


def clinician_key() -> str:
    """Rate-limit key: the signed-in clinician, else the client's address."""
    clinician = g.get("clinician")
    return f"clinician:{clinician.id}" if clinician else f"addr:{client_address()}"


def patient_key() -> str:
    """Rate-limit key: the signed-in patient, else the client's address."""
    patient = g.get("patient")
    return f"patient:{patient.id}" if patient else f"addr:{client_address()}"
