"""The public entry point: a tag URL and a few words in, PNG or PDF bytes out.

PNG is one face at exactly 600 dpi (wallet: 2022 x 1276 px, ID-1/CR80), for
screens and previews: `side="front"` (default) or `side="back"`. PDF holds
every face for printing: wallet front then back, each on its own page with
crop marks, or with `sheet=True` an A4 sheet of fold-over cards (key-ring:
one insert per page, or an A4 sheet of inserts).
"""

from __future__ import annotations

import unicodedata
from datetime import date

from cards import layout as card_layout
from cards import lockscreen, pdf, wristband
from cards.errors import CardError

LAYOUTS = ("wallet", "keyring", "wristband", "lockscreen")
WORDLESS = ("keyring", "wristband", "lockscreen")  # print the QR and fixed words only
FORMATS = ("png", "pdf")
SIDES = ("front", "back")
BLEED_PX = round(2 * card_layout.MM)  # 2 mm of repeated edge in the PDF
TAG_ID_CHARS = 32
PLACEHOLDER_URL = "HTTP://X/T/A"


def render_card(
    url: str,
    *,
    first_name: str,
    tag_id: str,
    issued: date,
    review: date | None,
    issuer: str,
    critical_line: str | None = None,
    layout: str = "wallet",
    fmt: str = "png",
    sheet: bool = False,
    side: str = "front",
    screen: str = lockscreen.DEFAULT_SCREEN,
    **in_clear,
) -> bytes:
    """Render a wallet card or key-ring insert for the tag `url`.

    The critical line is printed only if given (opt-in) and is never cut: a
    line that does not fit raises CardError. Key-ring inserts print the QR and
    "MEDICAL ID" only (the other fields are accepted and not printed). Every
    problem raises CardError (a ValueError) whose message says what to change.
    """
    _check_choice("layout", layout, LAYOUTS)
    _check_choice("fmt", fmt, FORMATS)
    _check_choice("side", side, SIDES)
    if sheet and fmt != "pdf":
        raise CardError("an A4 sheet is a PDF: use fmt='pdf' with sheet=True")
    if fmt == "pdf" and side != "front":
        raise CardError("a PDF holds every side; side= applies to PNG only")
    if layout in WORDLESS and side == "back":
        raise CardError(f"a {layout} print has one side only")
    if layout == "lockscreen" and fmt != "png":
        raise CardError("a lock-screen wallpaper is a PNG: use fmt='png'")
    if not isinstance(url, str):
        raise CardError("url must be the tag URL as a string")
    card = card_text(
        first_name=first_name,
        tag_id=tag_id,
        issued=issued,
        review=review,
        issuer=issuer,
        critical_line=critical_line,
        **in_clear,
    )
    if layout == "lockscreen":
        return lockscreen.png(url, screen)
    if layout == "keyring":
        faces = [card_layout.keyring(url)]
    elif layout == "wristband":
        faces = [wristband.strip(url)]
    elif fmt == "png":
        faces = [card_layout.front(url, card) if side == "front" else card_layout.back(card)]
    else:
        faces = [card_layout.front(url, card), card_layout.back(card)]
    if fmt == "png":
        return pdf.png_bytes(faces[0])
    bled = [card_layout.with_bleed(face, BLEED_PX) for face in faces]
    title = "Medical emergency card" if len(faces) == 2 else "Medical ID insert"
    if not sheet:
        return pdf.cards(bled, BLEED_PX, title)
    if len(bled) == 2:
        return pdf.fold_sheet(*bled, BLEED_PX, title)
    return pdf.grid_sheet(bled[0], BLEED_PX, title)


def card_text(
    *,
    first_name: str,
    tag_id: str,
    issued: date,
    review: date | None,
    issuer: str,
    critical_line: str | None = None,
    born_year: int | None = None,
    ice_line: str | None = None,
    finder_line: str | None = None,
) -> card_layout.CardText:
    """Check the words for the card (types, single lines, no control characters).

    `born_year`, `ice_line` and `finder_line` are what the patient chose to print in
    clear for whoever finds the card; each is printed only if given.
    """
    if not isinstance(issued, date) or not (review is None or isinstance(review, date)):
        raise CardError("issued must be a date and review a date or None")
    if review is not None and review < issued:
        raise CardError("the review date is before the issue date")
    tag_id = _line("tag_id", tag_id)
    if len(tag_id) > TAG_ID_CHARS or not tag_id.replace("-", "").replace(" ", "").isalnum():
        raise CardError(f"tag_id must be up to {TAG_ID_CHARS} letters or digits")
    if critical_line is not None:
        critical_line = _line("critical_line", critical_line)
    if born_year is not None and (type(born_year) is not int or not 1850 <= born_year <= 2200):
        raise CardError("born_year must be a year such as 1948")
    ice_line = None if ice_line is None else _line("ice_line", ice_line)
    finder_line = None if finder_line is None else _line("finder_line", finder_line)
    return card_layout.CardText(
        first_name=_line("first_name", first_name),
        tag_id=tag_id,
        issued=issued,
        review=review,
        issuer=_line("issuer", issuer),
        critical_line=critical_line,
        born_year=born_year,
        ice_line=ice_line,
        finder_line=finder_line,
    )


def check_card(
    *,
    first_name: str,
    issuer: str,
    critical_line: str | None = None,
    layout: str = "wallet",
    sides: tuple[str, ...] = SIDES,
    **in_clear,
) -> None:
    """Raise CardError now if these words cannot be printed (before a tag is issued).

    The text column does not depend on the QR size, so a placeholder URL and
    today's date give the same answer as the real card will. A key-ring insert
    prints no words, so it always passes. `sides=("back",)` draws the back only:
    the critical line changes nothing on the front, so a caller trying several
    back lines for words already checked saves the front's cost.
    """
    _check_choice("layout", layout, LAYOUTS)
    for side in sides:
        _check_choice("side", side, SIDES)
    if layout in WORDLESS:
        return
    today = date.today()
    card = card_text(
        first_name=first_name,
        tag_id="0" * 16,
        issued=today,
        review=today,
        issuer=issuer,
        critical_line=critical_line,
        **in_clear,
    )
    if "front" in sides:
        card_layout.front(PLACEHOLDER_URL, card)
    if "back" in sides:
        card_layout.back(card)


def check_qr(url: str, layout: str) -> None:
    """Raise CardError now if a QR of this URL's shape cannot be printed in `layout`
    (e.g. a self-contained tag on a wristband): callers pass a placeholder URL of the
    real tag's length before issuing, so nothing is sealed or audited for nothing."""
    _check_choice("layout", layout, LAYOUTS)
    if layout == "wristband":
        wristband.module_for(url)
    elif layout == "lockscreen":
        for screen in lockscreen.SCREENS:
            lockscreen.module_for(url, screen)
    else:
        card_layout.qr_module(url, card_layout.QR_AREA if layout == "wallet" else 10**6,
                              largest=card_layout.MIN_MODULE if layout == "keyring" else 24)


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise CardError(f"{name} must be one of {', '.join(choices)}, not {value!r}")


def _line(name: str, value: str) -> str:
    """One printable line: stripped, not empty, no newlines or control characters."""
    if not isinstance(value, str):
        raise CardError(f"{name} must be a string")
    value = unicodedata.normalize("NFC", value).strip()
    if not value:
        raise CardError(f"{name} is empty")
    if any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in value):
        raise CardError(f"{name} must be one line without control characters")
    return value
