"""Fuzzing the HTTP surface: whatever is sent, the service never answers 500.

schemathesis generates requests from /api/v1/openapi.json, both fitting the
schema and breaking it, sent with no token, a paramedic's, an admin's or a
forged one. Alongside: unlock bodies that carry a real tag with anything in
the other fields, any JSON at all, random paths under /T/ and /t/ (signed in
and out), and random form posts to the HTML unlock, desk and sign-in forms.

The default run sends about 1,500 requests in well under a minute; the long
run (TAGSERVICE_LONG_TESTS=1) sends more than 100,000.
"""

from __future__ import annotations

import json
import os
from urllib.parse import quote

import pyotp
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tagservice import create_app
from tagservice.accounts import clinicians
from tagservice.store.db import db, upgrade_database
from tagservice.web import openapi
from tests.helpers import FAST_ARGON2, csrf_from, path_of, plant_clinician_session

SCHEMA = schemathesis.openapi.from_dict(openapi.document())
CASES = st.one_of(
    SCHEMA.as_strategy(generation_mode=GenerationMode.POSITIVE),
    SCHEMA.as_strategy(generation_mode=GenerationMode.NEGATIVE),
)
# hypothesis favours the first choices: the deep paths (valid tokens) come first
AUTH = st.sampled_from(["paramedic", "admin", "none", "forged", "malformed"])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),  # fmt: skip
    max_leaves=12,
)
# Short runs in `make test`; the long run sends > 100,000 requests in all.
LONG = os.environ.get("TAGSERVICE_LONG_TESTS") == "1"
# `make test` replays the same examples every run (no flaky CI); the long run explores.
FUZZ = dict(deadline=None, derandomize=not LONG, suppress_health_check=list(HealthCheck))


class Counter:
    def __init__(self) -> None:
        self.requests = 0


@pytest.fixture
def fuzz(settings, tmp_path):
    """An app with rate limits off (so fuzzing reaches the views), two accounts and a tag."""
    from tagservice import crypto, keys
    from tagservice.store import tags

    app = create_app(
        {
            "settings": settings.with_overrides(ratelimit_enabled=False),
            "SECRET_KEY": "fuzz",
            "TESTING": True,
            "ARGON2_PARAMS": FAST_ARGON2,
        }
    )
    upgrade_database(app)
    keys.init_instance(settings)
    tokens = {}
    with app.app_context():
        keyset = keys.load_keyset(settings)
        from datetime import UTC, datetime

        from tests.helpers import fixture

        tag = crypto.seal(fixture("summary-typical.json"), keyset, datetime.now(UTC))
        header = crypto.verify_tag(tag, keyset)
        tags.register_tag(header.tag_id_hex, header.issuer_kid.hex(), header.reader_kid.hex(),
                          datetime.now(UTC), None)  # fmt: skip
        url = crypto.tag_url(settings.base_url, tag)
        for role, register, number in (
            ("paramedic", "HCPC", "PA12345"),
            ("admin", "GMC", "1234567"),
        ):
            email = f"{role}@example.nhs.uk"
            _, password, uri = clinicians.add_clinician(
                email, f"Fuzz {role}", role, register, number, "Example Trust"
            )
            response = app.test_client().post(
                "/api/v1/session",
                json={"email": email, "password": password, "totp": pyotp.parse_uri(uri).now()},
            )
            tokens[role] = response.json["token"]
    tokens["forged"] = "A" * 43
    tokens["malformed"] = "\u00e9" * 200
    yield app, tokens, url, Counter()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def headers_for(tokens: dict, who: str) -> dict:
    return {} if who == "none" else {"Authorization": f"Bearer {tokens[who]}"}


def assert_not_500(response, what: str) -> None:
    assert response.status_code < 500, f"{what} -> {response.status_code}: {response.text[:300]}"


# ------------------------------------------------------------------ the OpenAPI surface


