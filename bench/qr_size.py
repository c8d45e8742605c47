"""How big is the QR code? tagservice tags against a SMART Health Card baseline.

For every summary fixture (tests/fixtures/summary-*.json) and every shared
FHIR IPS example, build in the same run:

* a real tagservice tag (validated, compact-encoded, deflated with the preset
  dictionary, HPKE-encrypted, Ed25519-signed) and its upper-case URL;
* a SMART Health Card of the same content as the baseline: the summary
  exported as a FHIR IPS Bundle, minified as the SHC spec asks, wrapped in a
  verifiable credential, raw-deflated, signed as a compact JWS with ES256 and
  encoded as `shc:/` + numeric digits (byte-mode prefix, numeric segment).

Then, for the same fixtures, the printed tag (numeric payload segment beside the
alphanumeric URL prefix, tag_digits) against the baseline it replaced (the whole
URL in base32, alphanumeric mode), both made in this run with an https host of
24 characters: QR version, modules across, and the ratio of module counts.
`linked_tag_urls` is the hook for linked (v2) tags: give it a function that
issues one and they are measured the same way.

Prints tables and a final summary line. Run: .venv/bin/python bench/qr_size.py
"""

from __future__ import annotations

import base64
import json
import sys
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import qrcode
import qrcode.util
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cards  # noqa: E402
from tagservice import crypto, tag_digits  # noqa: E402
from tagservice.fhir import export as fhir_export  # noqa: E402
from tagservice.fhir import importer as fhir  # noqa: E402
from tagservice.summary import compact  # noqa: E402
from tagservice.summary import model as summary  # noqa: E402

BASE_URLS = {"local": "http://127.0.0.1:8000", "prod": "https://tag.example.nhs.uk"}
NOW = datetime.now(UTC)
TARGETS = {"summary-typical.json": 10, "summary-heavy.json": 16,
           "summary-typical-older.json": 10, "summary-heavy-realistic.json": 16}
HOST_24 = "https://tags.example.nhs"
# What a tighter header would save (not adopted: it needs a new version byte): dict_id
# folded into flags (1 byte) and 2-byte key ids (2 x 2 bytes).
TIGHTER_HEADER = 5  # the targets: an https host of 24 characters


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def minify_for_shc(bundle: dict) -> dict:
    """SHC minification: drop ids, meta, narrative text; short resource:N refs."""
    refs = {}
    for n, entry in enumerate(bundle.get("entry", [])):
        if "fullUrl" in entry:
            refs[entry["fullUrl"]] = f"resource:{n}"
            res = entry["resource"]
            refs[f"{res['resourceType']}/{res.get('id')}"] = f"resource:{n}"

    def walk(node):
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key in ("id", "meta") or (key == "text" and isinstance(value, dict)):
                    continue
                if key == "reference" and value in refs:
                    value = refs[value]
                out[key] = walk(value)
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    entries = [
        {"fullUrl": f"resource:{n}", "resource": walk(e["resource"])}
        for n, e in enumerate(bundle.get("entry", []))
    ]
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def smart_health_card(bundle: dict, key: ec.EllipticCurvePrivateKey) -> str:
    vc = {
        "iss": "https://tag.example.nhs.uk",
        "nbf": int(NOW.timestamp()),
        "vc": {
            "type": ["https://smarthealth.cards#health-card"],
            "credentialSubject": {"fhirVersion": "4.0.1", "fhirBundle": minify_for_shc(bundle)},
        },
    }
    payload = json.dumps(vc, separators=(",", ":")).encode()
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    compressed = deflater.compress(payload) + deflater.flush()
    header = {"zip": "DEF", "alg": "ES256", "kid": "3Kfdg-XwP-7gXyywtUfUADwBumDOPKMQx-iELL11W9s"}
    signing_input = (
        f"{b64url(json.dumps(header, separators=(',', ':')).encode())}.{b64url(compressed)}"
    )
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    jws = f"{signing_input}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"
    return "".join(f"{ord(c) - 45:02d}" for c in jws)


