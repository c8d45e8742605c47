"""The one error the card renderer raises, so callers catch a single type."""

from __future__ import annotations


class CardError(ValueError):
    """The card cannot be printed as asked; the message says what to change.

    Messages never contain the patient's name or critical line (they may be
    shown or logged by the caller), at most one offending character's code point.
    """