def check_schema_case(fuzz, case, who) -> None:
    app, tokens, _url, counter = fuzz
    response = case.call(app=app, headers=headers_for(tokens, who))
    counter.requests += 1
    assert_not_500(response, f"{case.method} {case.formatted_path} as {who}")


@settings(max_examples=400, **FUZZ)
@given(case=CASES, who=AUTH)
def test_schema_driven_requests_never_get_a_500(fuzz, case, who):
    check_schema_case(fuzz, case, who)


# ------------------------------------------------------------------ the unlock body


def check_unlock_body(fuzz, tag_text, extra, who) -> None:
    app, tokens, _url, counter = fuzz
    body = {"tag": tag_text, **extra}
    response = app.test_client().post("/api/v1/unlock", json=body, headers=headers_for(tokens, who))
    counter.requests += 1
    assert_not_500(response, f"unlock {json.dumps(body)[:200]} as {who}")
    if response.status_code == 200:
        assert response.json["summary"]["identity"]["name"] == "Jane Smith"
        assert isinstance(response.json["audit_id"], int)


REASONS = st.sampled_from(["999", "ae", "other", "", "coffee"])
# A reason is nearly always there (so some unlocks succeed); anything may come with it.
UNLOCK_FIELDS = st.fixed_dictionaries(
    {"reason": st.one_of(REASONS, REASONS, JSON)},
    optional={
        "reason_text": st.one_of(st.text(max_size=300), JSON),
        "override": JSON,
        "extra": JSON,
    },
)


@settings(max_examples=250, **FUZZ)
@given(data=st.data(), extra=UNLOCK_FIELDS, who=AUTH)
def test_unlock_with_a_real_tag_and_anything_else_never_gets_a_500(fuzz, data, extra, who):
    url = fuzz[2]
    tag_text = data.draw(st.sampled_from([url, url.lower(), path_of(url)[3:], f" {url} "]))
    check_unlock_body(fuzz, tag_text, extra, who)


@settings(max_examples=150, **FUZZ)
@given(body=JSON, content_type=st.sampled_from(["application/json", "text/plain", "", "x/y"]))
def test_any_body_to_the_json_api_never_gets_a_500(fuzz, body, content_type):
    app, tokens, _url, counter = fuzz
    client = app.test_client()
    raw = json.dumps(body).encode()
    for path in ("/api/v1/unlock", "/api/v1/session"):
        headers = headers_for(tokens, "paramedic")
        if content_type:
            headers["Content-Type"] = content_type
        response = client.post(path, data=raw, headers=headers)
        counter.requests += 1
        assert_not_500(response, f"{path} {raw[:200]!r} {content_type}")


# ------------------------------------------------------------------ the scan path


SEGMENTS = st.one_of(
    st.text(max_size=300),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ234567abcdefgh=", max_size=400),
    st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
)


def check_scan_path(fuzz, segment, prefix, signed_in, raw) -> None:
    app, _tokens, _url, counter = fuzz
    client = app.test_client()
    if signed_in:
        with app.app_context():
            cid = clinicians.find_clinician("paramedic@example.nhs.uk").id
        plant_clinician_session(client, app, cid)
    path = prefix + (segment if raw else quote(segment, safe=""))
    response = client.get(path)
    counter.requests += 1
    assert_not_500(response, f"GET {path[:200]!r}")
    assert response.status_code in (200, 302, 308, 400, 404, 405, 410), path[:200]


@settings(max_examples=300, **FUZZ)
@given(
    segment=SEGMENTS,
    prefix=st.sampled_from(["/T/", "/t/", "/T/x/", "/t//"]),
    signed_in=st.booleans(),
    raw=st.booleans(),
)
def test_any_path_under_t_never_gets_a_500(fuzz, segment, prefix, signed_in, raw):
    check_scan_path(fuzz, segment, prefix, signed_in, raw)


# ------------------------------------------------------------------ the HTML forms


