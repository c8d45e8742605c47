"""Tests for controls in the hazard log (docs/clinical-safety.md) that had none elsewhere.

Each test names the hazard it supports. The hazard log refers to these tests
by name and tests/safety/test_safety_case.py checks that every one still exists.
"""

from __future__ import annotations

import copy
import hashlib
import html
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from click.testing import CliRunner

from tagservice import audit, create_app, crypto, keys
from tagservice.store import tags
from tagservice.store.db import db
from tagservice.store.models import Clinician
from tagservice.summary import alerts, capacity
from tagservice.summary import display as summary_view
from tagservice.summary import model as summary_model
from tagservice.web import auth, dates
from tagservice.web.security import limiter
from tests.helpers import FIXTURES, csrf_from, fixture, path_of, sign_in, tag_id_of, unlock_form

# ------------------------------------------------------------------ helpers


def issue(app, settings, summary: dict, now: datetime, register: bool = True) -> str:
    """Seal `summary` as if issued at `now` (a parameter, so no clock is patched)."""
    keys.init_instance(settings)
    with app.app_context():
        keyset = keys.load_keyset(settings)
        tag = crypto.seal(summary, keyset, now)
        header = crypto.verify_tag(tag, keyset)
        if register:
            tags.register_tag(
                header.tag_id_hex, header.issuer_kid.hex(), header.reader_kid.hex(), now, None
            )
    return crypto.tag_url(settings.base_url, tag)


def readable(page: str) -> str:
    """The page's text as a person reads it: entities decoded, no-break spaces as spaces."""
    return html.unescape(page).replace("\u00a0", " ")


def critical_section(page: str) -> str:
    start = page.index('id="crit"')
    return page[start : page.index("</section>", start)]


# ------------------------------------------------------------------ H1 wrong patient


def test_a_header_moved_onto_another_cards_ciphertext_never_opens():
    """H1: a card's id cannot be paired with another patient's encrypted summary."""
    issuer, reader = crypto.generate_keys()
    keyset = crypto.KeySet.from_private(issuer, reader)
    now = datetime.now(UTC)
    card_a = crypto.seal(fixture("summary-typical.json"), keyset, now)
    card_b = crypto.seal(fixture("summary-heavy.json"), keyset, now)
    header_a, body_b = card_a[:19], card_b[19:-64]
    # Pasted together by anyone without the issuer key: the signature fails.
    with pytest.raises(crypto.BadSignature):
        crypto.open_tag(header_a + body_b + card_b[-64:], keyset, now)
    # Even signed with our own key (a bug in issuing), the header is bound into
    # the encryption, so B's summary never appears under A's tag id.
    spliced = header_a + body_b
    with pytest.raises(crypto.DecryptionFailed):
        crypto.open_tag(spliced + issuer.sign(spliced), keyset, now)


def test_each_card_opens_to_its_own_patient_with_identity_first(client, app, tag_factory):
    """H1: the page comes from the scanned card only, and starts with who it is about."""
    jane, zofia = tag_factory("summary-typical.json"), tag_factory("summary-heavy.json")
    sign_in(client, app)
    page_jane = readable(unlock_form(client, jane).text)
    page_zofia = readable(unlock_form(client, zofia).text)
    assert "Jane Smith" in page_jane and "Zofia" not in page_jane
    assert "Zofia Kowalczyk-Brown" in page_zofia and "Jane" not in page_zofia
    # Name, date of birth and NHS number come before any clinical content, to check
    # against the patient (or their wristband) before acting on anything below.
    for page, name, nhs in ((page_jane, "Jane Smith", "943 476 5919"),
                            (page_zofia, "Zofia Kowalczyk-Brown", "401 023 2137")):  # fmt: skip
        first_clinical = page.index('class="alert-critical"')
        assert page.index(name) < first_clinical
        assert page.index(nhs) < first_clinical
        assert page.index("born ") < first_clinical


# ------------------------------------------------------------------ H2 stale summary


