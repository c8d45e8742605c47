"""The web shell: headers, error pages, CSRF, rate limits and the stylesheet's promises."""

from __future__ import annotations

import logging
import re
from types import SimpleNamespace

import pytest
from flask import Blueprint, abort, flash, g, render_template, render_template_string
from sqlalchemy.exc import OperationalError

from tagservice import create_app
from tagservice.web import errors, pages
from tagservice.web.security import csrf, limiter
from tests.paths import ROOT

PACKAGE = ROOT / "tagservice"
CSS = PACKAGE / "static" / "app.css"
SECRET_WORDS = "Jane Mary Doe 9434765919"  # stands in for patient data in failures
PAYLOAD = "HQZ2AEBAGAYTSMJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


class FakeInvalidTag(Exception):
    """Stands in for crypto.InvalidTag: its message is written to be shown."""


class FakeBadSignature(FakeInvalidTag):
    pass


class FakeRevoked(Exception):
    pass


# A blueprint of routes that fail on purpose; registered only in these tests.
shell = Blueprint("shell_test", __name__)
api = Blueprint("shell_test_api", __name__, url_prefix="/api/_test")
csrf.exempt(api)


@shell.get("/_test/boom")
def boom():
    raise RuntimeError(SECRET_WORDS)


@shell.get("/t/<payload>/test-boom")
def tag_boom(payload):
    raise KeyError(payload)


@shell.get("/_test/db-down")
def db_down():
    raise OperationalError("SELECT * FROM patient WHERE name = ?", (SECRET_WORDS,), Exception())


@shell.get("/_test/abort/<int:code>")
def abort_with(code):
    abort(code)


@shell.get("/_test/limited")
@limiter.limit("1 per minute")
def limited():
    return "ok"


@shell.get("/_test/bad-signature")
def bad_signature():
    raise FakeBadSignature("The tag's signature does not match; it may have been altered.")


@shell.get("/_test/revoked")
def revoked():
    raise FakeRevoked(SECRET_WORDS)


@shell.route("/_test/form", methods=("GET", "POST"))
def form():
    return render_template_string("{{ csrf_token() }}")


@shell.get("/_test/flash")
def flashes():
    flash("ANAPHYLAXIS", "critical")
    flash("Superseded", "warning")
    flash("Saved")
    return render_template("index.html")


@api.route("/abort/<int:code>", methods=("GET", "POST"))
def api_abort(code):
    abort(code)


@api.post("/echo")
def api_echo():
    return {"ok": True}


@api.get("/bad-signature")
def api_bad_signature():
    raise FakeBadSignature("The tag's signature does not match.")


def _finish(app):
    if "pages" not in app.blueprints:
        pages.init_app(app)
    app.register_blueprint(shell)
    app.register_blueprint(api)
    errors.register_html_error(app, FakeInvalidTag, "errors/invalid_tag.html", 400)
    errors.register_html_error(app, FakeRevoked, "errors/revoked.html", 410)
    return app


@pytest.fixture
def web(app):
    """The conftest app plus the pages blueprint and the failing test routes."""
    return _finish(app)


@pytest.fixture
def web_client(web):
    return web.test_client()


def _app_with(settings, **config):
    return _finish(create_app({"settings": settings, "SECRET_KEY": "x", "TESTING": True, **config}))


# --- headers ---------------------------------------------------------------

PAGES = [
    ("/", 200),
    ("/_test/abort/400", 400),
    ("/no-such-page", 404),
    ("/_test/boom", 500),
    ("/_test/db-down", 503),
    ("/api/_test/abort/404", 404),
]