FORM = st.fixed_dictionaries(
    {"reason": st.one_of(REASONS, st.text(max_size=20))},
    optional={
        key: st.one_of(st.text(max_size=300), st.sampled_from(["yes", "999", ""]))
        for key in ("tag", "reason_text", "override", "email", "password", "code", "next", "x")
    },
)


def signed_in_client(app, url):
    client = app.test_client()
    with app.app_context():
        cid = clinicians.find_clinician("paramedic@example.nhs.uk").id
    plant_clinician_session(client, app, cid)
    page = client.get(path_of(url))
    return client, csrf_from(page.text)


def check_form(fuzz, client, token, path, form) -> None:
    counter = fuzz[3]
    response = client.post(path, data={"csrf_token": token, **form})
    counter.requests += 1
    assert_not_500(response, f"POST {path} {str(form)[:200]}")


@settings(max_examples=200, **FUZZ)
@given(form=FORM, path=st.sampled_from(["/unlock", "/desk", "/signin"]), real_tag=st.booleans())
def test_any_form_post_never_gets_a_500(fuzz, form, path, real_tag):
    app, _tokens, url, _counter = fuzz
    client, token = signed_in_client(app, url)
    if real_tag:
        form = {**form, "tag": path_of(url)[3:]}
    check_form(fuzz, client, token, path, form)


# ------------------------------------------------------------------ the long run


@pytest.mark.slow
def test_long_http_fuzz_sends_over_100000_requests_without_a_500(fuzz):
    """The same properties, many more examples: > 100,000 requests in all."""
    _app, _tokens, url, counter = fuzz
    runs = [
        (settings(max_examples=40_000, **FUZZ), given(case=CASES, who=AUTH),
         lambda case, who: check_schema_case(fuzz, case, who)),
        (settings(max_examples=25_000, **FUZZ),
         given(data=st.data(), extra=UNLOCK_FIELDS, who=AUTH),
         lambda data, extra, who: check_unlock_body(
             fuzz, data.draw(st.sampled_from([url, url.lower(), path_of(url)[3:]])), extra, who)),
        (settings(max_examples=25_000, **FUZZ),
         given(segment=SEGMENTS, prefix=st.sampled_from(["/T/", "/t/"]), signed_in=st.booleans(),
               raw=st.booleans()),
         lambda segment, prefix, signed_in, raw: check_scan_path(
             fuzz, segment, prefix, signed_in, raw)),
        (settings(max_examples=15_000, **FUZZ),
         given(form=FORM, path=st.sampled_from(["/unlock", "/desk", "/signin"])),
         lambda form, path: check_form(fuzz, *signed_in_client(fuzz[0], url), path, form)),
    ]  # fmt: skip
    for fuzz_settings, strategy, body in runs:
        fuzz_settings(strategy(body))()
    print(f"long HTTP fuzz: {counter.requests} requests, none answered 500")
    assert counter.requests >= 100_000


def test_nul_bytes_in_text_fields_are_refused_as_bad_input_not_as_a_database_failure(fuzz):
    """Found by fuzzing on PostgreSQL, which refuses NUL in text: these were 503s."""
    app, tokens, url, _counter = fuzz
    client = app.test_client()
    response = client.post(
        "/api/v1/session",
        json={"email": "paramedic\x00@example.nhs.uk", "password": "x" * 12, "totp": "123456"},
    )
    assert response.status_code == 401
    web = app.test_client()
    form = {"csrf_token": csrf_from(web.get("/signin").text), "email": "a\x00@b.org",
            "password": "x" * 12, "code": "123456"}  # fmt: skip
    response = web.post("/signin", data=form)
    assert response.status_code == 400 and "Enter your work email" in response.text
    response = app.test_client().post(
        "/api/v1/unlock",
        json={"tag": url, "reason": "other", "reason_text": "fell\x00over"},
        headers=headers_for(tokens, "paramedic"),
    )
    assert response.status_code == 400 and response.json["error"] == "bad_reason"
