"""The OpenAPI 3.1 document for /api/v1/, built once from the summary JSON Schema."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

ERROR = {"$ref": "#/components/schemas/Error"}


def _error_responses(*codes: int) -> dict:
    text = {
        400: "Invalid request or invalid tag",
        401: "Not signed in",
        403: "Not permitted",
        404: "Not found",
        410: "Tag revoked or expired",
        413: "Body too large (the API takes at most 64 KB)",
        422: "The summary cannot be written as a FHIR document",
        429: "Rate limited",
        503: "Cannot record the access; nothing shown",
    }
    return {
        str(c): {"description": text[c], "content": {"application/json": {"schema": ERROR}}}
        for c in codes
    }


def _json_body(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _ok(description: str, schema: dict) -> dict:
    return {
        "200": {"description": description, "content": {"application/json": {"schema": schema}}}
    }


@cache
def document() -> dict:
    summary_schema = json.loads(
        resources.files("tagservice").joinpath("schema/summary.schema.json").read_text()
    )
    summary_schema.pop("$schema", None)
    summary_schema.pop("$id", None)
    bearer = [{"bearer": []}]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "tagservice",
            "version": "1",
            "description": "Emergency summary tags: sign in, unlock (audited), export "
            "as FHIR IPS (audited), status.",
        },
        "servers": [{"url": "/"}],
        "paths": {
            "/api/v1/session": {
                "post": {
                    "summary": "Sign in with password and TOTP code; returns a bearer token",
                    "requestBody": _json_body(
                        {
                            "type": "object",
                            "required": ["email", "password", "totp"],
                            "properties": {
                                "email": {"type": "string"},
                                "password": {"type": "string"},
                                "totp": {"type": "string"},
                            },
                        }
                    ),
                    "responses": {
                        **_ok(
                            "Signed in",
                            {
                                "type": "object",
                                "required": ["token", "expires"],
                                "properties": {
                                    "token": {"type": "string"},
                                    "expires": {"type": "string", "format": "date-time"},
                                },
                            },
                        ),
                        **_error_responses(400, 401, 403, 413, 429),
                    },
                }
            },
            "/api/v1/unlock": {
                "post": {
                    "summary": "Unlock a tag: the access is audited, then the summary returned",
                    "security": bearer,
                    "requestBody": _json_body(
                        {
                            "type": "object",
                            "required": ["tag", "reason"],
                            "properties": {
                                "tag": {
                                    "type": "string",
                                    "description": "tag URL or payload: a card's /T/ URL, or "
                                    "a linked tag's /L/ URL or its 39 digits",
                                },
                                "reason": {"type": "string", "enum": ["999", "ae", "other"]},
                                "reason_text": {"type": "string", "maxLength": 200},
                                "override": {"type": "boolean"},
                            },
                        }
                    ),
                    "responses": {
                        **_ok(
                            "The summary",
                            {
                                "type": "object",
                                "required": ["summary", "tag", "audit_id", "critical", "warnings",
                                             "verified", "source"],
                                "properties": {
                                    "summary": {"$ref": "#/components/schemas/Summary"},
                                    "critical": {
                                        "type": "array", "items": {"type": "string"},
                                        "description": "The red lines, most urgent first "
                                        "(anaphylaxis, then alerts), including those the "
                                        "medicines and conditions imply",
                                    },
                                    "verified": {
                                        "type": "boolean",
                                        "description": "false when no clinician checked the "
                                        "summary (entered by the patient or carer): show "
                                        "'Patient-entered - not checked by a clinician' above "
                                        "the critical lines",
                                    },
                                    "source": {
                                        "type": "string",
                                        "enum": ["self-reported", "clinician-verified"],
                                        "description": "who the summary comes from; "
                                        "summary.meta.verified_by names the clinician",
                                    },
                                    "warnings": {"type": "array", "items": {"type": "string"}},
                                    "tag": {"$ref": "#/components/schemas/TagInfo"},
                                    "audit_id": {"type": "integer"},
                                    "break_glass": {"type": "boolean"},
                                },
                            },
                        ),
                        **_error_responses(400, 401, 403, 410, 413, 429, 503),
                    },
                }
            },
            "/api/v1/export/fhir": {
                "post": {
                    "summary": "Export the summary you just opened as a FHIR IPS Bundle",
                    "description": "Only the clinician who opened this tag (POST "
                    "/api/v1/unlock) in the last 15 minutes, naming that unlock's audit_id, "
                    "while the tag still opens. The export is audited as tag.exported and "
                    "committed before the summary is decrypted again; refusals are audited "
                    "too. Reception accounts are refused.",
                    "security": bearer,
                    "requestBody": _json_body(
                        {
                            "type": "object",
                            "required": ["tag", "opened_audit_id"],
                            "properties": {
                                "tag": {"type": "string", "description": "as for /api/v1/unlock"},
                                "opened_audit_id": {
                                    "type": "integer",
                                    "minimum": 1,
                                    "description": "the audit_id your unlock of this tag returned",
                                },
                            },
                        }
                    ),
                    "responses": {
                        **_ok(
                            "The FHIR IPS document Bundle and the export's audit record",
                            {
                                "type": "object",
                                "required": ["bundle", "tag_id", "audit_id", "opened_audit_id"],
                                "properties": {
                                    "bundle": {
                                        "type": "object",
                                        "description": "FHIR R4 Bundle, type document (IPS)",
                                    },
                                    "tag_id": {"type": "string"},
                                    "audit_id": {
                                        "type": "integer",
                                        "description": "the tag.exported audit record",
                                    },
                                    "opened_audit_id": {"type": "integer"},
                                },
                            },
                        ),
                        **_error_responses(400, 401, 403, 410, 413, 422, 429, 503),
                    },
                }
            },
            "/api/v1/tags/{tag_id}": {
                "get": {
                    "summary": "Status of a tag by its id, without decrypting",
                    "security": bearer,
                    "parameters": [
                        {
                            "name": "tag_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        **_ok("Status", {"$ref": "#/components/schemas/TagInfo"}),
                        **_error_responses(400, 401, 404),
                    },
                }
            },
            "/api/v1/audit/verify": {
                "get": {
                    "summary": "Check the audit hash chain (administrators)",
                    "security": bearer,
                    "responses": {
                        **_ok(
                            "Result",
                            {
                                "type": "object",
                                "properties": {
                                    "ok": {"type": "boolean"},
                                    "count": {"type": "integer"},
                                    "first_broken_id": {"type": ["integer", "null"]},
                                    "message": {"type": "string"},
                                },
                            },
                        ),
                        **_error_responses(401, 403),
                    },
                }
            },
            "/healthz": {
                "get": {"summary": "Liveness", "responses": _ok("ok", {"type": "object"})}
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
                },
                "TagInfo": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "status": {"type": "string"},
                        "issued": {"type": "string"},
                        "review": {"type": ["string", "null"]},
                        "registered": {"type": "boolean"},
                    },
                },
                "Summary": summary_schema,
            },
        },
    }