def test_a_summary_past_its_review_date_opens_with_the_warning_first(client, app, settings):
    """H2: an old summary still opens (better than nothing) but says so above everything."""
    two_years_ago = datetime.now(UTC) - timedelta(days=730)
    summary = fixture("summary-typical.json")
    summary["meta"]["review"] = (two_years_ago + timedelta(days=365)).date().isoformat()
    url = issue(app, settings, summary, two_years_ago)
    sign_in(client, app)
    page = unlock_form(client, url).text
    assert "Past its review date" in page
    assert page.index("Past its review date") < page.index("Jane Smith")
    assert f"<dt>Issued</dt><dd>{dates.day(two_years_ago.date())}</dd>" in page


def test_the_api_carries_the_same_staleness_warnings(client, app, settings):
    """H2: a hospital system reading the API gets the warnings, not just the summary."""
    two_years_ago = datetime.now(UTC) - timedelta(days=730)
    summary = fixture("summary-typical.json")
    summary["meta"]["review"] = (two_years_ago + timedelta(days=365)).date().isoformat()
    url = issue(app, settings, summary, two_years_ago)
    cid = sign_in(client, app)
    with app.test_request_context():
        token, _ = auth.issue_api_token(db.session.get(Clinician, cid))
    body = client.post(
        "/api/v1/unlock",
        json={"tag": url, "reason": "999"},
        headers={"Authorization": f"Bearer {token}"},
    ).get_json()
    assert any("Past its review date" in w for w in body["warnings"])
    assert body["tag"]["issued"] == two_years_ago.date().isoformat()


# ------------------------------------------------------------------ H3 capacity


def test_dnacpr_and_every_anaphylaxis_allergy_are_critical_lines_at_the_top(
    client, app, tag_factory
):
    """H3: the items that change treatment most survive issuing and lead the page."""
    url = tag_factory("summary-heavy.json")
    sign_in(client, app)
    page = unlock_form(client, url).text
    critical = critical_section(page)
    for line in ("ANAPHYLAXIS: Penicillin", "DNACPR: Signed form in kitchen drawer",
                 "ANTICOAGULANT: Apixaban", "PACEMAKER: Medtronic, fitted 2021"):  # fmt: skip
        assert line in critical
    assert page.index('id="crit"') < page.index('id="allergies"')


def test_at_the_capacity_limit_a_summary_fits_whole_or_is_refused(settings):
    """H3: adding allergies one by one, every summary either opens complete or is refused."""
    issuer, reader = crypto.generate_keys()
    keyset = crypto.KeySet.from_private(issuer, reader)
    now = datetime.now(UTC)
    base = fixture("summary-typical.json")
    fitted = refused = 0
    for count in range(1, 20):
        summary = copy.deepcopy(base)
        for i in range(count):
            noise = hashlib.sha256(f"allergen {i}".encode()).hexdigest()[:40]
            summary["allergies"].append({"substance": f"X{noise}", "severity": "severe"})
        summary = summary_model.validate(summary)
        try:
            capacity.check_fits(summary, settings.base_url)
        except summary_model.SummaryError as e:
            refused += 1
            assert all(error.path for error in e.errors), "a refusal names what to shorten"
            continue
        fitted += 1
        opened = crypto.open_tag(crypto.seal(summary, keyset, now), keyset, now)
        assert opened.summary["allergies"] == summary["allergies"]
        assert "ANAPHYLAXIS: Penicillin" in alerts.critical_alerts(opened.summary)
    assert fitted and refused, "the loop must cross the limit to test it"


# ------------------------------------------------------------------ H4 revoked card


def test_a_revocation_is_seen_at_once_by_another_worker(app, settings, tag_url):
    """H4: no worker caches a card's status; revoking on one refuses on every other."""
    other = create_app({"settings": settings, "SECRET_KEY": "test-secret", "TESTING": True})
    scanner = other.test_client()
    sign_in(scanner, other)
    assert scanner.get(path_of(tag_url)).status_code == 200
    with app.app_context():
        tags.revoke_tag(tag_id_of(tag_url, settings), "card lost")
    refused = scanner.get(path_of(tag_url))
    assert refused.status_code == 410 and "cancelled" in refused.text
    with other.app_context():
        db.session.remove()