def shc_version(digits: str, level) -> int | None:
    qr = qrcode.QRCode(error_correction=level)
    qr.add_data(qrcode.util.QRData(b"shc:/", mode=qrcode.util.MODE_8BIT_BYTE))
    qr.add_data(qrcode.util.QRData(digits.encode(), mode=qrcode.util.MODE_NUMBER))
    try:
        qr.make(fit=True)
    except (qrcode.exceptions.DataOverflowError, ValueError):  # over version 40
        return None
    return qr.version


def modules(version: int) -> int:
    """Modules in a QR symbol of this version (its area, what a camera must resolve)."""
    return (17 + 4 * version) ** 2


def inputs() -> list[tuple[str, dict]]:
    found = []
    for path in sorted((ROOT / "tests" / "fixtures").glob("summary-*.json")):
        found.append((path.name, json.loads(path.read_text())))
    shared = ROOT.parent / "shared" / "fixtures" / "fhir-ips"
    for path in sorted(shared.glob("*.json")):
        native, _warnings = fhir.summary_from_ips(json.loads(path.read_text()), NOW.date())
        found.append((f"IPS {path.stem}", native))
    return found


@dataclass(frozen=True)
class Row:
    name: str
    encoded: int  # compact-encoding bytes
    deflated: int
    tag: int  # signed, encrypted tag bytes
    v_m: int | None  # QR version of the local URL at ECC M
    v_l: int | None
    v_prod: int | None  # with the production host, ECC M
    shc_bytes: int
    shc_m: int | None  # the SMART Health Card baseline's QR version at ECC M
    shc_l: int | None
    content: int = 0  # the validated summary as minified JSON, bytes: what both encode
    invalid: str | None = None  # why the input is not a valid summary


def measure() -> list[Row]:
    """One row per input: tagservice tag and SMART Health Card baseline, made in this run."""
    keys = crypto.KeySet.from_private(Ed25519PrivateKey.generate(), X25519PrivateKey.generate())
    shc_key = ec.generate_private_key(ec.SECP256R1())
    rows = []
    for name, raw in inputs():
        try:
            data = summary.validate(raw)
        except summary.SummaryError as e:
            why = f"{e.errors[0].path}: {e.errors[0].message}"
            rows.append(Row(name, 0, 0, 0, None, None, None, 0, None, None, invalid=why))
            continue
        tag = crypto.seal(data, keys, NOW)
        encoded = compact.encode(data)
        deflated, _, _ = crypto.compress(encoded)
        local = tag_digits.tag_url(BASE_URLS["local"], tag)  # as printed: numeric payload
        prod = tag_digits.tag_url(BASE_URLS["prod"], tag)
        digits = smart_health_card(fhir_export.ips_from_summary(data), shc_key)
        rows.append(
            Row(
                name,
                len(encoded),
                len(deflated),
                len(tag),
                _version(local),
                _version(local, "l"),
                _version(prod),
                len(digits) // 2,
                shc_version(digits, qrcode.constants.ERROR_CORRECT_M),
                shc_version(digits, qrcode.constants.ERROR_CORRECT_L),
                len(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()),
            )
        )
    return rows


@dataclass(frozen=True)
class Printed:
    name: str
    tag: int
    before: int | None  # QR version of the base32 URL (the baseline), ECC M
    after: int | None  # QR version of the printed (numeric) URL, ECC M
    tighter: int | None = None  # what-if: the printed URL with a header 5 bytes shorter


def printed_rows(base_url: str = HOST_24) -> list[Printed]:
    """Each fixture's v1 tag in both spellings, sealed once in this run."""
    keys = crypto.KeySet.from_private(Ed25519PrivateKey.generate(), X25519PrivateKey.generate())
    rows = []
    for path in sorted((ROOT / "tests" / "fixtures").glob("summary-*.json")):
        tag = crypto.seal(summary.validate(json.loads(path.read_text())), keys, NOW)
        rows.append(Printed(path.name, len(tag), _version(crypto.tag_url(base_url, tag)),
                            _version(tag_digits.tag_url(base_url, tag)),
                            _version(tag_digits.tag_url(base_url, tag[TIGHTER_HEADER:]))))
    return rows + [Printed(name, 0, None, _version(url)) for name, url in linked_tag_urls()]


