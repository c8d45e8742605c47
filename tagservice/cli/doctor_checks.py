"""The checks behind `tagservice doctor`, one function per concern.

Each yields `Check`s: PASS, WARN (an operator should decide) or FAIL (unsafe
or unable to work). Settings and file checks need only the settings; the
service checks need an app. None prints a secret, a key or a database URL.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

from tagservice import keys
from tagservice.config import ConfigError, Settings

PASS, WARN, FAIL = "PASS", "WARN", "FAIL"
# Secret keys that tutorials and our own tests use: never acceptable for real use.
WEAK_SECRETS = frozenset(
    {"dev", "development", "secret", "changeme", "change-me", "test", "test-secret", "testing",
     "default", "password", "flask", "tagservice", "please-change-me"}
)  # fmt: skip
MIN_SECRET_CHARS = 32
MIN_METRICS_TOKEN_CHARS = 16
KEY_AGE_WARNING = timedelta(days=730)
CLOCK_BEHIND_AUDIT = timedelta(seconds=60)  # system time may trail the newest event this much
CLOCK_WARN, CLOCK_FAIL = timedelta(seconds=5), timedelta(minutes=2)  # vs the database server


@dataclass(frozen=True)
class Check:
    status: str
    name: str
    detail: str

    def line(self) -> str:
        return f"{self.status}  {self.name:<18} {self.detail}"


ok, warn, fail = partial(Check, PASS), partial(Check, WARN), partial(Check, FAIL)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ------------------------------------------------------------ files and settings


def check_instance(settings: Settings) -> Iterator[Check]:
    home = settings.home
    if not home.is_dir():
        yield fail("instance folder", f"{home} does not exist: run `tagservice init`")
        return
    mode = _mode(home)
    if mode & 0o077:
        yield warn("instance folder", f"{home} is mode {mode:o}: run `chmod 700 {home}`")
    else:
        yield ok("instance folder", f"{home} (mode {mode:o})")


def _private_file(name: str, path: Path) -> Check | None:
    """None when the file exists and only its owner can read it, else the failure."""
    if not path.exists():
        return fail(name, f"{path} is missing: run `tagservice init` or restore it from backup")
    mode = _mode(path)
    if mode & 0o077:
        return fail(name, f"{path} is readable by other users (mode {mode:o}): chmod 600 {path}")
    return None


def check_secret_key(settings: Settings) -> Iterator[Check]:
    name = "secret key"
    if settings.secret_key:
        value, where = settings.secret_key, "TAGSERVICE_SECRET_KEY"
    else:
        problem = _private_file(name, settings.secret_key_file)
        if problem:
            yield problem
            return
        value, where = settings.secret_key_file.read_text().strip(), str(settings.secret_key_file)
    if value.lower() in WEAK_SECRETS or len(value) < MIN_SECRET_CHARS:
        fix = (
            f"the secret key in {where} is a well-known or short value: set "
            f"{MIN_SECRET_CHARS}+ random characters (python -c 'import secrets; "
            "print(secrets.token_urlsafe(48))')"
        )
        yield fail(name, fix) if settings.production else warn(name, fix)
        return
    yield ok(name, f"set in {where}")


def check_kek(settings: Settings) -> Iterator[Check]:
    name = "key-encryption key"
    if not settings.kek:
        problem = _private_file(name, settings.kek_file)
        if problem:
            yield problem
            return
    try:
        keys.load_kek(settings)
    except ConfigError as e:
        yield fail(name, str(e))
        return
    if settings.kek:
        yield ok(name, "from TAGSERVICE_KEK")
    elif settings.production:
        yield warn(
            name,
            f"{settings.kek_file} sits next to keys.json, so one copy of the folder holds both: "
            "in production pass TAGSERVICE_KEK from a secret store and back it up separately",
        )
    else:
        yield ok(name, f"{settings.kek_file} (mode 600)")


def check_keyring(settings: Settings, now: datetime) -> Iterator[Check]:
    name = "tag keys"
    problem = _private_file(name, settings.keyring_file)
    if problem:
        yield problem
        return
    try:
        keyring = keys.load_keyring(settings)
        keys.check_kek_opens_keyring(settings)  # the line the service stops with
    except ConfigError as e:
        yield fail(name, str(e))
        return
    missing = [role for role in keys.ROLES if keyring.newest(role) is None]
    if missing:
        yield fail(name, f"no active {' or '.join(missing)} key: run `tagservice keys rotate`")
        return
    active = [r for r in keyring.records if r.active]
    destroyed = sum(r.status == keys.DESTROYED for r in keyring.records)
    retired = len(keyring.records) - len(active) - destroyed
    yield ok(name, f"{len(active)} active, {retired} retired, {destroyed} destroyed")
    for record in active:
        created = datetime.fromisoformat(record.created)
        if now - created > KEY_AGE_WARNING:
            yield warn(
                name,
                f"{record.role} key {record.kid} is over two years old: "
                f"`tagservice keys rotate --{record.role}`, then retire it when its cards "
                "are reissued (docs/operations.md)",
            )


def check_base_url(settings: Settings) -> Iterator[Check]:
    name = "base URL"
    url = urlsplit(settings.base_url)
    if url.scheme not in ("http", "https") or not url.hostname or url.path not in ("", "/"):
        yield fail(name, "TAGSERVICE_BASE_URL must be scheme, host and optional port only, no path")
    elif settings.production and url.scheme != "https":
        yield fail(
            name,
            f"{settings.base_url} is printed on every card: production tags must use "
            "https:// (set TAGSERVICE_BASE_URL before issuing any card)",
        )
    else:
        yield ok(name, settings.base_url)
    if settings.production and url.scheme == "https" and settings.proxy_fix == 0:
        yield warn(
            "reverse proxy",
            "TAGSERVICE_PROXY_FIX=0: behind a TLS proxy set it to the number of proxies, or "
            "client addresses in the audit trail are the proxy's and HSTS is not sent",
        )


def check_rate_limits(settings: Settings) -> Iterator[Check]:
    name = "rate limiting"
    if not settings.ratelimit_enabled:
        yield warn(
            name,
            "TAGSERVICE_RATELIMIT_ENABLED=false: sign-in and unlock are not rate limited "
            "(only for benchmarks)",
        )
    elif settings.production and settings.ratelimit_storage_uri.startswith("memory://"):
        yield warn(
            name,
            "limits are counted per worker process (memory://): with several workers or "
            "hosts set TAGSERVICE_RATELIMIT_STORAGE_URI=redis://…",
        )
    else:
        yield ok(name, f"on, storage {urlsplit(settings.ratelimit_storage_uri).scheme}://")


def check_metrics(settings: Settings, environ: Mapping[str, str]) -> Iterator[Check]:
    name = "metrics"
    directory = environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory and not (os.path.isdir(directory) and os.access(directory, os.W_OK | os.X_OK)):
        yield fail(name, f"PROMETHEUS_MULTIPROC_DIR={directory} is not a writable directory")
        return
    token = environ.get("TAGSERVICE_METRICS_TOKEN", "")
    if token and len(token) < MIN_METRICS_TOKEN_CHARS:
        yield warn(name, f"TAGSERVICE_METRICS_TOKEN is short: use {MIN_METRICS_TOKEN_CHARS}+ "
                          "random characters")  # fmt: skip
        return
    who = "bearer token" if token else "loopback only"
    mode = "multiprocess" if directory else "single process"
    yield ok(name, f"/metrics: {who}, {mode}")


# ------------------------------------------------------------ the running service


def check_database(app) -> Iterator[Check]:
    """Reachable, migrated to head, audit chain intact."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from tagservice.audit import verify_chain
    from tagservice.store import statements
    from tagservice.store.db import MIGRATIONS_DIR, db

    with app.app_context():
        try:
            with db.engine.connect() as conn:
                conn.execute(statements.PING)
                current = set(MigrationContext.configure(conn).get_current_heads())
        except Exception as e:  # any driver error: report its type, never its text
            yield fail(
                "database",
                f"cannot connect ({type(e).__name__}): check DATABASE_URL and that the "
                "server is running",
            )
            return
        yield ok("database", f"reachable ({db.engine.dialect.name})")
        config = app.extensions["migrate"].migrate.get_config(str(MIGRATIONS_DIR))
        heads = set(ScriptDirectory.from_config(config).get_heads())
        if current != heads:
            have = ", ".join(sorted(current)) or "nothing"
            yield fail(
                "migrations",
                f"database is at {have}, the code needs {', '.join(sorted(heads))}: "
                "run `tagservice db upgrade` (after a backup)",
            )
            return
        yield ok("migrations", f"at head {', '.join(sorted(heads))}")
        result = verify_chain()
        if result.ok:
            yield ok("audit chain", result.message)
        else:
            yield fail(
                "audit chain",
                f"{result.message}: stop and investigate (docs/security.md, audit section)",
            )


