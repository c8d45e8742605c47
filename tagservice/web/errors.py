"""One error shape for machines, a plain page for people, never a stack trace.

API paths (and clients that ask for JSON) get `{"error": ..., "message": ...}`
for every status. People get a page in `templates/errors/` that says what to
do next. Unexpected exceptions are logged by type, code location and a
redacted path only: exception messages can carry SQL parameters, and the path
under `/T/` is the tag itself, so neither is ever written to the log.

Other modules map their own exceptions to a page with `register_html_error`.
"""

from __future__ import annotations

import logging
import re
import time
import traceback
from collections.abc import Callable
from pathlib import PurePath

from flask import Blueprint, Flask, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable
from werkzeug.http import HTTP_STATUS_CODES

from tagservice.web import edge

log = logging.getLogger(__name__)

#: Paths that always answer errors in JSON, whatever the Accept header says.

#: Pages with their own wording; every other status uses errors/error.html.
STATUS_PAGES = {
    404: "errors/not_found.html",
    410: "errors/revoked.html",
    429: "errors/rate_limited.html",
    503: "errors/unavailable.html",
}
GENERIC_PAGE = "errors/error.html"

#: Heading and advice on the generic page, by status.
GENERIC_WORDING = {
    400: ("This request could not be read", "Go back, reload the page and try again."),
    401: ("Please sign in", "Sign in, then try again."),
    403: ("You do not have access to this page", "Sign in with an account that has access."),
    405: ("This page cannot be used like that", "Go back to the start and try again."),
    413: ("That was too large to send", "Send something smaller."),
}
FAILED_WORDING = (
    "Something went wrong",
    "Nothing was shown. Try again. If it keeps happening, treat the patient as unknown "
    "and tell your service desk the time it happened.",
)
CSRF_WORDING = (
    "This page has expired",
    "Nothing was sent. Go back, reload the page and try again.",
)
DB_DOWN_MESSAGE = "The service cannot record this access right now, so nothing can be shown."
RETRY_AFTER_DB = 30

# Served if an error page itself cannot be rendered: no template, no data.
FALLBACK_PAGE = (
    '<!doctype html><html lang="en-GB"><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    "<title>Emergency Tag</title><h1>Something went wrong</h1>"
    '<p>Nothing was shown. Treat the patient as unknown.</p><p><a href="/">Start again</a></p>'
)

_TAG_PATH = re.compile(r"^/([tl])/[^/]*", re.IGNORECASE)  # /L/: a linked card's key
_LONG_SEGMENT = re.compile(r"[^/]{32,}")


def safe_path() -> str:
    """The request path fit for a log: tag payloads and other long tokens removed."""
    path = _TAG_PATH.sub(lambda m: f"/{m[1].upper()}/<payload>", request.path)
    return _LONG_SEGMENT.sub("<redacted>", path)[:200]


