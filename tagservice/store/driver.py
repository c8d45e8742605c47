"""Statements run straight on the database driver, for the unlock path.

An unlock runs five small statements. Through SQLAlchemy's ORM and Core each
cost more CPU than the statement itself (compiled-cache lookup, events, result
set-up, entity loading), and the unlock is the one request the service must
serve fast. A `DriverStatement` runs on the DBAPI cursor of either a
connection the ORM session began, or a connection from the same pool in a
transaction of its own (`transaction`). Values still pass through the columns'
own types, so what is written and read is exactly what the ORM would write and
read. Driver errors come back as SQLAlchemy's exception classes, so callers
catch one family.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext, suppress
from typing import Any

from sqlalchemy import Column
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import DBAPIError

Converters = tuple[tuple[int, Callable[[Any], Any]], ...]  # (position, processor), where needed
# What a DriverStatement runs on: SQLAlchemy's Connection or a PooledConnection.
Connectionlike = Any


class DriverStatement:
    """One SQL statement with `?` placeholders, typed by the columns it binds and returns.

    `for_update` appends FOR UPDATE where the database has row locks (PostgreSQL);
    SQLite has none, and its writers hold the whole database from BEGIN IMMEDIATE.
    """

    def __init__(
        self,
        sql: str,
        binds: Sequence[Column] = (),
        returns: Sequence[Column] = (),
        *,
        for_update: bool = False,
    ) -> None:
        if sql.count("?") != len(binds):
            raise ValueError("one bind column per ? placeholder")
        self.sql, self.binds, self.returns = sql, tuple(binds), tuple(returns)
        self.for_update = for_update
        self._prepared: dict[str, tuple[str, Converters, Converters]] = {}

    def _prepare(self, dialect: Dialect) -> tuple[str, Converters, Converters]:
        prepared = self._prepared.get(dialect.name)
        if prepared is None:
            sql = self.sql if dialect.paramstyle == "qmark" else self.sql.replace("?", "%s")
            if self.for_update and dialect.name != "sqlite":
                sql += " FOR UPDATE"
            binds = _converters(
                c.type.dialect_impl(dialect).bind_processor(dialect) for c in self.binds
            )
            results = _converters(
                c.type.dialect_impl(dialect).result_processor(dialect, None) for c in self.returns
            )
            prepared = self._prepared[dialect.name] = (sql, binds, results)
        return prepared

    def rows(self, conn: Connectionlike, *params: Any) -> list[tuple]:
        """Run it in `conn`'s transaction; the rows, each value through its column's type."""
        if len(params) != len(self.binds):
            raise TypeError(f"{len(self.binds)} values expected, {len(params)} given")
        sql, binds, results = self._prepare(conn.dialect)
        values = list(params)
        for i, convert in binds:
            values[i] = convert(values[i])
        cursor = conn.connection.cursor()
        try:
            cursor.execute(sql, values)
            fetched = cursor.fetchall() if self.returns else []
        except conn.dialect.loaded_dbapi.Error as e:
            raise _translated(conn, sql, e, cursor) from e
        finally:
            with suppress(Exception):  # a dead connection's cursor may not close
                cursor.close()
        if not results:
            return [tuple(row) for row in fetched]
        converted = []
        for row in fetched:
            row = list(row)
            for i, convert in results:
                row[i] = convert(row[i])
            converted.append(tuple(row))
        return converted

    def execute(self, conn: Connectionlike, *params: Any) -> None:
        self.rows(conn, *params)


def _converters(processors) -> Converters:
    return tuple((i, p) for i, p in enumerate(processors) if p is not None)


class PooledConnection:
    """A connection from the engine's pool, without SQLAlchemy's Connection around it.

    It has what a DriverStatement uses of a Connection (`dialect`, `connection`,
    `info`, `invalidate`), so statements run on either.
    """

    def __init__(self, engine: Engine) -> None:
        self.dialect = engine.dialect
        try:
            self.connection = engine.raw_connection()
        except self.dialect.loaded_dbapi.Error as e:
            raise _translated(self, "connect", e) from e
        self.info = self.connection.info

    def invalidate(self, exception: BaseException | None = None) -> None:
        self.connection.invalidate(exception)


@contextmanager
def transaction(engine: Engine, *, write: bool) -> Iterator[PooledConnection]:
    """A pooled connection in a transaction of its own, committed when the block ends.

    `write=True` takes SQLite's write lock before the first statement (BEGIN
    IMMEDIATE), as tagservice.store.db.begin_write does for sessions; reads run in
    autocommit (SQLite's driver does that by itself; PostgreSQL's is told to).
    PostgreSQL's driver begins a write transaction by itself. If the block or the
    commit raises, the transaction is rolled back and the error propagates
    (driver errors as SQLAlchemy's): a caller that commits an audit event learns
    that it failed.
    """
    queue = _sqlite_writers_queue(engine) if write else nullcontext()
    with queue:
        yield from _transaction(engine, write)


def _transaction(engine: Engine, write: bool) -> Iterator[PooledConnection]:
    conn = PooledConnection(engine)
    # Reads run in autocommit on PostgreSQL too, as on SQLite: each statement is its
    # own snapshot, and the worker is spared a BEGIN and a COMMIT round trip per read.
    autocommit = not write and conn.dialect.name == "postgresql"
    try:
        try:
            if write and conn.dialect.name == "sqlite":
                cursor = conn.connection.cursor()
                cursor.execute("BEGIN IMMEDIATE")
                cursor.close()
            if autocommit:
                conn.connection.dbapi_connection.autocommit = True
            yield conn
            conn.connection.commit()
        except conn.dialect.loaded_dbapi.Error as e:
            raise _translated(conn, "transaction", e) from e
    except BaseException:
        with suppress(Exception):
            conn.connection.rollback()
        raise
    finally:
        if autocommit:  # the pool hands it to sessions next, which expect transactions
            with suppress(Exception):
                conn.connection.dbapi_connection.autocommit = False
        with suppress(Exception):
            conn.connection.close()  # back to the pool


@contextmanager
def _sqlite_writers_queue(engine: Engine) -> Iterator[None]:
    """Queue SQLite writers in the kernel rather than in SQLite's busy handler.

    A writer that finds the database locked sleeps 1, 2, 5, 10... ms between
    tries (sqlite's busy timeout), so two workers taking turns at the audit
    trail wait far longer than the write itself takes. An exclusive flock on a
    file beside the database, held from BEGIN IMMEDIATE to COMMIT, wakes the next
    writer the moment the previous one commits. The kernel releases it if its
    holder dies. Writers that do not take it (the ORM session's) still meet
    SQLite's own lock, so this orders writers; it is not what makes them safe.
    """
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    fd = os.open(f"{database}-writers", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # and with it the lock


def _translated(conn, statement: str, error: Exception, cursor=None) -> DBAPIError:
    """The driver's error as SQLAlchemy's; a dropped connection is marked invalid."""
    raw = getattr(getattr(conn, "connection", None), "dbapi_connection", None)
    disconnected = raw is not None and conn.dialect.is_disconnect(error, raw, cursor)
    if disconnected:
        conn.invalidate(error)
    return DBAPIError.instance(
        statement,
        None,  # the values may be secrets (a token's hash): keep them out of messages
        error,
        conn.dialect.loaded_dbapi.Error,
        connection_invalidated=disconnected,
        dialect=conn.dialect,
    )
