"""Async engine and sessions. One transaction per request, job or CLI command."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVarTuple

from sqlalchemy import MetaData, Select, event, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import registry
from sqlmodel import SQLModel

from registry._files import make_private

# Stable constraint names, so that Alembic migrations read the same on both backends.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Seconds a pooled connection to a database server lives: below the idle timeouts that
# load balancers, proxies and firewalls commonly apply (some close after 350 s).
POOL_RECYCLE_SECONDS = 300

Ts = TypeVarTuple("Ts")


def table_registry() -> registry:
    """A registry of its own for a database's tables: the record's and the audit log's never
    share a metadata (SQLModel's default one is global)."""
    return registry(metadata=MetaData(naming_convention=NAMING_CONVENTION))


class RowIdentity:
    """Rows are the same when they are the same object, as SQLAlchemy's own classes are: the
    session keeps one object per row, and code puts rows in sets and dict keys. (A pydantic
    model compares its fields and so cannot be hashed.)"""

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)


class Base(RowIdentity, SQLModel, registry=table_registry()):
    """The record's tables: SQLModel classes with ``table=True``.

    A table's integer primary key is declared ``int`` with a default of ``None``: the
    database assigns it at the first flush, and code reads it only after that.
    """


def create_engine(url: str, *, serial_writes: bool = False) -> AsyncEngine:
    """An engine for ``url``. ``serial_writes``: on SQLite each transaction takes the write
    lock when it begins, so that read-then-write sequences never interleave, nor fail with
    "database is locked" when another wrote since they read (a deferred BEGIN cannot turn
    into a write then). Whatever may write takes it: a server's requests, commands, sweeps.

    Pooled connections to a server are not pinged at checkout: on asyncpg a ping is three
    round trips (BEGIN, ";", ROLLBACK), as many as a short request's own statements. A
    connection the server dropped fails at its first statement instead, which invalidates
    the whole pool at once (SQLAlchemy's optimistic disconnect handling), and no connection
    is kept long enough for an idle timeout on the way to close it unseen.
    """
    if not url.startswith("sqlite"):
        return create_async_engine(url, pool_recycle=POOL_RECYCLE_SECONDS)
    _keep_private(make_url(url).database)
    if not serial_writes:
        engine = create_async_engine(url)
        event.listen(engine.sync_engine, "connect", _sqlite_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    # Only one such transaction runs at a time anyway; with one connection, the others of
    # this process wait their turn in order, for the pool, instead of polling for SQLite's
    # lock until its busy timeout fails some of them. The lock still keeps other processes
    # (the CLI, another server) apart.
    engine = create_async_engine(url, pool_size=1, max_overflow=0)
    event.listen(engine.sync_engine, "connect", _sqlite_connect)
    event.listen(engine.sync_engine, "begin", _sqlite_begin_immediate)
    return engine


def _keep_private(database: str | None) -> None:
    """The database file, and its WAL and shared-memory files, readable by their owner alone.

    They hold personal data in clear (the audit log, the record's names of people). SQLite
    gives the -wal and -shm files the mode of the database file, so the file is made 0600
    before SQLite first opens it; files an earlier version left wider are narrowed.
    """
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.parent.is_dir():
        # SQLite cannot create the file either: opening it fails, as it always has.
        return
    make_private(path)
    for suffix in ("-wal", "-shm", "-journal"):
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            make_private(companion)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling breaks SAVEPOINT; SQLAlchemy emits BEGIN instead.
    dbapi_connection.isolation_level = None
    # SQLite leaves foreign keys unchecked unless asked, and WAL lets readers run beside a writer.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN")


def _sqlite_begin_immediate(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: objects stay readable after commit without lazy loads,
    # which async SQLAlchemy cannot do.
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def claimed(session: AsyncSession, query: Select[*Ts]) -> Select[*Ts]:
    """``query`` locking the rows it reads, skipping rows another worker holds.

    On PostgreSQL this lets several replicas share a batch job without taking the same
    rows; SQLite has no row locks, and its writers never overlap in the first place.
    """
    if session.get_bind().dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True)
    return query


@asynccontextmanager
async def transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One unit of work: commits when the block ends normally, rolls back otherwise."""
    async with sessions() as session, session.begin():
        yield session
