"""The browser-facing safety net: headers, cookies, CSRF and rate limits.

Every response says "do not cache, do not leak the URL, run only our own
script and style, do not frame me", because the tag URL and the summary are
sensitive and the pages are opened on shared ambulance phones and desk PCs.
Forms are CSRF-protected by default; bearer-token API blueprints opt out with
`csrf.exempt(bp)`. Rate limits are declared per route with `@limiter.limit`.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from flask import Flask, Response, current_app, g, request, url_for
from flask.json.provider import DefaultJSONProvider
from flask_limiter import Limiter
from flask_wtf.csrf import CSRFProtect
from markupsafe import Markup
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

from tagservice import boundedjson
from tagservice.config import Settings
from tagservice.web import cookie_session, edge

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
# The camera is for scanning tags in our own pages; nothing else is needed.
PERMISSIONS_POLICY = (
    "camera=(self), microphone=(), geolocation=(), payment=(), usb=(), serial=(), hid=()"
)
HSTS = "max-age=31536000; includeSubDomains"
# The one stylesheet a page may carry inline (a phone's first page: no round trip for it),
# allowed by the hash of its exact text, never by 'unsafe-inline'.
INLINE_STYLESHEET = "app.css"
# Versioned static files (see asset_url) never change, so a slow phone keeps them.
IMMUTABLE = "public, max-age=31536000, immutable"


class _Limiter(Limiter):
    """Flask-Limiter that does no work on a request when limits are off.

    Its per-route decorator identifies the request and filters the route's
    limits even when the extension is disabled (RATELIMIT_ENABLED false, as in
    bench/unlock.py); with limits on it behaves exactly as Flask-Limiter.
    """

    def identify_request(self) -> str:
        # the decorator only uses it to note an endpoint hint before checking limits
        return super().identify_request() if self.enabled else ""

    def _check_request_limit(self, callable_name=None, in_middleware=True) -> None:
        if self.enabled:
            super()._check_request_limit(callable_name, in_middleware)


csrf = CSRFProtect()
limiter = _Limiter(key_func=edge.client_label)


def add_security_headers(response: Response) -> Response:
    """Headers for every response, error pages included."""
    headers = response.headers
    if request.endpoint == "static" and request.args.get("v") and response.status_code == 200:
        headers["Cache-Control"] = IMMUTABLE
    else:
        headers["Cache-Control"] = "no-store"
    headers["Referrer-Policy"] = "no-referrer"
    headers["Content-Security-Policy"] = content_security_policy()
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers["Permissions-Policy"] = PERMISSIONS_POLICY
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Cross-Origin-Resource-Policy"] = "same-origin"
    if request.is_secure:
        headers["Strict-Transport-Security"] = HSTS
    return response


@lru_cache(maxsize=64)
def _digest(path: Path, mtime_ns: int, size: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


@lru_cache(maxsize=4)
def _stylesheet(path: Path, mtime_ns: int, size: int) -> tuple[str, str, str]:
    """The stylesheet's text, its CSP source ('sha256-...') and the policy that allows it."""
    text = path.read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()
    source = f"'sha256-{digest}'"
    return text, source, CSP.replace("style-src 'self'", f"style-src 'self' {source}")


def _inline_stylesheet() -> tuple[str, str, str] | None:
    path = Path(current_app.static_folder or "") / INLINE_STYLESHEET
    try:
        stat = path.stat()
    except OSError:
        return None
    return _stylesheet(path, stat.st_mtime_ns, stat.st_size)


def content_security_policy() -> str:
    """CSP, with the inline stylesheet's hash when a page carries it inline (g.inline_css)."""
    inline = _inline_stylesheet() if g.get("inline_css") else None
    return inline[2] if inline else CSP


def inline_stylesheet() -> Markup:
    """app.css for a <style> element: exactly the text whose hash the CSP allows."""
    inline = _inline_stylesheet()
    return Markup(inline[0]) if inline else Markup("")  # noqa: S704 - our own static file


def asset_url(filename: str) -> str:
    """URL of a static file with a content version, so it can be cached for good."""
    path = Path(current_app.static_folder or "") / filename
    try:
        stat = path.stat()
    except OSError:
        return url_for("static", filename=filename)
    return url_for("static", filename=filename, v=_digest(path, stat.st_mtime_ns, stat.st_size))


class BoundedJSONProvider(DefaultJSONProvider):
    """Every `request.get_json()` goes through boundedjson: too big, deep or long is a 413.

    The 413 is raised even for `get_json(silent=True)`, so the client learns which
    bound it hit, in the usual error shape, instead of a vague "send JSON".
    """

    def loads(self, s: str | bytes, **kwargs):
        try:
            return boundedjson.loads(s, boundedjson.API, **kwargs)
        except boundedjson.TooLarge as e:
            raise RequestEntityTooLarge(f"Refused: {e}.") from None


def _proxy_hops(app: Flask) -> int:
    """How many trusted reverse proxies sit in front of us (0 = none, trust no X-Forwarded-*)."""
    return app.config["TAGSERVICE"].proxy_fix


def _configure_cookies(app: Flask, settings: Settings) -> None:
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = settings.base_url.startswith("https://")
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=settings.session_hours)


def _configure_csrf(app: Flask) -> None:
    # A token lives as long as the session: a page left open in the ambulance
    # for an hour must still submit.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    # Flask-WTF's HTTPS check compares the Referer header, which our
    # no-referrer policy removes; the token plus SameSite=Lax cookies stay.
    app.config.setdefault("WTF_CSRF_SSL_STRICT", False)
    csrf.init_app(app)


def _configure_limiter(app: Flask, settings: Settings) -> None:
    app.config.setdefault("RATELIMIT_ENABLED", settings.ratelimit_enabled)
    app.config.setdefault("RATELIMIT_STORAGE_URI", settings.ratelimit_storage_uri or "memory://")
    # If shared storage (Redis) fails, limit per process instead of refusing
    # paramedics: availability wins over a perfect count.
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    limiter.init_app(app)


def init_app(app: Flask) -> None:
    settings: Settings = app.config["TAGSERVICE"]
    hops = _proxy_hops(app)
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    _configure_cookies(app, settings)
    cookie_session.init_app(app)
    _configure_csrf(app)
    _configure_limiter(app, settings)
    app.json = BoundedJSONProvider(app)
    app.add_template_global(asset_url)
    app.add_template_global(inline_stylesheet)
    app.after_request(add_security_headers)
