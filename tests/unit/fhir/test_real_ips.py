"""Real public patient summaries (issue 13): each becomes a card with its critical facts, or
is refused cleanly; none crashes.

The bundles are listed in tests/fixtures/real-ips/SOURCES.md (they live in
shared/fixtures/real-ips, or in a local copy) plus the IPS examples in
shared/fixtures/fhir-ips; a test whose bundles are absent is skipped. Each bundle
goes through the real `tagservice issue BUNDLE --out tag.txt` (tests/real_ips.py)
and the card is judged by an independent oracle (tests/real_ips_oracle.py).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

from tests import real_ips, real_ips_oracle

# Refused by a rule, not by a fault of the importer: a card cannot say who it belongs to
# without a name or a date of birth. Each such refusal must give this reason.
REFUSED_BY_RULE = {
    "ipsviewer-br-may2024-connectathon.json": "name",
}
MIN_BUNDLES_FOR_SHARE = 40
TARGET_SHARE = 0.95

BUNDLES = real_ips.bundle_paths()


@cache
def facts_in(path: Path) -> real_ips_oracle.SourceFacts:
    return real_ips_oracle.source_facts(json.loads(path.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def issued():
    """bundle path -> Outcome, each bundle issued once on one temporary instance."""
    outcomes: dict[Path, real_ips.Outcome] = {}
    with real_ips.instance() as inst:

        def outcome(path: Path) -> real_ips.Outcome:
            if path not in outcomes:
                outcomes[path] = inst.issue(path)
            return outcomes[path]

        yield outcome


@pytest.mark.parametrize("bundle", BUNDLES, ids=lambda p: p.stem)
def test_bundle_is_issued_or_refused_cleanly_never_a_crash(issued, bundle):
    outcome = issued(bundle)
    assert not outcome.crashed, f"{bundle.name}: {outcome.reason}"
    assert outcome.issued or outcome.reason, "a refusal says why in one line"
    assert "\n" not in outcome.reason


@pytest.mark.parametrize("bundle", BUNDLES, ids=lambda p: p.stem)
def test_bundle_becomes_a_card(issued, bundle):
    outcome = issued(bundle)
    if bundle.name in REFUSED_BY_RULE:
        assert not outcome.issued and REFUSED_BY_RULE[bundle.name] in outcome.reason
        return
    assert outcome.issued, f"refused: {outcome.reason}"
    assert outcome.qr_version is not None


@pytest.mark.parametrize("bundle", [p for p in BUNDLES if facts_in(p).facts], ids=lambda p: p.stem)
def test_every_critical_fact_of_the_bundle_is_on_its_card(issued, bundle):
    outcome = issued(bundle)
    facts = real_ips_oracle.check_card(facts_in(bundle), outcome.card)
    missing = [f"{f.kind} {f.label}: {f.why_missing}" for f in facts.facts if not f.on_card]
    assert not missing


def test_at_least_95_percent_of_real_bundles_become_a_card(issued):
    if len(BUNDLES) < MIN_BUNDLES_FOR_SHARE:
        pytest.skip("the collected real bundles are not here (tests/fixtures/real-ips/SOURCES.md)")
    cards = sum(issued(path).issued for path in BUNDLES)
    assert cards / len(BUNDLES) >= TARGET_SHARE, f"{cards} of {len(BUNDLES)} became a card"


def test_a_file_that_is_not_a_bundle_counts_as_refused_not_as_a_crash(tmp_path):
    # the harness itself: the command's own refusal is told apart from a crash
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with real_ips.instance() as inst:
        outcome = inst.issue(broken)
    assert not outcome.issued and not outcome.crashed
    assert "not valid JSON" in outcome.reason
