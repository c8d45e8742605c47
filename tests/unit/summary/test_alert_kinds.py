"""Alert kinds on the summary are told apart without colour (issue 15, item 1)."""

from __future__ import annotations

import re

from tagservice.summary import alerts
from tests.helpers import fixture, sign_in, unlock_form


def test_targets_and_needs_are_outlined_and_named_not_red_like_dangers(client, app, tag_factory):
    url = tag_factory("summary-heavy.json")
    sign_in(client, app)
    page = unlock_form(client, url).text
    dangers = re.findall(r'<p class="alert-critical"><bdi>([^<]+)</bdi>', page)
    needs = re.findall(r'<p class="alert-need">Target or need: <bdi>([^<]+)</bdi>', page)
    assert dangers[0].startswith("ANAPHYLAXIS") and any("ANTICOAGULANT" in d for d in dangers)
    assert any(n.startswith("OXYGEN TARGET") for n in needs)
    assert not any("OXYGEN" in d for d in dangers)


def test_every_critical_line_keeps_its_place_and_gets_one_kind():
    summary = fixture("summary-heavy.json")
    by_kind = alerts.alert_lines_by_kind(summary)
    assert [line for line, _ in by_kind] == alerts.critical_alerts(summary)
    assert {kind for _, kind in by_kind} == {"danger", "need"}