def _assert_security_headers(response):
    h = response.headers
    assert h["Cache-Control"] == "no-store"
    assert h["Referrer-Policy"] == "no-referrer"
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["X-Frame-Options"] == "DENY"
    assert h["Permissions-Policy"].startswith("camera=(self)")
    csp = h["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp


@pytest.mark.parametrize(("path", "status"), PAGES)
def test_every_page_and_error_page_carries_the_security_headers(web_client, path, status):
    response = web_client.get(path)
    assert response.status_code == status
    _assert_security_headers(response)
    assert "Strict-Transport-Security" not in response.headers


def test_a_rate_limited_response_carries_the_security_headers(web_client):
    web_client.get("/_test/limited")
    response = web_client.get("/_test/limited")
    assert response.status_code == 429
    _assert_security_headers(response)


def test_a_csrf_failure_carries_the_security_headers(web_client):
    response = web_client.post("/_test/form")
    assert response.status_code == 400
    _assert_security_headers(response)


def test_hsts_is_sent_over_https_only(web_client):
    assert "Strict-Transport-Security" in web_client.get("/", base_url="https://localhost").headers
    assert "Strict-Transport-Security" not in web_client.get("/").headers


def test_forwarded_https_is_trusted_only_behind_a_configured_proxy(settings, web_client):
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    assert "Strict-Transport-Security" not in web_client.get("/", headers=forwarded).headers
    proxied = _app_with(settings.with_overrides(proxy_fix=1)).test_client()
    assert "Strict-Transport-Security" in proxied.get("/", headers=forwarded).headers


def test_versioned_static_files_are_cached_and_everything_else_is_not(web, web_client):
    with web.test_request_context():
        url = web.jinja_env.globals["asset_url"]("app.css")
    assert "?v=" in url
    for path, expected in [
        (url, "public, max-age=31536000, immutable"),
        ("/static/app.css", "no-store"),
        ("/static/missing.css?v=1", "no-store"),
    ]:
        with web_client.get(path) as response:
            assert response.headers["Cache-Control"] == expected, path


# --- cookies, CSRF, rate limits ------------------------------------------------


def test_session_cookie_is_httponly_lax_and_lasts_a_shift(web, settings):
    assert web.config["SESSION_COOKIE_HTTPONLY"] is True
    assert web.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert web.config["SESSION_COOKIE_SECURE"] is False  # the base URL is http
    assert web.config["PERMANENT_SESSION_LIFETIME"].total_seconds() == settings.session_hours * 3600


def test_session_cookie_is_secure_when_the_service_is_served_over_https(settings):
    app = _app_with(settings.with_overrides(base_url="https://tags.example.nhs.uk"))
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_a_form_post_without_a_csrf_token_is_refused(web_client):
    response = web_client.post("/_test/form", data={"name": "x"})
    assert response.status_code == 400
    assert "This page has expired" in response.get_data(as_text=True)


def test_a_form_post_with_the_csrf_token_is_accepted(web_client):
    token = web_client.get("/_test/form").get_data(as_text=True)
    assert web_client.post("/_test/form", data={"csrf_token": token}).status_code == 200


def test_an_exempt_api_blueprint_takes_posts_without_a_csrf_token(web_client):
    assert web_client.post("/api/_test/echo").get_json() == {"ok": True}


def test_too_many_requests_get_a_page_saying_when_to_retry(web_client):
    assert web_client.get("/_test/limited").status_code == 200
    response = web_client.get("/_test/limited")
    assert response.status_code == 429
    seconds = int(response.headers["Retry-After"])
    assert 1 <= seconds <= 60
    assert "Try again in" in response.get_data(as_text=True)


def test_rate_limits_can_be_switched_off_in_settings(settings):
    client = _app_with(settings.with_overrides(ratelimit_enabled=False)).test_client()
    assert [client.get("/_test/limited").status_code for _ in range(3)] == [200, 200, 200]


# --- error shapes ---------------------------------------------------------


@pytest.mark.parametrize("code", [400, 401, 403, 404, 405, 409, 410, 413, 422, 429, 500, 503])
def test_api_errors_have_one_json_shape_for_every_status(web_client, code):
    response = web_client.get(f"/api/_test/abort/{code}")
    assert response.status_code == code
    body = response.get_json()
    assert set(body) == {"error", "message"}
    assert re.fullmatch(r"[a-z_]+", body["error"])


def test_a_json_client_gets_json_errors_outside_the_api(web_client):
    response = web_client.get("/no-such-page", headers={"Accept": "application/json"})
    assert response.get_json()["error"] == "not_found"


def test_a_browser_gets_an_html_error_page(web_client):
    response = web_client.get("/no-such-page", headers={"Accept": "text/html,*/*;q=0.8"})
    assert response.mimetype == "text/html"
    assert "Page not found" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "path", ["/_test/boom", "/_test/db-down", f"/t/{PAYLOAD}/test-boom", "/_test/revoked"]
)
def test_html_error_pages_show_no_traceback_or_exception_text(web_client, path):
    html = web_client.get(path).get_data(as_text=True)
    for leak in ("Traceback", 'File "', "RuntimeError", "OperationalError", "SELECT", PAYLOAD):
        assert leak not in html
    assert "Jane" not in html


def test_an_unexpected_exception_shows_the_generic_page_and_logs_no_payload(web_client, caplog):
    # Given a view that fails while handling a tag URL
    with caplog.at_level(logging.ERROR, logger="tagservice"):
        # When it is requested
        response = web_client.get(f"/t/{PAYLOAD}/test-boom?x={PAYLOAD}")
    # Then the person sees the generic page...
    assert response.status_code == 500
    assert "Something went wrong" in response.get_data(as_text=True)
    # ...and the log says what and where, but not the tag or the exception text
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "KeyError" in logged and "/T/<payload>/test-boom" in logged
    assert PAYLOAD not in logged
    assert all(r.exc_info is None for r in caplog.records)