# ------------------------------------------------------------------ H5 service down


def test_when_the_access_cannot_be_recorded_the_page_says_to_use_the_printed_card(
    client, app, tag_url, monkeypatch
):
    """H5: nothing is shown, and the clinician is told what to do instead."""
    sign_in(client, app)
    page = client.get(path_of(tag_url))

    def failing(kind, **kw):
        raise audit.AuditWriteError("database unavailable")

    monkeypatch.setattr(audit, "record_event", failing)
    response = client.post(
        "/unlock",
        data={"csrf_token": csrf_from(page.text), "tag": path_of(tag_url)[3:], "reason": "999"},
    )
    assert response.status_code == 503
    assert "Use the card's printed information and treat as unknown" in response.text
    assert "Jane" not in response.text


def test_a_damaged_card_page_says_to_read_the_printed_card(client, tag_url):
    """H5: a card that will not scan points to the printed line and the usual protocol."""
    page = client.get(path_of(tag_url)[:-6] + "AAAAAA").text
    assert "Read what is printed on the card" in page
    assert "treat the patient as unknown" in page


def test_a_rate_limit_store_outage_does_not_stop_an_unlock(client, app, tag_url, monkeypatch):
    """H5: if Redis (shared rate-limit counts) fails, clinicians are not refused."""

    calls = []

    def unreachable(*_args, **_kwargs):
        calls.append(1)
        raise ConnectionError("rate-limit store unreachable")

    monkeypatch.setattr(limiter._limiter, "hit", unreachable)
    monkeypatch.setattr(limiter, "_storage_dead", False)
    sign_in(client, app)
    response = unlock_form(client, tag_url)
    assert response.status_code == 200 and "Jane Smith" in response.text
    assert calls, "the unlock's rate limit must have tried the broken store"


# ------------------------------------------------------------------ H6 misreading


def test_nothing_recorded_is_never_shown_as_no_known_allergies(client, app, tag_factory):
    """H6: an empty allergy list and a stated 'no known allergies' look different."""
    sign_in(client, app)
    unknown = unlock_form(client, tag_factory("summary-minimal.json")).text
    stated = unlock_form(client, tag_factory("summary-no-known-allergies.json")).text
    assert 'None recorded (not the same as "no known allergies")' in readable(unknown)
    assert "No known allergies." not in unknown
    assert "No known allergies." in stated


def test_the_summary_page_is_laid_out_for_a_phone(client, app, tag_url):
    """H6: sized to the screen, NHS number in 3-3-4 groups, age worked out, links to dial."""
    sign_in(client, app)
    page = readable(unlock_form(client, tag_url).text)
    assert 'name="viewport" content="width=device-width' in page
    assert "NHS 943 476 5919" in page
    age = summary_view.age_on(date(1956, 3, 14), date.today())
    assert re.search(rf"\b{age} (y|years) · Female · born 14 Mar 1956", page)
    assert 'href="tel:07700900123"' in page


# ------------------------------------------------------------------ H7 NHS number


def typos(number: str):
    """Every single-digit substitution and every swap of two neighbouring digits."""
    for i, digit in enumerate(number):
        for other in "0123456789":
            if other != digit:
                yield number[:i] + other + number[i + 1 :]
    for i in range(len(number) - 1):
        if number[i] != number[i + 1]:
            yield number[:i] + number[i + 1] + number[i] + number[i + 2 :]


@pytest.mark.parametrize("number", ["9434765919", "4010232137", "9991234578"])
def test_every_single_digit_typo_and_neighbour_swap_of_an_nhs_number_is_refused(number):
    """H7: the Modulus 11 check catches the usual ways a number is mistyped."""
    assert summary_model.nhs_number_is_valid(number)
    mistakes = list(typos(number))
    assert len(mistakes) > 90
    accepted = [m for m in mistakes if summary_model.nhs_number_is_valid(m)]
    assert accepted == []


# ------------------------------------------------------------------ H8 FHIR import


