"""Regenerate tests/vectors/{issue,verify,invalid}.json (docs/tag-format.md section 8).

Run: .venv/bin/python -m tests.vectors.make_vectors
The keys are fixed test keys, and HPKE is sealed with an ephemeral key fixed by
its inputs (tests/vectors/hpke_ref.py), so every run writes the same bytes.
A vector once published is never rewritten: the script keeps each vector already
in a file whose `desc` it still makes, byte for byte (the first ones were sealed
with random ephemeral keys), and adds only new ones; a published vector it no
longer makes stops it with an error.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import cbor2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from tagservice import crypto
from tagservice.summary import compact
from tagservice.summary import model as summary
from tests.vectors import hpke_ref

HERE = Path(__file__).parent
FIXTURES = HERE.parent / "fixtures"
BASE_URL = "http://127.0.0.1:8000"
NOW = "2026-11-27T09:30:00+00:00"
KEYS = {
    "issuer": "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    "reader": "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
    "other_issuer": "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
    "other_reader": "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
}


def keyset(issuer="issuer", reader="reader") -> crypto.KeySet:
    return crypto.KeySet.from_private(
        Ed25519PrivateKey.from_private_bytes(bytes.fromhex(KEYS[issuer])),
        X25519PrivateKey.from_private_bytes(bytes.fromhex(KEYS[reader])),
    )


# X25519 points that a Diffie-Hellman exchange must refuse (RFC 7748 section 6.1):
# u-coordinates of small order, and non-canonical spellings of them, as `enc`.
_P = 2**255 - 19
LOW_ORDER_POINTS = {
    "the all-zero point": 0,
    "the point 1 (order 1)": 1,
    "a point of order 8": int.from_bytes(bytes.fromhex(
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"), "little"),
    "the other point of order 8": int.from_bytes(bytes.fromhex(
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"), "little"),
    "p - 1 (order 2)": _P - 1,
    "p, a second spelling of 0": _P,
    "p + 1, a second spelling of 1": _P + 1,
    "0 with the ignored top bit set": 2**255,
}  # fmt: skip
# The order of the Ed25519 base point (RFC 8032 section 5.1): S and S + L verify alike
# under a lax verifier, so a strict one must refuse S >= L.
ED25519_L = 2**252 + 27742317777372353535851937790883648493


@contextmanager
def deterministic_hpke() -> Iterator[None]:
    """Seal with ephemeral keys fixed by their inputs while the vectors are made."""
    real = crypto._SUITE
    crypto._SUITE = hpke_ref.DeterministicSuite(real)
    try:
        yield
    finally:
        crypto._SUITE = real


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def issue_vectors(now: datetime) -> list[dict]:
    out = []
    for n, name in enumerate(["summary-typical.json", "summary-heavy.json"]):
        tag_id = bytes([n + 1]) * 8
        tag = crypto._seal(load(name), keyset(), now, tag_id=tag_id)
        data = summary.validate({**load(name), "meta": {**load(name)["meta"],
                                                         "issued": now.date().isoformat()}})
        plaintext, flags, dict_id = crypto.compress(compact.encode(data))
        out.append({
            "desc": f"issue {name}",
            "summary_file": name,
            "now": NOW,
            "tag_id": tag_id.hex(),
            "header": tag[: crypto.HEADER_BYTES].hex(),
            "plaintext": plaintext.hex(),
            "tag_length": len(tag),
        })
    return out


def verify_vectors(now: datetime) -> list[dict]:
    out = []
    for name in ["summary-typical.json", "summary-heavy.json"]:
        tag = crypto._seal(load(name), keyset(), now, tag_id=bytes(range(8)))
        opened = crypto.open_tag(tag, keyset(), now)
        out.append({
            "desc": f"verify {name}",
            "tag": crypto.tag_url(BASE_URL, tag),
            "now": NOW,
            "summary": opened.summary,
            "tag_id": opened.header.tag_id_hex,
        })
    return out


def _signed(header: crypto.Header, plaintext: bytes, keys=None) -> bytes:
    return crypto._assemble(header, plaintext, keys or keyset())


def invalid_vectors(now: datetime) -> list[dict]:
    good = crypto._seal(load("summary-typical.json"), keyset(), now, tag_id=bytes(8))
    ks = keyset()
    issuer_kid, reader_kid = ks.signing[0], ks.sealing[0]
    encoded = compact.encode(crypto.open_tag(good, ks, now).summary)
    plaintext, flags, dict_id = crypto.compress(encoded)
    current = compact.CURRENT_DICT_ID

    def header(**changes):
        fields = dict(version=1, flags=flags, issuer_kid=issuer_kid, reader_kid=reader_kid,
                      tag_id=bytes(8), dict_id=dict_id)
        fields.update(changes)
        return crypto.Header(**fields)

    def deflated(**changes):
        return header(**({"flags": 1, "dict_id": current} | changes))

    def deflate(data: bytes) -> bytes:
        d = zlib.compressobj(9, zlib.DEFLATED, -15, zdict=compact.DICTIONARIES[current])
        return d.compress(data) + d.flush()

    url = crypto.tag_url(BASE_URL, good)
    payload = crypto.encode_payload(good)
    flipped_sig = good[:-1] + bytes([good[-1] ^ 0x01])
    cases = [
        ("empty text", "", "MalformedTag"),
        ("not base32 (contains 1 and 8)", "AB18" * 40, "MalformedTag"),
        ("base32 with padding", payload + "=" * (-len(payload) % 8 or 8), "MalformedTag"),
        ("whitespace inside", payload[:20] + " " + payload[20:], "MalformedTag"),
        ("non-canonical last symbol (padding bits set)", payload[:-1] + "7", "MalformedTag"),
        ("far too long", "A" * 5000, "MalformedTag"),
        ("truncated to the header", crypto.encode_payload(good[:19]), "TruncatedTag"),
        ("one byte short of the minimum", crypto.encode_payload(good[:131]), "TruncatedTag"),
        ("version 2", crypto.encode_payload(b"\x02" + good[1:]), "UnsupportedVersion"),
        ("version 0", crypto.encode_payload(b"\x00" + good[1:]), "UnsupportedVersion"),
        ("unknown issuer key id",
         crypto.encode_payload(good[:2] + b"\xff\xff\xff\xff" + good[6:]), "UnknownKey"),
        ("signed by another issuer with a forged key id",
         crypto.encode_payload(_signed(header(), plaintext, _with_signer(ks, "other_issuer"))),
         "BadSignature"),
        ("last signature bit flipped", crypto.encode_payload(flipped_sig), "BadSignature"),
        ("tag id altered after signing",
         crypto.encode_payload(good[:10] + b"\x01" + good[11:]), "BadSignature"),
        ("reserved flag bit set (signed)",
         crypto.encode_payload(_signed(header(flags=flags | 0x80), plaintext)), "MalformedTag"),
        ("unknown dictionary id (signed)",
         crypto.encode_payload(_signed(deflated(dict_id=200), deflate(encoded))), "MalformedTag"),
        ("deflated flag with dictionary id 0 (signed)",
         crypto.encode_payload(_signed(deflated(dict_id=0), deflate(encoded))), "MalformedTag"),
        ("stored payload with a dictionary id (signed)",
         crypto.encode_payload(_signed(header(flags=0, dict_id=1), plaintext)), "MalformedTag"),
        ("unknown reader key id (signed)",
         crypto.encode_payload(_signed(header(reader_kid=b"\0\0\0\1"), plaintext)), "UnknownKey"),
        ("encrypted to a different reader key (signed)",
         crypto.encode_payload(_signed(header(), plaintext, _with_reader(ks, "other_reader"))),
         "DecryptionFailed"),
        ("not a deflate stream (signed)",
         crypto.encode_payload(_signed(deflated(), b"\xff" * 40)), "CorruptPayload"),
        ("deflate stream cut short (signed)",
         crypto.encode_payload(_signed(deflated(), deflate(encoded)[:-3])), "CorruptPayload"),
        ("trailing bytes after the deflate stream (signed)",
         crypto.encode_payload(_signed(deflated(), deflate(encoded) + b"\x00\x00")),
         "CorruptPayload"),
        ("decompression bomb: 100 kB of zeros (signed)",
         crypto.encode_payload(_signed(deflated(), deflate(bytes(100_000)))),
         "OversizePayload"),
        ("stored payload making the tag longer than 1024 bytes (signed)",
         crypto.encode_payload(_signed(header(flags=0, dict_id=0), bytes(900))),
         "MalformedTag"),
        ("random CBOR inside (signed)",
         crypto.encode_payload(_signed(deflated(), deflate(cbor2.dumps({"hello": 1})))),
         "InvalidSummary"),
        ("stored random CBOR inside (signed)",
         crypto.encode_payload(_signed(header(flags=0, dict_id=0), cbor2.dumps([1, 2, 3]))),
         "InvalidSummary"),
        ("empty plaintext: shorter than any tag (signed)",
         crypto.encode_payload(_signed(header(flags=0, dict_id=0), b"")), "TruncatedTag"),
        *review_cases(good, ks, header(), url),
    ]
    out = [{"desc": d, "tag": t, "error": e, "keys": "default"} for d, t, e in cases]
    out.append({"desc": "whole URL with a flipped signature bit",
                "tag": crypto.tag_url(BASE_URL, flipped_sig), "error": "BadSignature",
                "keys": "default"})
    out.append({"desc": "issuer key retired", "tag": url, "error": "RetiredKey",
                "keys": "issuer-retired"})
    out.append({"desc": "reader key retired", "tag": url, "error": "RetiredKey",
                "keys": "reader-retired"})
    return out


def review_cases(good: bytes, ks: crypto.KeySet, header: crypto.Header, url: str) -> list:
    """The cases a cryptographic review asked for (issue 16, item 5)."""
    payload = crypto.encode_payload(good)
    sealed, signature = good[crypto.HEADER_BYTES : -64], good[-64:]
    ciphertext = sealed[crypto.ENC_BYTES :]

    def resigned(header_bytes: bytes, sealed: bytes) -> str:
        body = header_bytes + sealed
        return crypto.encode_payload(body + ks.signing[1].sign(body))

    moved = crypto.Header(**{**header.__dict__, "tag_id": bytes([1]) * crypto.TAG_ID_BYTES})
    cases = [
        ("info binding: a real ciphertext under a new header (another tag id), "
         "validly re-signed by the issuer", resigned(moved.to_bytes(), sealed),
         "DecryptionFailed"),
    ]
    for name, u in LOW_ORDER_POINTS.items():
        enc = u.to_bytes(crypto.ENC_BYTES, "little")
        cases.append((f"enc is {name}, a low-order X25519 point (signed)",
                      resigned(header.to_bytes(), enc + ciphertext), "DecryptionFailed"))
    s = int.from_bytes(signature[32:], "little") + ED25519_L
    cases += [
        ("non-canonical signature: S + L in place of S",
         crypto.encode_payload(good[:-32] + s.to_bytes(32, "little")), "BadSignature"),
        ("two /T/ segments: the payload twice", f"{url}/T/{payload}", "MalformedTag"),
        ("two /T/ segments: other text, then the payload",
         f"{BASE_URL.upper()}/T/AAAAAAAA/T/{payload}", "MalformedTag"),
        ("query string after the payload", f"{url}?src=card", "MalformedTag"),
        ("query string holding the /T/ path", f"{BASE_URL.upper()}/?next=/T/{payload}",
         "MalformedTag"),
        ("fragment holding the /T/ path", f"{BASE_URL.upper()}/#/T/{payload}", "MalformedTag"),
        ("deflated with another dictionary than dict_id names, reaching before the start "
         "of dictionary 1 (signed)", _wrong_dictionary_tag(ks, header), "CorruptPayload"),
    ]
    return cases


def _wrong_dictionary_tag(ks: crypto.KeySet, header: crypto.Header) -> str:
    """A summary that uses the dictionary, deflated with dictionary 1 placed 32 kB back."""
    heavy = summary.validate(load("summary-heavy.json"))
    encoded = compact.encode(heavy)
    current = compact.CURRENT_DICT_ID
    zdict = compact.DICTIONARIES[current]
    farther = zdict + bytes(32768 - len(zdict))
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15, zdict=farther)
    stream = deflater.compress(encoded) + deflater.flush()
    if stream == compact.deflate(encoded, current):
        raise AssertionError("the summary must use the dictionary for this case to mean anything")
    deflated = crypto.Header(**{**header.__dict__, "flags": 1, "dict_id": current})
    return crypto.encode_payload(_signed(deflated, stream, ks))


def _with_signer(ks: crypto.KeySet, name: str) -> crypto.KeySet:
    other = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(KEYS[name]))
    return crypto.KeySet(ks.issuers, ks.readers, (ks.signing[0], other), ks.sealing)


def _with_reader(ks: crypto.KeySet, name: str) -> crypto.KeySet:
    other = X25519PrivateKey.from_private_bytes(bytes.fromhex(KEYS[name]))
    return crypto.KeySet(ks.issuers, ks.readers, ks.signing, (ks.sealing[0], other.public_key()))


MAKERS = {"issue": issue_vectors, "verify": verify_vectors, "invalid": invalid_vectors}


def render(name: str, published: dict | None) -> str:
    """The text of `name`.json: what the script makes, keeping each published vector."""
    now = datetime.fromisoformat(NOW).astimezone(UTC)
    with deterministic_hpke():
        made = MAKERS[name](now)
    kept = {v["desc"]: v for v in (published or {}).get("vectors", [])}
    if published and (published["keys"], published["base_url"]) != (KEYS, BASE_URL):
        raise SystemExit(f"{name}.json was made with other keys or base URL: not rewriting it")
    dropped = set(kept) - {v["desc"] for v in made}
    if dropped:
        raise SystemExit(f"{name}.json: published vectors no longer made: {sorted(dropped)}")
    vectors = [kept.get(v["desc"], v) for v in made]
    doc = {"keys": KEYS, "base_url": BASE_URL, "vectors": vectors}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    for name in MAKERS:
        path = HERE / f"{name}.json"
        published = json.loads(path.read_text()) if path.exists() else None
        text = render(name, published)
        path.write_text(text)
        print(f"wrote {name}.json: {len(json.loads(text)['vectors'])} vectors")


if __name__ == "__main__":
    main()
