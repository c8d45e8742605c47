"""A phone's first page carries app.css inline, allowed by its hash (issue 15, 3G round trips).

The sign-in page (and whatever the sign-in from a tag answers) paints without a
second round trip for the stylesheet; the CSP allows exactly that text by its
SHA-256, never 'unsafe-inline', and every other page keeps the plain policy.
"""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from tagservice.web.security import CSP
from tests.helpers import clinician_with_totp, csrf_from, enable_clinician_sign_in, path_of, sign_in

STYLE = re.compile(r"<style>(.*?)</style>", re.S)


@pytest.fixture(autouse=True)
def web_app(app, settings):
    return enable_clinician_sign_in(app, settings)


def style_source(text: str) -> str:
    digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
    return f"'sha256-{digest}'"


def assert_inline_and_allowed(response) -> None:
    [inline] = STYLE.findall(response.text)
    css = response.headers["Content-Security-Policy"]
    style_src = next(d for d in css.split(";") if d.strip().startswith("style-src"))
    assert style_src.split() == ["style-src", "'self'", style_source(inline)]
    assert "unsafe-inline" not in css
    assert ".alert-critical" in inline  # the real stylesheet, not a fragment
    assert re.search(r'<link rel="prefetch" href="/static/app\.css\?v=\w+">', response.text)
    assert 'rel="stylesheet"' not in response.text


def test_the_sign_in_page_carries_the_stylesheet_inline_allowed_by_its_hash(client):
    assert_inline_and_allowed(client.get("/signin"))


def test_the_signed_out_tag_page_carries_it_inline_too(client, tag_url):
    assert_inline_and_allowed(client.get(path_of(tag_url)))


def test_the_summary_opened_at_sign_in_carries_it_inline(client, app, tag_url):
    totp = clinician_with_totp(app, "ann@example.nhs.uk", "correct horse battery")
    token = csrf_from(client.get(path_of(tag_url)).text)
    form = {
        "csrf_token": token, "email": "ann@example.nhs.uk", "password": "correct horse battery",
        "code": totp.now(), "reason": "999",
    }  # fmt: skip
    response = client.post(path_of(tag_url), data=form)
    assert response.status_code == 200 and "Jane Smith" in response.text
    assert_inline_and_allowed(response)


def test_other_pages_link_the_cached_stylesheet_under_the_plain_policy(client, app, tag_url):
    sign_in(client, app)
    response = client.get(path_of(tag_url))
    assert "<style>" not in response.text
    assert re.search(r'<link rel="stylesheet" href="/static/app\.css\?v=\w+">', response.text)
    assert response.headers["Content-Security-Policy"] == CSP
