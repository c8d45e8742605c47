"""Sign-in throttling: slow guessing down without locking the real person out.

One implementation for clinicians and patients. Failures are counted per
(client address, typed email), per client address, and per typed email over a
sliding window (docs/security.md, "Sign-in throttling", has the numbers and why):

- a client gets FAILURES_PER_CLIENT_ACCOUNT wrong tries at one email per window;
- a client gets FAILURES_PER_CLIENT wrong tries at all emails together;
- an email that has drawn FAILURES_BEFORE_GUARD failures from anywhere is "under
  attack": then a client that has already failed GUARDED_FAILURES times at it waits.

There is no per-account lock: a client with no failures at an email is never
refused, so an attacker who knows a paramedic's email cannot keep them out; the
right password and code from their own phone, or a passkey, always get through.
The email is hashed with the realm, never stored, and an email with no account
is counted exactly like one with an account, so a throttled answer says nothing
about whether the account exists. A refused attempt checks nothing (it gives no
guess) and is audited by the caller; it is not counted again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, delete, func, or_, select

from tagservice.store.db import db
from tagservice.store.models import SigninFailure

WINDOW = timedelta(minutes=15)
FAILURES_PER_CLIENT_ACCOUNT = 5
FAILURES_PER_CLIENT = 20
FAILURES_BEFORE_GUARD = 50
GUARDED_FAILURES = 2


class SignInError(Exception):
    """Sign-in refused. The message never says which of email, password or code was wrong."""

    def __init__(self, message: str = "Email, password or code not recognised.") -> None:
        super().__init__(message)
        self.message = message


class Throttled(SignInError):
    """Too many failures from this client (at this email, or at all): wait `retry_after` s.

    Said the same way whether or not the email has an account.
    """

    def __init__(self, retry_after: int, scope: str) -> None:
        minutes = max(1, -(-retry_after // 60))
        super().__init__(
            f"Too many attempts from this device or network. Wait {minutes} minute"
            f"{'s' if minutes != 1 else ''} and try again, or sign in with a passkey."
        )
        self.retry_after = retry_after
        self.scope = scope


def account_key(realm: str, email: str) -> str:
    """What the failures are counted under: the realm and the typed email, hashed."""
    return hashlib.sha256(f"tagservice/signin/{realm}/{email}".encode()).hexdigest()


@dataclass(frozen=True)
class _Counts:
    pair: int
    pair_oldest: datetime | None
    client: int
    client_oldest: datetime | None
    account: int


def _counts(key: str, client: str, since: datetime) -> _Counts:
    """One indexed read: the three counts and the oldest failure of the two client scopes."""
    t = SigninFailure
    is_pair = and_(t.account_key == key, t.client == client)
    is_client = t.client == client
    is_account = t.account_key == key
    row = db.session.execute(
        select(
            func.sum(case((is_pair, 1), else_=0)),
            func.min(case((is_pair, t.at))),
            func.sum(case((is_client, 1), else_=0)),
            func.min(case((is_client, t.at))),
            func.sum(case((is_account, 1), else_=0)),
        ).where(t.at > since, or_(is_account, is_client))
    ).one()
    return _Counts(row[0] or 0, row[1], row[2] or 0, row[3], row[4] or 0)


def check(realm: str, email: str, client: str | None, now: datetime) -> None:
    """Raise Throttled if this client must wait before trying this email again."""
    client = _client(client)
    counts = _counts(account_key(realm, email), client, now - WINDOW)
    pair_limit = FAILURES_PER_CLIENT_ACCOUNT
    if counts.account >= FAILURES_BEFORE_GUARD:
        pair_limit = GUARDED_FAILURES
    if counts.pair >= pair_limit:
        raise Throttled(_wait(counts.pair_oldest, now), "client+account")
    if counts.client >= FAILURES_PER_CLIENT:
        raise Throttled(_wait(counts.client_oldest, now), "client")


def record_failure(realm: str, email: str, client: str | None, now: datetime) -> None:
    """Count one failure (inside the caller's write transaction); forget expired ones."""
    db.session.execute(delete(SigninFailure).where(SigninFailure.at <= now - WINDOW))
    db.session.add(
        SigninFailure(account_key=account_key(realm, email), client=_client(client), at=now)
    )


def forget_failures(realm: str, email: str, client: str | None) -> None:
    """A success from this client starts its count at this email again (caller commits)."""
    db.session.execute(
        delete(SigninFailure).where(
            SigninFailure.account_key == account_key(realm, email),
            SigninFailure.client == _client(client),
        )
    )


def _client(client: str | None) -> str:
    return (client or "unknown")[:64]


def _wait(oldest: datetime | None, now: datetime) -> int:
    """Seconds until the oldest failure leaves the window (and the count drops by one)."""
    if oldest is None:
        return int(WINDOW.total_seconds())
    return max(1, int((oldest + WINDOW - now).total_seconds()) + 1)
