"""The capacity meter: exact tag size, QR version, refusal naming what to shorten."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

import cards
from tagservice import crypto, tag_digits
from tagservice.summary import capacity
from tagservice.summary import model as summary
from tests.paths import FIXTURES
from tests.vectors.make_vectors import keyset

BASE = "http://127.0.0.1:8000"


def load(name):
    return summary.validate(json.loads((FIXTURES / name).read_text()))


@pytest.mark.parametrize("name", ["summary-typical.json", "summary-heavy.json"])
def test_meter_predicts_the_exact_size_and_qr_version_of_the_real_tag(name):
    data = load(name)
    tag = crypto.seal(data, keyset(), datetime(2026, 11, 1, tzinfo=UTC))  # same issued date
    meter = capacity.measure(data, BASE)
    assert meter.tag_bytes == len(tag)
    url = tag_digits.tag_url(BASE, tag)  # the printed URL: alphanumeric prefix, numeric digits
    assert meter.qr_version == cards.make_qr(url, "m").version


def test_cap_is_the_largest_tag_that_fits_qr_version_20_at_m():
    cap = capacity.max_tag_bytes(BASE)
    assert capacity.printed_qr_version(BASE, cap, "m") == 20
    assert capacity.printed_qr_version(BASE, cap + 1, "m") in (None, 21)


def test_typical_summary_fits_version_10_and_heavy_version_16():
    assert capacity.measure(load("summary-typical.json"), BASE).qr_version <= 10
    assert capacity.measure(load("summary-heavy.json"), BASE).qr_version <= 16


def test_over_capacity_names_the_costliest_fields_largest_first():
    data = load("summary-heavy.json")
    data["medications"] = [
        {"name": f"Compound {n} lot {n * 7919 % 10007:05d} site {n * 104729 % 99991:05d}",
         "dose": f"{n}.5 mg"} for n in range(30)
    ]
    data = summary.validate(data)
    meter = capacity.measure(data, BASE)
    assert not meter.fits and meter.percent > 100
    savings = [saved for _path, saved in meter.shorten]
    assert savings == sorted(savings, reverse=True) and savings[0] > 0
    with pytest.raises(summary.SummaryError) as caught:
        capacity.check_fits(data, BASE)
    assert [e.path for e in caught.value.errors] == [p for p, _ in meter.shorten]


def test_a_longer_base_url_leaves_less_room():
    assert capacity.max_tag_bytes("https://a-much-longer-host-name.example.nhs.uk") < (
        capacity.max_tag_bytes(BASE)
    )