def test_issuing_from_fhir_prints_what_the_import_left_out(tmp_path, monkeypatch):
    """H8: whoever issues from a GP record is told what did not make it onto the card."""
    # The UK example holds an immunization and a resolved condition, neither of which
    # belongs on an emergency card.
    source = FIXTURES / "fhir" / "uk-patient.json"
    monkeypatch.setenv("TAGSERVICE_HOME", str(tmp_path / "instance"))
    monkeypatch.setenv("TAGSERVICE_ENV", "development")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    from tagservice.cli import main

    runner = CliRunner()
    assert runner.invoke(main, ["init"]).exit_code == 0
    result = runner.invoke(main, ["issue", str(source), "--out", str(tmp_path / "t.txt")])
    assert result.exit_code == 0, result.output
    assert "note: Skipped 1 immunization" in result.stderr
    assert "note: Skipped 1 condition that is no longer active" in result.stderr
    assert "Thompson" not in result.output, "notes give positions and counts, not patient data"


# ------------------------------------------------------------------ H9 clock skew


def test_a_card_issued_by_a_fast_clock_still_opens_with_a_clock_warning(client, app, settings):
    """H9: a wrong clock at issue must not lock the card; the page says dates are suspect."""
    tomorrow = datetime.now(UTC) + timedelta(days=2)
    url = issue(app, settings, fixture("summary-typical.json"), tomorrow)
    sign_in(client, app)
    response = unlock_form(client, url)
    assert response.status_code == 200 and "Jane Smith" in response.text
    assert "a clock is wrong" in response.text


# ------------------------------------------------------------------ H10 key compromise


def test_after_a_key_is_retired_its_cards_are_refused_and_new_cards_open(
    client, app, settings, tag_url
):
    """H10: retiring a compromised key stops its cards at once; reissued cards work."""
    with app.app_context():
        kek = keys.load_kek(settings)
        keyring = keys.load_keyring(settings)
        old = keyring.newest(keys.ISSUER).kid
        keyring, _new = keyring.add(keys.ISSUER, kek, datetime.now(UTC))
        keyring = keyring.retire(old, datetime.now(UTC))
        keys.save_keyring(settings, keyring)
        assert tags.expire_tags_for_key(old) == 1
    sign_in(client, app)
    refused = client.get(path_of(tag_url))
    assert refused.status_code == 400
    assert "retired" in refused.text and "new card" in refused.text
    reissued = issue(app, settings, fixture("summary-typical.json"), datetime.now(UTC))
    assert unlock_form(client, reissued).status_code == 200


# ------------------------------------------------------------------ H13 provenance


def test_the_page_says_whether_a_clinician_checked_the_summary(client, app, tag_factory):
    """H13: self-reported facts are labelled so, and verified ones name the verifier."""
    sign_in(client, app)
    self_reported = unlock_form(client, tag_factory("summary-typical.json")).text
    verified = unlock_form(client, tag_factory("summary-heavy.json")).text
    assert "not checked by a clinician" in self_reported
    assert "Checked by a clinician" in verified and "Dr A Patel, GMC 7123456" in verified


# ------------------------------------------------------------------ H14 restore


def test_a_card_missing_from_the_register_opens_with_a_warning(client, app, settings):
    """H14: a card issued after the last backup still opens after a restore, flagged."""
    url = issue(app, settings, fixture("summary-typical.json"), datetime.now(UTC), register=False)
    sign_in(client, app)
    response = unlock_form(client, url)
    assert response.status_code == 200
    assert "not in the service's register" in readable(response.text)


def test_an_unverified_summary_says_so_above_the_red_lines(client, app, tag_factory):
    """H13: "Patient-entered — not checked by a clinician" comes before any critical line."""
    sign_in(client, app)
    self_reported = unlock_form(client, tag_factory("summary-typical.json")).text
    verified = unlock_form(client, tag_factory("summary-heavy.json")).text
    banner = self_reported.index("Patient-entered — not checked by a clinician")
    assert banner < self_reported.index('class="alert-critical"')
    assert "Patient-entered" not in verified
