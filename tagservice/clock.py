"""The service's one clock: every "now" the service acts on comes from `utcnow`.

Modules call `clock.utcnow()` (not a copy imported by name), so a test that moves
time moves it for the whole service; functions that decide on time also take
`now`, so a rule can be tested at any instant without patching anything.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, timezone-aware, in UTC."""
    return datetime.now(UTC)
