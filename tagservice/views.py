"""Scan and unlock pages: the heart of the product. Thin: parse, call unlock.py, render."""

from __future__ import annotations

from flask import Blueprint, Flask, g, redirect, render_template, request
from limits import parse as parse_limit
from werkzeug.exceptions import TooManyRequests

from tagservice import audit, crypto, unlock
from tagservice.accounts import roles
from tagservice.audit import AuditWriteError, EventKind
from tagservice.store import linked_tags
from tagservice.summary import display as summary_view
from tagservice.web import auth, edge, reception
from tagservice.web import desk as desk_field
from tagservice.web.auth import clinician_required
from tagservice.web.security import limiter

bp = Blueprint("scan", __name__)
#: Unlocks per clinician: POST /unlock and the sign-in from a tag share one bucket.
UNLOCK_LIMIT = "60 per hour"


def refusal_page(refused: unlock.UnlockRefused):
    if isinstance(refused, unlock.TagRevoked):
        return render_template("errors/revoked.html", message=refused.message), 410
    if refused.status == 503:
        return render_template("errors/unavailable.html"), 503
    return render_template("scan/refused.html", message=refused.message), refused.status


def invalid_page(error: crypto.InvalidTag):
    return render_template("errors/invalid_tag.html", reason=str(error)), 400


def scan_audited(text: str) -> unlock.ScannedTag:
    """unlock.scan, then the "scanned" event: one record for a /T/ page and a desk scan.

    Raises what unlock.scan raises, and AuditWriteError.
    """
    clinician = g.get("clinician")
    scanned = unlock.scan(text, edge.client_address(), clinician)
    audit.record_event(
        EventKind.TAG_SCANNED,
        outcome="success",
        actor=clinician,
        tag_id=scanned.tag_id,
        client=edge.client_address(),
        signed_in=clinician is not None,
    )
    return scanned


@bp.get("/T/<payload>")
@bp.get("/t/<payload>")
@limiter.limit("120 per minute")
def scan(payload: str):
    """Step 1: verify the tag and its status without decrypting, then ask why."""
    clinician = g.get("clinician")
    try:
        scanned = scan_audited(payload)
    except crypto.InvalidTag as e:
        return invalid_page(e)
    except unlock.UnlockRefused as refused:
        return refusal_page(refused)
    except AuditWriteError:
        return render_template("errors/unavailable.html"), 503
    if clinician is None:
        # the sign-in page itself, not a redirect to it: one round trip less on 3G.
        # It shows nothing of the tag; its form posts back here (open_after_signin).
        return auth.signin_page(None, f"/T/{payload}", tag_path=f"/T/{payload}")
    return reason_page(scanned, payload)


@bp.post("/T/<payload>")
@bp.post("/t/<payload>")
@limiter.limit(auth.SIGNIN_LIMIT)
def open_after_signin(payload: str):
    """Sign in and open in one POST: the sign-in page reached from a scanned tag asks why."""
    return sign_in_and_open(payload, f"/T/{payload}")


def sign_in_and_open(text: str, here: str):
    """Sign in with the posted password and code, then open `text` (either tag format)
    under the same rules as POST /unlock (unlock.py, through open_page).

    `here` is the tag URL's path, where the form posted. A failed sign-in opens nothing
    and keeps the email and the reason. CSRF is checked first, as for every form; a
    phone already signed in goes to the tag's reason page.
    """
    if g.get("clinician") is not None:
        return redirect(here, code=303)
    g.inline_css = True  # whatever this answers may be the phone's first styled page
    reason = request.form.get("reason", "")[:16]
    reason_text = request.form.get("reason_text", "")[: unlock.MAX_REASON_TEXT + 1]
    attempt = auth.password_signin()
    if attempt.clinician is None:
        return auth.signin_page(
            attempt, here, tag_path=here, reason=reason, reason_text=reason_text
        )
    g.clinician = attempt.clinician
    if not roles.opens_summaries(g.clinician.role):  # what reception sees after a scan
        try:
            scanned = unlock.scan(text, edge.client_address(), g.clinician)
        except crypto.InvalidTag as e:
            return invalid_page(e)
        except unlock.UnlockRefused as refused:
            return refusal_page(refused)
        return reason_page(scanned, text)
    _count_unlock()
    return open_page(text)


