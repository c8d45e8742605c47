"""Fuzzing the patient portal: its forms and imports never answer 500, and stay small.

Like test_fuzz_http.py, for /my: the summary editor (fields, the add/remove
buttons, the live meter), the card options, revoke and download forms, the
account's code forms, and the import, with any JSON, FHIR-shaped JSON and
hostile byte shapes. The import examples also check memory: tracemalloc's
peak for one import stays under 64 MB whatever is uploaded (issue 12).
"""

from __future__ import annotations

import json
import os
import time
import tracemalloc

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tagservice import create_app, keys
from tagservice.store.db import db, upgrade_database
from tagservice.summary import model as summary
from tests.helpers import FAST_ARGON2, csrf_from, fixture
from tests.portal_helpers import fields_of, issue, multipart, save, signup

LONG = os.environ.get("TAGSERVICE_LONG_TESTS") == "1"
FUZZ = dict(deadline=None, derandomize=not LONG, suppress_health_check=list(HealthCheck))
MB = 1024 * 1024

# Text a patient (or an attacker) might type: Unicode digits, controls, long, empty.
ODD_TEXT = st.one_of(
    st.text(max_size=60),
    st.text(alphabet="0123456789²³¹①１２３٣३-.:/ ", max_size=12),
    st.sampled_from(["", " ", "\x00", "9" * 40, "-1", "1e9", "NaN", "²", "２０３０-01-01"]),
    st.text(min_size=1500, max_size=2500),
)
SECTIONS = st.sampled_from([*summary.LIST_SECTIONS, "identity", "gp", "meta", "nope"])
ROW = st.one_of(st.integers(-2, 70).map(str), ODD_TEXT)
ACTIONS = st.one_of(
    st.sampled_from(["save", "add:allergies", "remove:allergies:0", "remove:contacts:1"]),
    st.builds(lambda k, s, r: f"{k}:{s}:{r}", st.sampled_from(["add", "remove", "x"]), SECTIONS,
              ROW),  # fmt: skip
    ODD_TEXT,
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | ODD_TEXT,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner,
                                                                max_size=5),
    max_leaves=30,
)  # fmt: skip
RESOURCE_TYPES = st.sampled_from(["Patient", "AllergyIntolerance", "MedicationStatement",
                                  "Condition", "Composition", "Observation", "Nope", ""])
FHIR = st.builds(
    lambda entries, extra: {"resourceType": "Bundle", "type": "document", "entry": entries,
                            **extra},
    st.lists(st.builds(lambda kind, body: {"resource": {"resourceType": kind, **body}},
                       RESOURCE_TYPES, st.dictionaries(st.text(max_size=12), JSON, max_size=4)),
             max_size=6),
    st.dictionaries(st.text(max_size=8), JSON, max_size=2),
)  # fmt: skip


def hostile(depth: int, width: int, inner: str) -> bytes:
    """Objects nested `depth` deep around a list of `width` copies of `inner`."""
    head = '{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient","extension":['
    body = '{"url":"x","extension":[' * depth + ",".join([inner] * width) + "]}" * depth
    return (head + body + "]}}]}").encode()[: 2 * MB]


HOSTILE = st.builds(hostile, st.integers(0, 400), st.integers(0, 300_000),
                    st.sampled_from(["0", "{}", "[]", '"x"', '{"url":"y"}']))  # fmt: skip


@pytest.fixture
def portal(settings):
    """A signed-in patient with a saved summary and a card; rate limits off for fuzzing."""
    app = create_app({"settings": settings.with_overrides(ratelimit_enabled=False),
                      "SECRET_KEY": "fuzz", "TESTING": True, "ARGON2_PARAMS": FAST_ARGON2})
    upgrade_database(app)
    keys.init_instance(settings)
    client = app.test_client()
    signup(client)
    save(client, fixture("summary-heavy.json"))
    assert issue(client).status_code == 302
    yield app, client, csrf_from(client.get("/my/card").text)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def assert_not_500(response, what: str) -> None:
    assert response.status_code < 500, f"{what} -> {response.status_code}: {response.text[:300]}"