def test_an_exception_message_is_never_logged(web_client, caplog):
    with caplog.at_level(logging.ERROR, logger="tagservice"):
        web_client.get("/_test/boom")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "RuntimeError" in logged and "test_web_shell.py" in logged
    assert "Jane" not in logged


def test_database_down_shows_nothing_but_the_unavailable_page(web_client, caplog):
    with caplog.at_level(logging.WARNING, logger="tagservice"):
        response = web_client.get("/_test/db-down")
    html = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "cannot record this access right now" in html
    assert "treat as unknown" in html
    assert "Retry-After" in response.headers
    assert "Jane" not in "\n".join(r.getMessage() for r in caplog.records)


def test_database_down_on_the_api_is_a_json_503(web, web_client):
    response = web_client.get("/_test/db-down", headers={"Accept": "application/json"})
    assert response.status_code == 503
    assert response.get_json()["error"] == "service_unavailable"


def test_a_registered_exception_shows_its_page_with_the_reason(web_client):
    response = web_client.get("/_test/bad-signature")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "This is not a valid emergency tag" in html
    assert "signature does not match" in html
    assert "treat the patient as unknown" in html


def test_a_registered_exception_on_the_api_is_json_named_after_the_base_class(web_client):
    response = web_client.get("/api/_test/bad-signature")
    assert response.status_code == 400
    assert response.get_json() == {
        "error": "fake_invalid_tag",
        "message": "The tag's signature does not match.",
    }


def test_the_revoked_page_says_nothing_about_the_patient(web_client):
    response = web_client.get("/_test/revoked")
    html = response.get_data(as_text=True)
    assert response.status_code == 410
    assert "This tag has been cancelled by its owner" in html
    assert "Jane" not in html


def test_an_error_page_that_cannot_render_still_answers_without_details(web, web_client):
    errors.register_html_error(web, KeyError, "errors/no-such-template.html", 400)
    response = web_client.get(f"/t/{PAYLOAD}/test-boom")
    assert response.status_code == 400
    assert "Something went wrong" in response.get_data(as_text=True)
    _assert_security_headers(response)


def test_log_paths_hide_tag_payloads_and_long_tokens(web):
    with web.test_request_context(f"/T/{PAYLOAD}/unlock"):
        assert errors.safe_path() == "/T/<payload>/unlock"
    with web.test_request_context(f"/api/v1/unlock/{PAYLOAD}"):
        assert errors.safe_path() == "/api/v1/unlock/<redacted>"


# --- the shell template -----------------------------------------------------


def test_the_start_page_explains_scanning_and_links_desk_and_sign_in(web_client):
    html = web_client.get("/").get_data(as_text=True)
    assert '<html lang="en-GB">' in html
    assert 'name="viewport"' in html
    assert 'href="#main"' in html and 'id="main"' in html
    assert "Scan the QR code on the patient's card with your phone camera" in html
    assert 'href="/desk"' in html and 'href="/signin"' in html
    assert "<title>Start – Emergency Tag</title>" in html


def test_a_signed_in_clinician_sees_their_name_and_a_csrf_protected_sign_out(web):
    web.before_request(lambda: setattr(g, "clinician", SimpleNamespace(name="Dr Ada Lovelace")))
    html = web.test_client().get("/").get_data(as_text=True)
    assert "Dr Ada Lovelace" in html
    form = re.search(r'<form[^>]*action="/signout"[^>]*>(.*?)</form>', html, re.S)
    assert form and 'method="post"' in form.group(0)
    assert re.search(r'name="csrf_token" value="[^"]+"', form.group(1))
    assert 'href="/signin"' not in html


def test_flashed_messages_are_shown_by_category(web_client):
    html = web_client.get("/_test/flash").get_data(as_text=True)
    assert re.search(r'class="alert-critical"[^>]*>ANAPHYLAXIS<', html)
    assert re.search(r'class="alert-warning"[^>]*>Superseded<', html)
    assert re.search(r'class="alert-info"[^>]*>Saved<', html)


def _templates_and_static():
    return [p for p in PACKAGE.joinpath("templates").rglob("*.html")] + [
        p for p in PACKAGE.joinpath("static").rglob("*") if p.is_file()
    ]