def _where(error: BaseException) -> str:
    """Code location (file:line in function) of the failure, never its message."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return "?"
    spots = [frames[-1]]
    own = [f for f in frames if "/tagservice/" in f.filename.replace("\\", "/")]
    if own and own[-1] is not frames[-1]:
        spots.insert(0, own[-1])
    return " via ".join(f"{PurePath(f.filename).name}:{f.lineno} in {f.name}" for f in spots)


def _snake(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()).strip(
        "_"
    )


def _in_words(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = -(-seconds // 60)
    if minutes < 60:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours = -(-minutes // 60)
    return f"{hours} hour{'s' if hours != 1 else ''}"


def _retry_after(error: HTTPException) -> int:
    """Seconds until the breached rate limit resets (60 if we cannot tell)."""
    from tagservice.web.security import limiter

    try:
        current = limiter.current_limit
        if current is not None:
            return max(1, int(current.reset_at - time.time()))
    except Exception:  # noqa: S110 - storage trouble must not turn a 429 into a 500
        pass
    return 60


def render_page(template: str, status: int, **context) -> tuple[str, int]:
    """Render an error page; if even that fails, serve a fixed page with no data."""
    try:
        return render_template(template, status=status, **context), status
    except Exception as e:
        log.error("error page %s failed: %s at %s", template, type(e).__name__, _where(e))
        return FALLBACK_PAGE, status


def _page_for(error: HTTPException, code: int, headers: dict) -> tuple[str, int]:
    if isinstance(error, CSRFError):
        heading, message = CSRF_WORDING
        return render_page(GENERIC_PAGE, code, heading=heading, message=message)
    if code == 429:
        seconds = int(headers["Retry-After"])
        return render_page(
            STATUS_PAGES[429], code, retry_after=seconds, retry_after_text=_in_words(seconds)
        )
    if code in STATUS_PAGES:
        return render_page(STATUS_PAGES[code], code)
    if code >= 500:
        heading, message = FAILED_WORDING
    else:
        heading, message = GENERIC_WORDING.get(
            code, (HTTP_STATUS_CODES.get(code, "Error"), GENERIC_WORDING[400][1])
        )
    return render_page(GENERIC_PAGE, code, heading=heading, message=message)


def handle_http_error(error: HTTPException):
    """Every HTTP status, as JSON for machines and a page for people."""
    code = error.code or 500
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    if code == 429:
        headers["Retry-After"] = str(_retry_after(error))
    elif code == 503:
        headers.setdefault("Retry-After", str(RETRY_AFTER_DB))
    if edge.wants_json():
        name = _snake(HTTP_STATUS_CODES.get(code, "error"))
        if isinstance(error, CSRFError):
            name = "csrf_failed"
        return edge.json_error(code, name, error.description, **headers)
    body, status = _page_for(error, code, headers)
    return body, status, headers


def handle_database_error(error: Exception):
    """The database is down or refused: show nothing rather than show unaudited."""
    log.warning(
        "database unavailable: %s on %s %s at %s",
        type(error).__name__,
        request.method,
        safe_path(),
        _where(error),
    )
    return handle_http_error(ServiceUnavailable(DB_DOWN_MESSAGE))


def handle_unexpected(error: Exception):
    """A bug: log where, not what, and show the generic page."""
    log.error(
        "unhandled %s on %s %s at %s",
        type(error).__name__,
        request.method,
        safe_path(),
        _where(error),
    )
    return handle_http_error(InternalServerError("Something went wrong; nothing was shown."))


def register_html_error(
    scope: Flask | Blueprint,
    exc_class: type[Exception],
    template: str,
    status: int,
    *,
    error: str | None = None,
) -> Callable:
    """Show `template` with `status` when `exc_class` (or a subclass) escapes a view.

    The page gets `reason` (the exception's message, which must be safe to
    show) and `status`; JSON clients get `{"error": error, "message": reason}`,
    `error` defaulting to the class name in snake case (InvalidTag →
    "invalid_tag"). `scope` is the app, or a blueprint to limit it to its views.
    """
    name = error or _snake(exc_class.__name__)

    def handler(exc: Exception):
        reason = str(exc) or HTTP_STATUS_CODES.get(status, "Error")
        if edge.wants_json():
            return edge.json_error(status, name, reason)
        return render_page(template, status, reason=reason)

    scope.register_error_handler(exc_class, handler)
    return handler


#: A tag payload as it appears in /T/<payload> (base32 or digits, bounded), for the retry link.
_PAYLOAD = re.compile(r"[A-Za-z0-9]{1,4096}")
_LINKED_PAYLOAD = re.compile(r"[0-9]{39}")  # a linked card's key (tagservice/linked.py)


def retry_url() -> str:
    """Where "Try again" goes: the same page, re-requested as a plain GET.

    A GET is repeated as it was. A POST cannot be repeated by a link, so it goes
    back to the page it came from: the tag's page after an unlock, the desk after
    a desk scan, otherwise the same path if it can be fetched, else the start.
    Always a same-site path (never "//host").
    """
    if request.method == "GET":
        target = request.full_path.rstrip("?")
    elif request.endpoint == "scan.unlock_summary":
        tag = request.form.get("tag", "")
        if _LINKED_PAYLOAD.fullmatch(tag):
            target = f"/L/{tag}"
        else:
            target = f"/T/{tag}" if _PAYLOAD.fullmatch(tag) else "/"
    elif request.endpoint == "scan.desk_scan":
        target = "/desk"
    else:
        adapter = request.url_rule and request.url_rule.methods or set()
        target = request.path if "GET" in adapter else "/"
    target = "/" + target.lstrip("/")
    # browsers read "/\\host" and paths with control characters as another site
    return target if "\\" not in target and target.isprintable() else "/"


def init_app(app: Flask) -> None:
    from tagservice.audit import AuditWriteError

    app.add_template_global(retry_url)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(sa_exc.DBAPIError, handle_database_error)
    app.register_error_handler(sa_exc.TimeoutError, handle_database_error)
    # An event that cannot be recorded (sign-in, token, account change) stops its action.
    app.register_error_handler(AuditWriteError, handle_database_error)
    app.register_error_handler(Exception, handle_unexpected)
