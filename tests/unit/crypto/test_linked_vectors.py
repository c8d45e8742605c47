"""Format v2 test vectors (tests/vectors/linked.json, docs/tag-format.md section 9.7)."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from tagservice import crypto, linked
from tests.paths import VECTORS as VECTORS_DIR
from tests.vectors import make_linked_vectors
from tests.vectors.make_vectors import keyset, load

VECTORS = json.loads((VECTORS_DIR / "linked.json").read_text())


def _ids(cases):
    return [case["desc"] for case in cases]


@pytest.mark.parametrize("case", VECTORS["issue"], ids=_ids(VECTORS["issue"]))
def test_issuing_reproduces_the_published_bytes(case):
    card_key, now = bytes.fromhex(case["card_key"]), datetime.fromisoformat(case["now"])
    record = linked._seal(load(case["summary_file"]), card_key, keyset(), now,
                          case["revision"], nonce=bytes.fromhex(case["nonce"]))
    assert record.body.hex() == case["record"]
    assert record.signature.hex() == case["signature"]
    assert linked.tag_url(make_linked_vectors.BASE_URL, card_key) == case["url"]
    assert linked.tag_id_of(card_key).hex() == case["tag_id"]


@pytest.mark.parametrize("case", VECTORS["issue"], ids=_ids(VECTORS["issue"]))
def test_verifying_a_published_record_gives_the_published_summary(case):
    card_key = linked.decode_payload(case["url_26_character_host"])
    assert card_key.hex() == case["card_key"]
    record = linked.SealedRecord(bytes.fromhex(case["record"]), bytes.fromhex(case["signature"]))
    opened = linked.open_record(record, card_key, keyset(), datetime.fromisoformat(case["now"]))
    assert opened.summary == case["summary"]
    assert opened.header.revision == case["revision"]


@pytest.mark.parametrize("case", VECTORS["invalid_payload"], ids=_ids(VECTORS["invalid_payload"]))
def test_each_invalid_payload_is_refused_with_its_reason(case):
    with pytest.raises(getattr(crypto, case["error"])):
        linked.decode_payload(case["text"])


@pytest.mark.parametrize("case", VECTORS["invalid_record"], ids=_ids(VECTORS["invalid_record"]))
def test_each_invalid_record_is_refused_with_its_reason(case):
    record = linked.SealedRecord(bytes.fromhex(case["record"]), bytes.fromhex(case["signature"]))
    with pytest.raises(getattr(crypto, case["error"])):
        linked.open_record(record, bytes.fromhex(case["card_key"]), keyset(),
                           datetime.fromisoformat(case["now"]))


def test_the_generator_still_writes_exactly_the_published_file(tmp_path, monkeypatch):
    monkeypatch.setattr(make_linked_vectors, "OUT", tmp_path / "linked.json")
    make_linked_vectors.main()
    assert json.loads((tmp_path / "linked.json").read_text()) == VECTORS