def test_no_template_or_static_file_loads_anything_from_another_site():
    offenders = []
    for path in _templates_and_static():
        text = path.read_text(errors="replace")
        for url in re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"'<>)]*", text):
            if not url.startswith(("http://www.w3.org/", "https://www.w3.org/")):
                offenders.append(f"{path.name}: {url}")
    assert offenders == []


def test_no_template_has_inline_script_style_or_event_handlers():
    offenders = []
    for path in PACKAGE.joinpath("templates").rglob("*.html"):
        text = re.sub(r"\{#.*?#\}", "", path.read_text(), flags=re.S)
        # the one exception: app.css itself, allowed by its hash (test_inline_stylesheet.py)
        text = text.replace("<style>{{ inline_stylesheet() }}</style>", "")
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text):
            offenders.append(f"{path.name}: inline <script>")
        if re.search(r"<style\b|\sstyle=", text):
            offenders.append(f"{path.name}: inline style")
        if re.search(r"\son[a-z]+=", text):
            offenders.append(f"{path.name}: inline event handler")
    assert offenders == []


# --- the stylesheet ----------------------------------------------------------


def _luminance(hex_colour: str) -> float:
    h = hex_colour.lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    channels = [int(h[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    """WCAG 2.2 contrast ratio of two sRGB colours."""
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _themes(css: str) -> dict[str, dict[str, str]]:
    roots = re.findall(r":root\{([^}]*)\}", css)
    light = dict(re.findall(r"(--[\w-]+):(#[0-9a-fA-F]{3,6})\b", roots[0]))
    dark = {**light, **dict(re.findall(r"(--[\w-]+):(#[0-9a-fA-F]{3,6})\b", roots[1]))}
    return {"light": light, "dark": dark}


def _stated_pairs(css: str):
    """(theme, kind, fg, bg, ratio) from the contrast comment at the top of app.css."""
    comment = css.split("*/", 1)[0]
    sections = re.split(r"\b(light|dark) (text|ui):", comment)
    for i in range(1, len(sections) - 2, 3):
        theme, kind, body = sections[i], sections[i + 1], sections[i + 2]
        for fg, bg, ratio in re.findall(r"([\w-]+)/([\w-]+) (\d+\.\d)", body):
            yield theme, kind, f"--{fg}", f"--{bg}", float(ratio)


def test_css_colour_pairs_meet_wcag_aa_and_match_the_stated_ratios():
    css = CSS.read_text()
    themes = _themes(css)
    stated = list(_stated_pairs(css))
    assert len(stated) >= 30
    for theme, kind, fg, bg, ratio in stated:
        actual = contrast(themes[theme][fg], themes[theme][bg])
        assert actual >= (4.5 if kind == "text" else 3.0), (theme, fg, bg, actual)
        assert abs(actual - ratio) <= 0.1, (theme, fg, bg, actual, ratio)


def test_every_text_on_background_pair_in_a_rule_is_stated():
    css = CSS.read_text()
    stated = {(fg, bg) for _, kind, fg, bg, _ in _stated_pairs(css) if kind == "text"}
    for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css.split("*/", 1)[1]):
        fg = re.search(r"(?:^|;)color:var\((--[\w-]+)\)", body)
        bg = re.search(r"background(?:-color)?:var\((--[\w-]+)\)", body)
        if fg and bg:
            assert (fg.group(1), bg.group(1)) in stated, selector.strip()


def test_the_stylesheet_is_small():
    """One stylesheet, fetched once and cached (immutable): about 8 ms on a 750 kbit/s link.

    7 KB since the summary's tight first-screen rules (issue 15); was 6 KB.
    """
    assert CSS.stat().st_size < 7 * 1024


def test_buttons_and_fields_are_at_least_48px_tall():
    css = CSS.read_text()
    for selector in (".btn{", ".choice{", ".brand{", ".field input:not"):
        start = re.search(r"(?m)^" + re.escape(selector), css).start()
        rule = css[start:].split("}", 1)[0]
        assert "min-height:3rem" in rule, selector


def test_the_unavailable_page_offers_to_retry_the_same_page(web_client):
    html = web_client.get("/_test/db-down?from=desk").get_data(as_text=True)
    assert 'href="/_test/db-down?from=desk"' in html
    assert "Try again" in html and "treat as unknown" in html


def test_the_retry_link_never_leaves_the_site(web):
    from tagservice.web.errors import retry_url

    with web.test_request_context(environ_overrides={"PATH_INFO": "//evil.example/x"}):
        assert retry_url() == "/evil.example/x"
    for path in ("/\\evil.example/x", "//\\evil.example", "/a\tb"):
        with web.test_request_context(environ_overrides={"PATH_INFO": path}):
            assert retry_url() == "/", path
