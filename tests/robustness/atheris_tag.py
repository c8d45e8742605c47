"""atheris (libFuzzer) target for the tag decoder; run by test_fuzz_tag_decoder (long run).

Each input is tried as tag bytes and, decoded as UTF-8 with replacement, as
tag text. Anything but InvalidTag, or a "success" that is not one of the
seeded real tags, is a crash that atheris reports with the input that caused it.
Run by hand: .venv/bin/python tests/robustness/atheris_tag.py -runs=100000 CORPUS_DIR
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

with atheris.instrument_imports(include=["tagservice"]):
    # imported for their instrumentation (coverage), not used by name
    from tagservice import crypto  # noqa: F401
    from tagservice.summary import compact  # noqa: F401
    from tagservice.summary import model as summary  # noqa: F401
from tests.vectors.make_vectors import keyset  # noqa: E402

KEYS = keyset()
NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


def check_one_input(data: bytes) -> None:
    for tag in (data, data.decode("utf-8", "replace")):
        try:
            opened = crypto.open_tag(tag, KEYS, NOW)
        except crypto.InvalidTag:
            continue
        # Only a tag our key signed can open, and those came from the seed corpus.
        assert opened.summary["format"] == summary.FORMAT


def main() -> None:
    atheris.Setup(sys.argv, check_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
