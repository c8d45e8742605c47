"""The scan page of a linked (format v2) tag: /L/<39 digits>. Thin: the rules are unlock.py's.

The URL is the card key, so it must not travel further than the request that
brought it. Signed out, the tag URL answers with the sign-in page itself, whose
form posts back to the same URL (one POST signs in and opens, views.sign_in_and_open):
no redirect, no `next=` query carries it. The access log records no paths
(docs/operations.md), error logs redact `/L/` (errors.safe_path), the session
stores nothing of it, and every page is sent with `Referrer-Policy: no-referrer`.
"""

from __future__ import annotations

from flask import Blueprint, Flask, g, render_template

from tagservice import crypto, linked, unlock, views
from tagservice.audit import AuditWriteError
from tagservice.web import auth
from tagservice.web.security import limiter

bp = Blueprint("linked", __name__)


def _scan_page(text: str):
    clinician = g.get("clinician")
    try:
        scanned = views.scan_audited(text)
    except crypto.InvalidTag as e:
        return views.invalid_page(e)
    except unlock.UnlockRefused as refused:
        return views.refusal_page(refused)
    except AuditWriteError:
        return render_template("errors/unavailable.html"), 503
    if clinician is None:
        # the sign-in page at the tag URL itself, asking why too; it shows nothing of the card
        here = f"/{linked.ROUTE}/{linked.encode_payload(scanned.data)}"
        return auth.signin_page(None, here, tag_path=here)
    return views.reason_page(scanned, linked.encode_payload(scanned.data))


@bp.get(f"/{linked.ROUTE}/<payload>")
@bp.get(f"/{linked.ROUTE.lower()}/<payload>")
@limiter.limit("120 per minute")
def scan(payload: str):
    """Step 1 for a linked card: verify the stored record and status, then ask why."""
    # the route says "linked": the strict decoder refuses any other spelling
    return _scan_page(f"/{linked.ROUTE}/{payload}")


@bp.post(f"/{linked.ROUTE}/<payload>")
@bp.post(f"/{linked.ROUTE.lower()}/<payload>")
@limiter.limit(auth.SIGNIN_LIMIT)
def open_after_signin(payload: str):
    """Sign in and open in one POST, as for a /T/ tag (views.sign_in_and_open)."""
    text = f"/{linked.ROUTE}/{payload}"
    return views.sign_in_and_open(text, text)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