EDITOR_NAMES = sorted(fields_of(fixture("summary-heavy.json")))


@settings(max_examples=150, **FUZZ)
@given(data=st.data(), action=ACTIONS)
def test_any_editor_post_never_gets_a_500(portal, data, action):
    _app, client, token = portal
    names = data.draw(st.lists(st.one_of(st.sampled_from(EDITOR_NAMES),
                                         st.builds(lambda s, r, f: f"{s}[{r}].{f}", SECTIONS, ROW,
                                                   st.text(max_size=10))),
                               max_size=12))  # fmt: skip
    form = {name: data.draw(ODD_TEXT) for name in names}
    for path in ("/my/summary", "/my/summary/meter"):
        response = client.post(path, data={"csrf_token": token, "action": action, **form})
        assert_not_500(response, f"POST {path} {action!r} {str(form)[:200]}")


@settings(max_examples=120, **FUZZ)
@given(critical=st.lists(st.one_of(ROW, ODD_TEXT), max_size=8),
       tag_id=ODD_TEXT, reason=st.one_of(st.sampled_from(["lost", "wrong", "other"]), ODD_TEXT),
       confirm=st.sampled_from(["yes", "", "no"]), layout=ODD_TEXT, side=ODD_TEXT,
       cursor=ODD_TEXT)  # fmt: skip
def test_any_card_form_or_query_never_gets_a_500(portal, critical, tag_id, reason, confirm,
                                                  layout, side, cursor):  # fmt: skip
    _app, client, token = portal
    posts = {
        "/my/card/options": {"critical": critical},
        "/my/card/revoke": {"tag_id": tag_id, "reason": reason, "confirm": confirm},
        "/my/account/totp/off": {"code": tag_id},
    }
    for path, form in posts.items():
        assert_not_500(client.post(path, data={"csrf_token": token, **form}), f"POST {path}")
    for query in (f"/my/card/card.png?layout={layout}&side={side}", f"/my/access?older={cursor}",
                  f"/my/access?newer={cursor}"):  # fmt: skip
        assert_not_500(client.get(query, query_string=None), f"GET {query[:200]!r}")


def upload(client, token, content: bytes):
    body, content_type = multipart({"csrf_token": token}, "upload.json", content)
    return client.post("/my/summary/import", data=body, content_type=content_type)


@settings(max_examples=150, **FUZZ)
@given(document=st.one_of(JSON, FHIR, FHIR))
def test_any_json_import_never_gets_a_500(portal, document):
    _app, client, token = portal
    response = upload(client, token, json.dumps(document).encode())
    assert_not_500(response, f"import {json.dumps(document)[:200]}")


@settings(max_examples=25, **FUZZ)
@given(content=st.one_of(HOSTILE, st.binary(max_size=2000)))
def test_hostile_imports_are_refused_quickly_with_bounded_memory(portal, content):
    _app, client, token = portal
    tracemalloc.start()
    started = time.process_time()  # CPU, not wall time: other load on the machine is not ours
    try:
        response = upload(client, token, content)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    elapsed = time.process_time() - started
    assert_not_500(response, f"import of {len(content)} hostile bytes")
    assert peak < 64 * MB, f"{peak / MB:.0f} MB for {content[:80]!r}"
    assert elapsed < 5, f"{elapsed:.1f} s CPU (traced) for {content[:80]!r}"


@settings(max_examples=60, **FUZZ)
@given(code=ODD_TEXT)
@example(code="１２３４５６")  # was a 500: \d matched it, compare_digest refused it
def test_any_code_when_turning_on_a_sign_in_code_never_gets_a_500(portal, code):
    _app, client, token = portal
    client.post("/my/account/totp", data={"csrf_token": token})
    response = client.post("/my/account/totp/confirm", data={"csrf_token": token, "code": code})
    assert_not_500(response, f"totp confirm {code!r}")