def linked_tag_urls() -> list[tuple[str, str]]:
    """Hook for linked (v2) tags: (name, printed URL) pairs; none until that format lands."""
    return []


def _version(url: str, error: str = "m") -> int | None:
    try:
        return cards.make_qr(url, error).version
    except Exception:  # segno.DataOverflowError: past version 40
        return None


def across(version: int | None) -> str:
    return str(17 + 4 * version) if version else "-"


def print_printed(rows: list[Printed]) -> list[str]:
    print(f"\nprinted tag vs baseline, host {HOST_24} ({len(HOST_24)} chars), ECC M")
    head = (f"{'summary':<34} {'tag B':>5} {'before':>6} {'after':>5} {'mod b':>5} "
            f"{'mod a':>5} {'ratio':>6} {'hdr-5':>5}")
    print(head)
    print("-" * len(head))
    failures = []
    for row in rows:
        both = row.before and row.after
        ratio = f"{modules(row.after) / modules(row.before):.2f}" if both else "n/a"
        print(f"{row.name:<34} {row.tag or '-':>5} {row.before or '-':>6} {row.after or '-':>5} "
              f"{across(row.before):>5} {across(row.after):>5} {ratio:>6} {row.tighter or '-':>5}")
        target = TARGETS.get(row.name)
        if target and (row.after is None or row.after > target):
            failures.append(f"{row.name}: printed QR version {row.after}, target <= {target}")
    print("before: base32 URL, one alphanumeric segment; after: numeric payload segment;")
    print("mod b / mod a: modules across; ratio: QR modules after / before (lower is better);")
    print("hdr-5: what-if version with a header 5 bytes shorter (measured, not adopted).")
    return failures


def main() -> int:
    header = (
        f"{'summary':<50} {'cbor':>5} {'defl':>5} {'tag':>5} "
        f"{'v M':>4} {'v L':>4} {'prodM':>5} {'shc B':>6} {'shcM':>5} {'shcL':>5} {'ratio':>6}"
    )
    print(header)
    print("-" * len(header))
    failures = []
    for row in measure():
        name, v_m, shc_m = row.name, row.v_m, row.shc_m
        if row.invalid:
            print(f"{name:<50} invalid summary: {row.invalid}")
            continue
        ratio = f"{modules(v_m) / modules(shc_m):.2f}" if v_m and shc_m else "n/a"
        print(
            f"{name:<50} {row.encoded:>5} {row.deflated:>5} {row.tag:>5} "
            f"{v_m:>4} {row.v_l:>4} {row.v_prod:>5} {row.shc_bytes:>6} {shc_m or '-':>5} "
            f"{row.shc_l or '-':>5} {ratio:>6}"
        )
        target = TARGETS.get(name)
        if target and (v_m is None or v_m > target):
            failures.append(f"{name}: QR version {v_m} at M, target <= {target}")
    print()
    print("cbor: compact encoding bytes; defl: after preset-dictionary deflate; tag: signed,")
    print("encrypted tag bytes; v M / v L: QR version of the printed local URL, ECC M / L; prodM:")
    print("with https://tag.example.nhs.uk; shc B: SMART Health Card JWS bytes; shcM/shcL: its")
    print(
        "QR version (- = does not fit version 40); ratio: QR modules of the tag (M) / modules\n"
        "of the SHC (M), lower is better."
    )
    failures += print_printed(printed_rows())
    if failures:
        print("SUMMARY: FAIL " + "; ".join(failures))
        return 1
    print("SUMMARY: typical <= v10 and heavy <= v16 at ECC M, signed and encrypted, "
          "printed with a 24-character https host too: PASS")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