def clock_problems(
    system_now: datetime, newest_event: datetime | None, database_now: datetime | None
) -> Iterator[Check]:
    """Pure: compare this machine's clock with the newest audit event and the database's."""
    name = "clock"
    if newest_event is not None and system_now < newest_event - CLOCK_BEHIND_AUDIT:
        behind = newest_event - system_now
        yield fail(
            name,
            f"this machine's clock is {_human(behind)} behind the newest audit event: "
            "fix NTP before serving (audit times and sign-in codes depend on it)",
        )
        return
    if database_now is not None:
        skew = abs(system_now - database_now)
        if skew > CLOCK_FAIL:
            yield fail(name, f"{_human(skew)} apart from the database server's clock: fix NTP")
            return
        if skew > CLOCK_WARN:
            yield warn(name, f"{_human(skew)} apart from the database server's clock")
            return
        yield ok(name, "agrees with the database server and the audit trail")
        return
    yield ok(name, "not behind the newest audit event")


def safe_error(error: Exception) -> str:
    """An exception's type, and its text only when it cannot hold a URL or a password.

    A database URL (with its password) ends up in SQLAlchemy's messages, so only
    messages from the rate-limit library, which name a missing package, are shown.
    """
    name = type(error).__name__
    if type(error).__module__.split(".")[0] == "limits":
        return f"{name}: {error} (for redis:// limits install the redis package)"
    return f"{name} (check the settings above and the service log)"


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"


