"""The database: one SQLAlchemy instance, SQLite or PostgreSQL, migrated by Alembic.

SQLite is the embedded default, so its connections get the pragmas a web
service needs (foreign keys, WAL so scans read while an audit event is being
written, a busy timeout instead of instant "database is locked"). SQLAlchemy,
not the sqlite3 driver, emits BEGIN, so a writer can ask for BEGIN IMMEDIATE
and take the write lock before it reads anything (see `begin_write`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path

import alembic.command
from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, MetaData, event, select
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session
from sqlalchemy.types import TypeDecorator

from tagservice.store import driver

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# Stable constraint names, so Alembic migrations can refer to them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

_BEGIN_OPTION = "tagservice_sqlite_begin"
_WRITE_TXN = "tagservice_write_transaction"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate(directory=str(MIGRATIONS_DIR), compare_type=True, render_as_batch=True)



class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every backend.

    PostgreSQL stores `timestamptz`; SQLite has no time zones, so the value is
    stored as naive UTC and given its zone back on the way out. Naive input is
    refused: a time without a zone is a bug waiting to be off by an hour.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass a timezone-aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def engine_url(url: str) -> URL:
    """Accept the usual `postgres://` and `postgresql://` forms and use psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _is_plain_file(url: URL) -> bool:
    """A SQLite path whose folder we may create (not memory, not a `file:` URI)."""
    database = url.database or ""
    return database not in ("", ":memory:") and not database.startswith("file:")


def _create_private_file(path: Path) -> None:
    """Create the SQLite file readable by its owner only (0600, its folder 0700), whatever
    the umask, before SQLite creates it; SQLite gives its -wal and -shm files the
    database file's permissions."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


def init_app(app: Flask) -> None:
    url = engine_url(app.config["TAGSERVICE"].database_url)
    if url.get_backend_name() == "sqlite" and _is_plain_file(url):
        _create_private_file(Path(url.database))
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    db.init_app(app)
    migrate.init_app(app, db)
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy emit BEGIN itself (the driver would delay it past reads).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        # Durable commits: in WAL mode FULL syncs the log at every commit, so an audit
        # event that was committed survives a power cut (NORMAL would not promise it).
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def locked_row(row):
    """Re-read an account's row under the write lock (FOR UPDATE on PostgreSQL).

    Call it after begin_write(): every change to a sign-in counter, a secret or a
    session epoch is made on the row as it is now, never on a copy read earlier.
    """
    model = type(row)
    return db.session.execute(
        select(model)
        .where(model.id == row.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()


def begin_write(session=None) -> None:
    """Start a transaction that will write, holding the write lock from its first read.

    Any transaction already open in the session is committed first (on SQLite a
    transaction that has read cannot safely become a writer: another worker may
    have committed since). On SQLite the new transaction is `BEGIN IMMEDIATE`;
    on PostgreSQL it is an ordinary transaction and rows are locked with
    `SELECT ... FOR UPDATE` where it matters. Calling it twice is harmless.
    """
    session = _unscoped(session)
    if in_write_transaction(session):
        return
    if session.in_transaction():
        session.commit()
    session.connection(execution_options={_BEGIN_OPTION: "IMMEDIATE"})
    session.info[_WRITE_TXN] = session.get_transaction()


def in_write_transaction(session=None) -> bool:
    session = _unscoped(session)
    txn = session.get_transaction()
    return txn is not None and session.info.get(_WRITE_TXN) is txn


def _holds_changes(session: Session) -> bool:
    return bool(session.new or session.dirty or session.deleted)


def end_reads() -> bool:
    """End the session's transaction unless it holds the caller's own writes; True if ended.

    Then an append may take a pooled connection and transaction of its own
    (tagservice.store.driver) instead of the session's. A session with pending
    changes, or in a transaction opened by `begin_write`, keeps them: the caller
    means them to commit with what comes next. A transaction that has only read
    (or flushed changes outside `begin_write`) is committed, as `begin_write`
    would commit it.
    """
    if not db.session.registry.has():
        return True
    session = db.session()
    if in_write_transaction(session) or _holds_changes(session):
        return False
    if session.in_transaction():
        session.commit()
    return True


@contextmanager
def reading() -> Iterator[driver.Connectionlike]:
    """A connection to read with, for driver statements (tagservice.store.driver).

    The session's own when it is in use, so a caller sees what it has written
    (flushed first, as a query would); otherwise a pooled connection in a
    transaction of its own, so a request that only reads (an API unlock before
    its audit event) never starts the session's machinery. Asking a session
    that this request never made would make one, so that is checked first.
    """
    session = db.session() if db.session.registry.has() else None
    if session is None or not (session.in_transaction() or _holds_changes(session)):
        with driver.transaction(db.engine, write=False) as conn:
            yield conn
    else:
        session.flush()
        yield session.connection()


def _unscoped(session) -> Session:
    session = db.session if session is None else session
    return session() if isinstance(session, scoped_session) else session


def upgrade_database(app: Flask, revision: str = "head") -> None:
    """Apply Alembic migrations (used by `tagservice init`, deployments and tests)."""
    with app.app_context():
        config = app.extensions["migrate"].migrate.get_config(str(MIGRATIONS_DIR))
        alembic.command.upgrade(config, revision)
