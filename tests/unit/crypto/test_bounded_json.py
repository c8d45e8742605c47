"""Every JSON the service reads is bounded before it is built (boundedjson.py).

The finding (issue 12): a 565 KB portal upload, objects nested 280 deep around a
list of 280,000 zeros, held a worker at 4.7 GB for 16 s, and 60 KB of "[" sent
to the API answered 500.
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import time
import tracemalloc
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pyotp
import pytest
from click.testing import CliRunner
from flask import request
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.exceptions import RequestEntityTooLarge

from tagservice import boundedjson
from tagservice.accounts import clinicians
from tagservice.boundedjson import TooLarge
from tagservice.cli import main
from tests.paths import FIXTURES
from tests.portal_helpers import (
    PASSWORD,
    multipart,
    patient_fixture,  # noqa: F401 (the fixture `patient`)
    portal_fixture,  # noqa: F401 (the fixture `portal`)
    signup,
    upload,
    upload_large,
)
from tests.robustness.served import gunicorn, make_instance, worker_pids

ITEMS = f"{boundedjson.IMPORT.max_items:,}"
SMALL = boundedjson.Limits(max_bytes=4096, max_depth=4, max_items=50, max_string=20)
MB = 1024 * 1024


def hostile_bundle(depth: int = 280, zeros: int = 280_000) -> bytes:
    """The reviewer's upload: a valid-looking Bundle, nested extensions, then many zeros."""
    head = '{"resourceType":"Bundle","type":"document","entry":[{"resource":' \
           '{"resourceType":"Patient","extension":['  # fmt: skip
    nested = '{"url":"x","extension":[' * depth + ",".join(["0"] * zeros) + "]}" * depth
    return (head + nested + "]}}]}").encode()


# --- the reader ----------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=4),
    max_leaves=20,
)  # fmt: skip


@given(json_values)
@settings(max_examples=200, deadline=None)
def test_json_within_the_bounds_reads_exactly_as_the_standard_library_reads_it(value):
    text = json.dumps(value)
    assert boundedjson.loads(text, boundedjson.API) == json.loads(text)
    assert boundedjson.loads(text.encode("utf-16"), boundedjson.API) == json.loads(text)


@pytest.mark.parametrize(
    "text, bound",
    [
        ("[" + "0," * 60 + "0]", "more than 50 values"),
        ('{"a":[[[[1]]]]}', "nested more than 4 levels deep"),
        ('["' + "x" * 21 + '"]', "a text longer than 20 characters"),
        ("[" + " " * 5000 + "]", "larger than 4 KB"),
    ],
)
def test_each_bound_is_refused_with_a_message_that_names_it(text, bound):
    with pytest.raises(TooLarge, match=bound):
        boundedjson.loads(text, SMALL)


def test_brackets_commas_and_escaped_quotes_inside_strings_are_not_structure():
    text = json.dumps({"note": '[[[[[{{{{,,,,,\\"[[[[', "b": "\\\\"})
    assert boundedjson.loads(text, SMALL) == json.loads(text)


def test_a_bound_is_not_a_value_error_so_silent_json_reading_cannot_hide_it():
    assert not issubclass(TooLarge, ValueError)
    with pytest.raises(ValueError):
        boundedjson.loads("[1,", SMALL)