def check_clock(app, now: datetime) -> Iterator[Check]:
    from sqlalchemy import select

    from tagservice.store import statements
    from tagservice.store.db import db
    from tagservice.store.models import AuditEvent

    with app.app_context():
        try:
            newest = db.session.scalar(
                select(AuditEvent.created_at).order_by(AuditEvent.id.desc()).limit(1)
            )
            database_now = None
            if db.engine.dialect.name == "postgresql":
                database_now = db.session.scalar(statements.DATABASE_NOW)
        except Exception as e:
            yield fail("clock", f"cannot read the audit trail ({type(e).__name__})")
            return
        finally:
            db.session.remove()
    yield from clock_problems(now, newest, database_now)


def check_demo(app, settings: Settings) -> Iterator[Check]:
    if not settings.production:
        yield ok("demo accounts", f"allowed outside production (TAGSERVICE_ENV={settings.env})")
        return
    from tagservice.accounts.clinicians import DEMO_EMAIL, find_clinician
    from tagservice.store.db import db

    with app.app_context():
        try:
            demo = find_clinician(DEMO_EMAIL)
        finally:
            db.session.remove()
    if demo is not None and demo.status == "active":
        yield fail(
            "demo accounts",
            f"the demo paramedic ({DEMO_EMAIL}, public password) exists in production: "
            f"`tagservice clinician suspend {DEMO_EMAIL}`",
        )
    else:
        yield ok("demo accounts", "none active")
    if (settings.home / "demo-tag.txt").exists():
        yield warn("demo accounts", "demo-tag.txt is in the instance folder: delete it")
