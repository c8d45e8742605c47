"""Regenerate tests/vectors/linked.json: format v2 vectors (docs/tag-format.md section 9.7).

Run: .venv/bin/python -m tests.vectors.make_linked_vectors
The keys are the fixed test keys of make_vectors.py; card keys and nonces are fixed
here, and Ed25519 and AES-GCM are deterministic, so every run writes the same bytes.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from tagservice import linked
from tests.vectors.make_vectors import BASE_URL, NOW, keyset, load

HERE = Path(__file__).parent
OUT = HERE / "linked.json"
HOST_26 = "https://tag.example.nhs.uk"
MAX = str(2**128 - 1)


def issue_vectors(now: datetime) -> list[dict]:
    out = []
    cases = [
        ("summary-typical.json", bytes(range(16)), 1),
        ("summary-heavy.json", b"\xff" * 16, 7),
        ("summary-unicode.json", bytes(16), 1),
    ]
    for n, (name, card_key, revision) in enumerate(cases):
        nonce = bytes([n + 1]) * linked.NONCE_BYTES
        record = linked._seal(load(name), card_key, keyset(), now, revision, nonce=nonce)
        opened = linked.open_record(record, card_key, keyset(), now)
        out.append({
            "desc": f"issue {name}, revision {revision}",
            "summary_file": name,
            "now": NOW,
            "card_key": card_key.hex(),
            "nonce": nonce.hex(),
            "revision": revision,
            "url": linked.tag_url(BASE_URL, card_key),
            "url_26_character_host": linked.tag_url(HOST_26, card_key),
            "tag_id": linked.tag_id_of(card_key).hex(),
            "record": record.body.hex(),
            "signature": record.signature.hex(),
            "summary": opened.summary,
        })
    return out


def invalid_payload_vectors() -> list[dict]:
    return [
        {"desc": "38 digits: truncated", "text": MAX[:-1], "error": "TruncatedTag"},
        {"desc": "40 digits: a second spelling", "text": "0" + MAX, "error": "MalformedTag"},
        {"desc": "2**128: past the byte length", "text": str(2**128).zfill(39),
         "error": "MalformedTag"},
        {"desc": "an Arabic-Indic digit", "text": "\u0663" + MAX[1:], "error": "MalformedTag"},
        {"desc": "a full-width digit", "text": "\uff13" + MAX[1:], "error": "MalformedTag"},
        {"desc": "two /L/ marks", "text": f"HTTPS://H/L/1/L/{MAX}", "error": "MalformedTag"},
        {"desc": "the mark in a query", "text": f"HTTPS://H/?next=/L/{MAX}",
         "error": "MalformedTag"},
        {"desc": "a query after the key", "text": f"HTTPS://H/L/{MAX}?a=1",
         "error": "MalformedTag"},
    ]  # fmt: skip


def invalid_record_vectors(now: datetime) -> list[dict]:
    card_key = bytes(range(16))
    good = linked._seal(load("summary-typical.json"), card_key, keyset(), now, 1,
                        nonce=bytes(12))
    other = linked._seal(load("summary-typical.json"), bytes(16), keyset(), now, 1,
                         nonce=bytes(12))
    bumped = bytearray(good.body)
    bumped[linked.HEADER_BYTES - 1] ^= 1
    flipped = bytearray(good.body)
    flipped[-1] ^= 1
    resigned_other_reader = linked._seal(
        load("summary-typical.json"), card_key, keyset(reader="other_reader"), now, 1,
        nonce=bytes(12))
    cases = [
        ("the revision changed after signing", bytes(bumped), good.signature, "BadSignature"),
        ("a ciphertext bit flipped", bytes(flipped), good.signature, "BadSignature"),
        ("another card's signed record in this card's row", other.body, other.signature,
         "BadSignature"),
        ("sealed with the secret of a reader key this service does not have",
         resigned_other_reader.body,
         resigned_other_reader.signature, "UnknownKey"),
    ]
    return [
        {"desc": desc, "card_key": card_key.hex(), "record": body.hex(),
         "signature": sig.hex(), "now": NOW, "error": error}
        for desc, body, sig, error in cases
    ]  # fmt: skip


def main() -> None:
    now = datetime.fromisoformat(NOW)
    data = {
        "issue": issue_vectors(now),
        "invalid_payload": invalid_payload_vectors(),
        "invalid_record": invalid_record_vectors(now),
    }
    OUT.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
