"""The patient's card: make (issue) a tag, print or download it, cancel it, see who opened it.

Issuing seals the saved draft, so the card always holds what the editor
showed as valid and fitting. The back of the card prints only the critical
lines the patient ticked (none by default): a card dropped in the street
should not tell a stranger more than the patient chose. They are ticked on the
form that makes the card, beside the words printed in clear, and checked against
the card's space before anything is issued (card_choices.fit_report; live through
/my/card/fit as the patient ticks). The printed lines of a card already made can
still be changed afterwards (/my/card/options) without making a new one.
"""

from __future__ import annotations

import base64
import re
from datetime import date

from flask import (
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

import cards
from tagservice import clock
from tagservice.accounts import patient_tags, patients
from tagservice.audit import access_log
from tagservice.summary import model as summary_model
from tagservice.web import edge
from tagservice.web.portal import card_choices, forms
from tagservice.web.portal.blueprint import bp, patient_required
from tagservice.web.security import limiter

ISSUE_LIMIT = "20 per hour"
# The live check draws the card a few times per question; the page asks once per pause.
FIT_LIMIT = "30 per minute; 300 per hour"
LAYOUTS = ("wallet", "keyring", "lockscreen")  # a wristband needs a linked tag
FORMATS = {"png": "image/png", "pdf": "application/pdf"}
_CURSOR = re.compile(r"[0-9]{1,18}")


def _card_page(status: int = 200, *, in_clear: dict | None = None,
               back_chosen: list[str] | None = None, **extra):
    """The card page; after a refusal, the form shows what the patient had ticked."""
    patient = g.patient
    card = patients.load_card(patient)
    chosen = set(patients.load_print_critical(patient))
    draft = patients.load_draft(patient)
    draft = draft if isinstance(draft, dict) else None
    page = render_template(
        "portal/card.html",
        card=card,
        contacts=card_choices.contacts(draft),
        in_clear=(card or {}).get("in_clear_choices") or {} if in_clear is None else in_clear,
        back_lines=card_choices.back_lines(draft, _today()) if draft else [],
        back_chosen=chosen if back_chosen is None else set(back_chosen),
        finder_line=card_choices.FINDER_LINE,
        current=patient_tags.current_tag(patient),
        history=patient_tags.patient_tags(patient),
        chosen=chosen,
        refuse_superseded=patient.refuse_superseded,
        revoke_reasons=patient_tags.REVOKE_REASONS,
        describe=forms.describe_path,
        **extra,
    )
    return page, status


def _today():
    return clock.utcnow().date()


def _ticked(draft: dict) -> tuple[dict, dict, list[str]]:
    """(choices, the words they print, the back lines) from the form; may raise StaleBackLine."""
    choices = card_choices.from_form(request.form)
    in_clear = card_choices.resolve(choices, draft)
    back = card_choices.picked_back_lines(request.form, card_choices.back_lines(draft, _today()))
    return choices, in_clear, back


@bp.get("/card")
@patient_required
def card():
    return _card_page()


@bp.post("/card/issue")
@patient_required
@limiter.limit(ISSUE_LIMIT)
def issue():
    """Make a new card from the saved summary; the last card is replaced or cancelled."""
    draft = patients.load_draft(g.patient)
    if draft is None:
        flash("Enter your summary first.", "warning")
        return redirect(url_for("portal.edit_summary"))
    refuse = request.form.get("refuse_superseded") == "yes"
    choices = card_choices.from_form(request.form)
    try:
        choices, in_clear, back = _ticked(draft)
    except card_choices.StaleBackLine as e:
        return _card_page(400, in_clear=choices, back_chosen=[],
                          choices_error=f"{e} No card was made.")  # fmt: skip
    report = card_choices.fit_report(in_clear, back)  # the server's word, whatever the page said
    if not report["fits"]:
        return _card_page(400, in_clear=choices, back_chosen=back,
                          choices_error=f"{report['text']} No card was made.")  # fmt: skip
    try:
        issued = patient_tags.issue(
            g.patient, draft, refuse_superseded=refuse, client=edge.client_label(),
            in_clear=in_clear, in_clear_choices=choices,
        )  # fmt: skip
    except summary_model.SummaryError as e:
        checked = forms.Checked(draft)
        for error in e.errors:
            checked.errors.setdefault(error.path, []).append(error.message)
        return _card_page(400, in_clear=choices, back_chosen=back, refused=checked)
    card = patients.load_card(g.patient) or {}
    patients.save_card_options(
        g.patient, refuse, [line for line in back if line in card.get("critical", [])]
    )
    if issued.previous_revoked:
        flash("Your new card is ready. Your old card is cancelled: scanning it is refused.")
    elif issued.previous:
        flash("Your new card is ready. Your old card still opens, with a warning that it "
              "has been replaced.")  # fmt: skip
    else:
        flash("Your card is ready. Print it or download it below.")
    return redirect(url_for("portal.card"))


@bp.post("/card/fit")
@patient_required
@limiter.limit(FIT_LIMIT, key_func=edge.patient_key)  # per account: a household shares an address
def card_fit():
    """The live fit check for the make-a-card form: the renderer's own answer, nothing saved."""
    draft = patients.load_draft(g.patient)
    if not isinstance(draft, dict):
        return edge.json_error(409, "no_summary", "Enter your summary first.")
    try:
        _, in_clear, back = _ticked(draft)
    except card_choices.StaleBackLine as e:
        return jsonify(fits=False, text=str(e), fitting=[])
    return jsonify(card_choices.fit_report(in_clear, back))


@bp.post("/card/options")
@patient_required
def card_options():
    """Which critical lines to print on the back (none unless ticked)."""
    card = patients.load_card(g.patient) or {}
    available = card.get("critical", [])
    picked = {forms.form_number(i) for i in request.form.getlist("critical")}
    chosen = [line for index, line in enumerate(available) if index in picked]
    report = card_choices.fit_report(card_choices.printed(card), chosen)
    if not report["fits"]:
        return _card_page(400, options_error=report["text"])
    patients.save_card_options(g.patient, g.patient.refuse_superseded, chosen)
    flash("Saved. Print or download the card again to see the change.")
    return redirect(url_for("portal.card"))


@bp.post("/card/revoke")
@patient_required
def revoke():
    """Cancel a card at once: anyone scanning it is refused from now on."""
    tag_id = request.form.get("tag_id", "")
    reason = request.form.get("reason", "")
    if request.form.get("confirm") != "yes" or reason not in patient_tags.REVOKE_REASONS:
        return _card_page(400, revoke_error="Choose why, and tick the box to confirm.")
    try:
        patient_tags.revoke(g.patient, tag_id, reason, edge.client_label())
    except (LookupError, ValueError):
        abort(404)
    flash("That card is cancelled. Anyone who scans it now is told it cannot be opened.")
    return redirect(url_for("portal.card"))


def _critical_line(card: dict) -> str | None:
    chosen = [line for line in patients.load_print_critical(g.patient)
              if line in card.get("critical", [])]  # fmt: skip
    return card_choices.BACK_SEPARATOR.join(chosen) or None


def _issued_card() -> dict | None:
    """The details of the patient's card if it still works, else None."""
    card = patients.load_card(g.patient)
    current = patient_tags.current_tag(g.patient)
    if card is None or current is None or current.tag_id != card["tag_id"]:
        return None
    return card if current.status == "active" else None


def _no_card():
    flash("You have no card that works now. Make a new one below.", "warning")
    return redirect(url_for("portal.card"))


@bp.get("/card/card.<fmt>")
@patient_required
def download(fmt: str):
    """The card as PNG (`?side=back` for the back) or PDF (`?sheet=1`: an A4 sheet to
    cut out; `?layout=keyring`: a key-ring insert), drawn by cards.render_card."""
    layout = request.args.get("layout", "wallet")
    side = request.args.get("side", "front") if fmt == "png" else "front"
    if fmt not in FORMATS or layout not in LAYOUTS or side not in ("front", "back"):
        abort(404)
    screen = request.args.get("screen", "1170x2532")
    if layout != "wallet" and side == "back" or screen not in cards.lockscreen.SCREENS:
        abort(404)
    if layout == "lockscreen" and fmt != "png":
        abort(404)
    card = _issued_card()
    if card is None:
        return _no_card()
    try:
        data = cards.render_card(
            card["url"],
            **card_choices.printed(card),
            tag_id=card["tag_id"],
            issued=date.fromisoformat(card["issued"]),
            review=date.fromisoformat(card["review"]) if card.get("review") else None,
            issuer=patient_tags.issuer_name(),
            critical_line=_critical_line(card),
            layout=layout,
            fmt=fmt,
            sheet=fmt == "pdf" and request.args.get("sheet") == "1",
            side=side,
            screen=screen,
        )
    except cards.CardError as e:  # its message names no patient data, only what to change
        return _card_page(422, download_error=f"This card cannot be drawn as a file: {e}")
    response = current_app.response_class(data, mimetype=FORMATS[fmt])
    parts = ["emergency-card", card["tag_id"][:4], layout,
             screen if layout == "lockscreen" else side if fmt == "png" else ""]
    name = "-".join(p for p in parts if p) + f".{fmt}"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@bp.get("/card/print")
@patient_required
def print_view():
    """A plain page to print: the QR code, the first name, the tag id and chosen lines."""
    card = _issued_card()
    if card is None:
        return _no_card()
    # The faces the PDF has, drawn by the same renderer, printed at true size (85.6 mm).
    critical_line = _critical_line(card)
    faces = {}
    try:
        for side in ("front", "back"):
            png = cards.render_card(
                card["url"], **card_choices.printed(card), tag_id=card["tag_id"],
                issued=date.fromisoformat(card["issued"]),
                review=date.fromisoformat(card["review"]) if card.get("review") else None,
                issuer=patient_tags.issuer_name(), critical_line=critical_line, side=side,
            )  # fmt: skip
            faces[side] = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    except cards.CardError as e:
        return _card_page(422, download_error=f"This card cannot be drawn: {e}")
    return render_template(
        "portal/print.html",
        card=card,
        faces=faces,
        printed=card_choices.printed(card),
        critical_line=critical_line,
        issuer=patient_tags.issuer_name(),
    )


def _cursor(name: str) -> int | None:
    """An ?older= or ?newer= cursor: an event id in ASCII digits, else the latest page."""
    value = request.args.get(name, "")
    return int(value) if _CURSOR.fullmatch(value) else None


@bp.get("/access")
@patient_required
def access():
    """Who opened the patient's cards, 50 lines a page; scans without sign-in counted per day."""
    return render_template(
        "portal/access.html",
        page=access_log.page(g.patient, before=_cursor("older"), after=_cursor("newer")),
    )