def _count_unlock() -> None:
    """Count an unlock at sign-in in POST /unlock's per-clinician bucket (the same key and
    scope as its decorator), so signing in again and again opens no more than it does."""
    if limiter.enabled and not limiter.limiter.hit(
        parse_limit(UNLOCK_LIMIT), edge.clinician_key(), "scan.unlock_summary"
    ):
        raise TooManyRequests()


def _at_desk() -> bool:
    """True when the unlock form came from the A&E desk (a hidden field, not trusted for access)."""
    return request.form.get("at") == "desk"


def reason_page(
    scanned: unlock.ScannedTag,
    payload: str,
    error: str | None = None,
    status: int = 200,
    *,
    at_desk: bool = False,
):
    if not roles.opens_summaries(g.clinician.role):  # reception: arrival and status only
        return reception.page(scanned, g.clinician, edge.client_address(), at_desk=at_desk)
    return render_template(
        "scan/reason.html",
        tag=payload,
        tag_id=scanned.tag_id,
        status=scanned.status,
        reasons=unlock.REASONS,
        clinical=g.clinician.role in unlock.CLINICAL_ROLES,
        # a nurse at the desk is at an A&E attendance, a paramedic at a 999 call
        default_reason="ae" if at_desk else "999",
        at_desk=at_desk,
        error=error,
    ), status


@bp.post("/unlock")
@clinician_required
@limiter.limit(UNLOCK_LIMIT, key_func=edge.clinician_key)
def unlock_summary():
    """Step 2: audit first (committed), then decrypt and show the summary."""
    return open_page(request.form.get("tag", ""))


def open_page(payload: str):
    """Unlock `payload` for g.clinician with the posted reason: the summary, or why not.

    The one page-side caller of unlock.unlock: POST /unlock and the sign-in from a
    scanned tag both come here.
    """
    try:
        result = unlock.unlock(
            payload,
            g.clinician,
            reason=request.form.get("reason", ""),
            reason_text=request.form.get("reason_text", ""),
            override=request.form.get("override") == "yes",
            client=edge.client_address(),
        )
    except crypto.InvalidTag as e:
        return invalid_page(e)
    except unlock.UnlockRefused as refused:
        if refused.status == 400 or refused.error == "override_required":
            scanned = unlock.scan(payload, edge.client_address(), g.clinician)
            return reason_page(
                scanned, payload, refused.message, refused.status, at_desk=_at_desk()
            )
        return refusal_page(refused)
    return render_template(
        "scan/summary.html",
        at_desk=_at_desk(),
        tag=payload,
        view=summary_view.build(result.summary),
        warnings=result.warnings,
        tag_id=result.scanned.tag_id,
        audit_id=result.audit_id,
        break_glass=result.break_glass,
    )


@bp.get("/desk")
@clinician_required
def desk():
    """A&E desk: a focused field that takes a USB scan gun's keystrokes and Enter."""
    return render_template("scan/desk.html")


@bp.post("/desk")
@clinician_required
@limiter.limit("120 per minute", key_func=edge.clinician_key)
def desk_scan():
    """A scan opens the tag; a typed Tag ID shows only the card's status (audited)."""
    text = request.form.get("tag", "").strip()
    tag_id = desk_field.as_tag_id(text)
    try:
        if tag_id:
            status, name, advice = desk_field.look_up(tag_id, g.clinician, edge.client_address())
            return render_template(
                "scan/desk.html", looked_up=tag_id, status=status, name=name, advice=advice
            )
        scanned = scan_audited(text)
        if not roles.opens_summaries(g.clinician.role):
            return reception.page(scanned, g.clinician, edge.client_address(), at_desk=True)
    except crypto.InvalidTag as e:
        # a damaged tag URL says why; anything else typed says what the field takes
        is_url = "/t/" in text.lower() or "/l/" in text.lower()
        message = str(e) if is_url else desk_field.NOT_A_SCAN
        return render_template("scan/desk.html", error=message), 400
    except unlock.UnlockRefused as refused:
        return refusal_page(refused)
    except AuditWriteError:
        return render_template("errors/unavailable.html"), 503
    payload = linked_tags.payload_text(scanned.data, scanned.header)
    return reason_page(scanned, payload, at_desk=True)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