@pytest.mark.parametrize(
    "shape",
    [
        b"[" * (2 * MB),  # the 500 of the review, at the largest upload
        b'"\\' * MB,  # escapes that never close
        b'["' + b'\\"' * (MB - 4) + b'"]',  # one string of escaped quotes
        b"[" + b'"a",' * (MB // 2 - 1) + b"0]",  # many strings
        b"[" + b"[]," * (2 * MB // 3 - 1) + b"0]",  # many containers
        b"1" * (2 * MB),  # a number too long to convert
    ],
)
def test_hostile_shapes_at_the_upload_limit_are_refused_in_well_under_a_second(shape):
    # CPU time of this process: what the refusal costs, whatever else the machine runs
    started = time.process_time()
    with pytest.raises((TooLarge, ValueError)):
        boundedjson.loads(shape[: 2 * MB], boundedjson.IMPORT)
    assert time.process_time() - started < 0.5


def test_the_public_ips_examples_are_within_the_import_bounds():
    shared = Path("/work/shared/fixtures/fhir-ips")
    files = [*sorted(shared.glob("*.json")), *FIXTURES.glob("fhir/*.json")]
    for path in files:
        assert boundedjson.read_file(path) == json.loads(path.read_text()), path


# --- the API --------------------------------------------------------------------------


@pytest.fixture
def bearer(app, client, tag_factory) -> dict:
    """The Authorization header of a signed-in paramedic's API session."""
    with app.app_context():
        _, password, uri = clinicians.add_clinician(
            "para@example.nhs.uk", "Pat Medic", "paramedic", "HCPC", "PA12345", "Example"
        )
    body = {"email": "para@example.nhs.uk", "password": password,
            "totp": pyotp.parse_uri(uri).now()}  # fmt: skip
    return {"Authorization": "Bearer " + client.post("/api/v1/session", json=body).json["token"]}


@pytest.mark.parametrize("path", ["/api/v1/unlock", "/api/v1/session"])
def test_sixty_kilobytes_of_brackets_to_the_api_is_a_413_in_the_usual_shape(client, bearer, path):
    response = client.post(path, data="[" * 60_000, content_type="application/json",
                           headers=bearer)  # fmt: skip
    assert response.status_code == 413
    assert response.json["error"] == "request_entity_too_large"
    assert response.json["message"] == "Refused: the JSON holds more than 2,000 values."


def test_every_request_get_json_is_bounded_even_when_silent(app):
    # Passkey and sign-in views read JSON with get_json(silent=True): it must not hide a bound.
    body = '{"a":' * 100 + "0" + "}" * 100
    with app.test_request_context("/", method="POST", data=body, content_type="application/json"):
        with pytest.raises(RequestEntityTooLarge, match="nested more than 16 levels deep"):
            request.get_json(silent=True)


# --- the portal import ------------------------------------------------------------------


def test_the_reviewers_upload_is_refused_fast_with_little_memory_and_the_draft_kept(patient):
    before = patient.get("/my/summary").text
    tracemalloc.start()
    started = time.process_time()
    response = upload_large(patient, hostile_bundle())
    elapsed = time.process_time() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert response.status_code == 413
    assert f"That file cannot be imported: the JSON holds more than {ITEMS} values" in response.text
    assert elapsed < 1.0 and peak < 50 * MB, (elapsed, peak)
    assert patient.get("/my/summary").text.count("value=") == before.count("value=")


def test_a_bundle_nested_deeper_than_fhir_needs_is_refused(patient):
    deep = '{"resourceType":"Bundle","entry":' + "[" * 40 + "]" * 40 + "}"
    response = upload(patient, deep.encode())
    assert response.status_code == 413 and "nested more than 20 levels deep" in response.text


def test_imports_are_rate_limited_per_account(patient):
    statuses = [upload(patient, b"{}").status_code for _ in range(11)]
    assert statuses[:10] == [400] * 10 and statuses[10] == 429


def test_imports_are_rate_limited_per_client_across_accounts(portal):
    # Three accounts on one client address, seven imports each: the 21st is refused.
    statuses = []
    for n in range(3):
        client = portal.test_client()
        signup(client, email=f"pat{n}@example.com")
        statuses += [upload(client, b"{}").status_code for _ in range(7)]
    assert statuses[:20] == [400] * 20 and statuses[20] == 429


# --- the command line --------------------------------------------------------------------


def test_tagservice_issue_and_capacity_refuse_a_hostile_file_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("TAGSERVICE_HOME", str(tmp_path / "instance"))
    monkeypatch.setenv("TAGSERVICE_ENV", "development")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert CliRunner().invoke(main, ["init"]).exit_code == 0
    path = tmp_path / "bundle.json"
    path.write_bytes(hostile_bundle())
    started = time.process_time()
    for command in (["issue", str(path), "--out", str(tmp_path / "tag.txt")],
                    ["capacity", str(path)]):  # fmt: skip
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 2, result.output
        assert f"cannot be read: the JSON holds more than {ITEMS} values" in result.output
    assert time.process_time() - started < 2.0


# --- a real gunicorn worker ---------------------------------------------------------------


def _peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


def test_a_gunicorn_worker_refuses_the_upload_in_under_a_second_below_400_mb(tmp_path):
    # Given a real instance served by one gunicorn worker and a signed-in patient
    inst = make_instance(tmp_path / "instance")
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )

    def csrf(path: str) -> str:
        with opener.open(inst.base + path, timeout=10) as page:  # noqa: S310 (loopback)
            return re.search(r'name="csrf_token" value="([^"]+)"', page.read().decode()).group(1)

    with gunicorn(inst, tmp_path / "gunicorn.log", workers=1) as master:
        form = {"csrf_token": csrf("/my/signup"), "email": "pat@example.com",
                "password": PASSWORD, "confirm": PASSWORD}  # fmt: skip
        data = urllib.parse.urlencode(form).encode()
        opener.open(inst.base + "/my/signup", data=data, timeout=30).close()
        form = {"csrf_token": csrf("/my/signin"), "email": "pat@example.com",
                "password": PASSWORD, "code": ""}  # fmt: skip
        data = urllib.parse.urlencode(form).encode()
        opener.open(inst.base + "/my/signin", data=data, timeout=30).close()
        # When the reviewer's upload is sent
        body, content_type = multipart({"csrf_token": csrf("/my/summary")}, "b.json",
                                       hostile_bundle())  # fmt: skip
        request = urllib.request.Request(  # noqa: S310 (loopback)
            inst.base + "/my/summary/import", data=body, headers={"Content-Type": content_type}
        )
        started = time.perf_counter()
        with pytest.raises(urllib.error.HTTPError) as refused:
            opener.open(request, timeout=30)  # noqa: S310 (loopback)
        elapsed = time.perf_counter() - started
        (worker,) = worker_pids(master)
        peak = _peak_rss_mb(worker)
    # Then it is refused with a 413 page, quickly, and the worker never grew past 400 MB
    assert refused.value.code == 413
    assert f"more than {ITEMS} values" in refused.value.read().decode()
    assert elapsed < 1.0, elapsed
    assert peak < 400, peak
    print(f"hostile upload: {elapsed:.3f} s, worker peak RSS {peak:.0f} MB")
