"""Appending to and checking the audit log (R-ACC-6): append-only, hash-chained, apart.

Each event links to the one that really came before it, whoever else appends (other
processes, other replicas): an event's number is the table's primary key, so two
appenders can never both write the event after the same head. Appends that arrive while
one is being written wait and are written together by the next (``group_commit``): one
transaction, one commit, for all of them. A batch is first tried after the head this
process wrote last, in one statement that writes only if that head is still the last event
and nobody holds the append lock (on PostgreSQL an autocommitted statement sent on the
driver's connection, ``_one_statement``: one round trip). If another appender came between,
the batch runs alone: on PostgreSQL under a transaction-level advisory lock, on SQLite in a
transaction that takes the write lock when it begins, reading the head afresh. The app's
database role needs only INSERT and SELECT on the log.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Insert,
    bindparam,
    exists,
    func,
    insert,
    inspect,
    select,
    union_all,
)
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlmodel import col

from registry import clock
from registry._columns import text_lengths
from registry._detach import detached
from registry.access.policy import Action
from registry.access.service import Actor, authorize
from registry.audit import chain
from registry.audit._one_statement import OneStatement
from registry.audit.group_commit import GroupCommit
from registry.audit.models import AuditEvent, Outcome
from registry.audit.storable import fitted, fitted_detail
from registry.db import create_engine, session_factory

# Any fixed number: it names the one lock that appends take on PostgreSQL.
APPEND_LOCK = 0x5245_4749_5354
VERIFY_BATCH = 1000
# Entries that one statement appends at most (a request's are a few, a batch of sixteen
# requests' a few dozen); more go the other way.
ONE_STATEMENT_MOST = 64


class AuditUnavailable(Exception):
    """The audit log could not be written: whatever needed auditing must not happen."""


@dataclass(frozen=True)
class Entry:
    principal: str
    action: str
    outcome: Outcome
    target: str | None = None
    purpose: str | None = None
    request_id: str | None = None
    detail: dict[str, Any] | None = None


def sign_in_refused(reason: str, request_id: str | None = None) -> Entry:
    """The audit entry of a request whose token was missing, unknown, expired or revoked."""
    return Entry(
        principal="anonymous",
        action="authenticate",
        outcome=Outcome.DENIED,
        request_id=request_id,
        detail={"reason": reason},
    )


@dataclass(frozen=True)
class Verification:
    """The outcome of walking the chain: where it first breaks, if it does."""

    checked: int
    first_broken: int | None = None
    reason: str | None = None

    @property
    def intact(self) -> bool:
        return self.first_broken is None


def _canonical(event: AuditEvent) -> bytes:
    return chain.canonical(
        seq=event.seq,
        at=event.at.isoformat(),
        principal=event.principal,
        action=event.action,
        target=event.target,
        purpose=event.purpose,
        outcome=event.outcome.value,
        request_id=event.request_id,
        detail=event.detail,
    )


class AppendedEvent(NamedTuple):
    """An event as it was appended: its row's values, in the table's order of columns.

    Plain values rather than an ``AuditEvent``: building the mapped object cost more than
    hashing and linking the event does."""

    seq: int
    at: datetime
    principal: str
    action: str
    target: str | None
    purpose: str | None
    outcome: Outcome
    request_id: str | None
    detail: dict[str, Any] | None
    prev_hash: str
    hash: str


Head = tuple[int, str]
_COLUMNS = AppendedEvent._fields
# The names of the n-th event's values in ``_after``: ``seq_0``, ``at_0``, ..., ``hash_63``.
_PARAMETER_NAMES = [tuple(f"{name}_{n}" for name in _COLUMNS) for n in range(ONE_STATEMENT_MOST)]
_LAST = (
    select(col(AuditEvent.seq), col(AuditEvent.hash)).order_by(col(AuditEvent.seq).desc()).limit(1)
)
_LENGTHS = text_lengths(AuditEvent)


class AuditLog:
    """The audit store of one process, over its own engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessions: async_sessionmaker[AsyncSession] = session_factory(engine)
        self._postgresql = engine.dialect.name == "postgresql"
        # On PostgreSQL the one-statement append needs no transaction around it, and is sent
        # on the driver's connection; SQLite's serial_writes transactions are what keep its
        # writers apart.
        self._one_statement = OneStatement(engine) if self._postgresql else None
        # The last event this process wrote, while no other is known to have come after it.
        self._head: Head | None = None
        # Appends of one process are written by one task, batch after batch, so they never
        # race each other for a number.
        self._batches: GroupCommit[Entry, AppendedEvent] = GroupCommit(self._write)
        # Told how long each append took and whether it failed (the app's metrics).
        self.on_append: Callable[[float, bool], None] = lambda _seconds, _failed: None

    @classmethod
    def open(cls, url: str) -> AuditLog:
        return cls(create_engine(url, serial_writes=True))

    async def close(self) -> None:
        if self._one_statement is not None:
            await self._one_statement.close()
        await self.engine.dispose()

    async def append_within(self, entries: Sequence[Entry], seconds: float) -> None:
        """``append``, given up after ``seconds`` as unavailable: a stalled audit database
        costs a request its deadline at most, never a worker for good."""
        try:
            async with asyncio.timeout(seconds):
                await detached(self.append(entries))
        except TimeoutError as error:
            raise AuditUnavailable(f"the audit log did not answer within {seconds:g} s") from error

    async def append(self, entries: Sequence[Entry]) -> list[AppendedEvent]:
        """Writes the entries, in order, at the head of the chain; durable on return."""
        if not entries:
            return []
        started, failed = time.perf_counter(), True
        try:
            events = await self._batches.submit(entries)
            failed = False
            return events
        except Exception as error:
            raise AuditUnavailable("the audit log cannot be written") from error
        finally:
            # A cancelled append (given up at a deadline) counts as failed too.
            self.on_append(time.perf_counter() - started, failed)

    async def _write(self, entries: list[Entry]) -> list[AppendedEvent]:
        """One batch, all its entries in one transaction: committed whole or not at all."""
        try:
            return await self._append(entries)
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
            # The server dropped a pooled connection (it restarted): the pool is renewed, so
            # try once more. A statement cut off there may yet have been written, so at worst
            # the entries are in the log twice, never missing.
            self._head = None
            return await self._append(entries)

    async def _append(self, entries: Sequence[Entry]) -> list[AppendedEvent]:
        now = clock.now()
        if self._head is not None and len(entries) <= ONE_STATEMENT_MOST:
            events = _chained(self._head, entries, now)
            if await self._written_after(self._head, events):
                self._head = (events[-1].seq, events[-1].hash)
                return events
        async with self.engine.begin() as connection:
            head = await self._alone(connection)
            events = _chained(head, entries, now)
            await connection.execute(insert(AuditEvent), [_row(event) for event in events])
        self._head = (events[-1].seq, events[-1].hash)
        return events

    async def _written_after(self, head: Head, events: list[AppendedEvent]) -> bool:
        """Whether the events were written after ``head`` in one statement; not if another
        appender came between (it wrote the next number first, or holds the lock)."""
        statement = _after(len(events), locking=self._postgresql)
        parameters = _parameters(head, events)
        if self._one_statement is not None:
            # Not written either if the connection was lost: the log goes on as after a
            # restart, reading the head afresh under the lock.
            return await self._one_statement.execute(statement, parameters) == len(events)
        try:
            async with self.engine.begin() as connection:
                written = await connection.execute(statement, parameters)
        except IntegrityError:
            return False
        return written.rowcount == len(events)

    async def _alone(self, connection: AsyncConnection) -> Head:
        """The head of the chain, read under the lock that keeps other appenders out."""
        if self._postgresql:
            await connection.execute(select(func.pg_advisory_xact_lock(APPEND_LOCK)))
        head = (await connection.execute(_LAST)).first()
        return (head[0], head[1]) if head else (0, chain.GENESIS)

    async def verify(self) -> Verification:
        """Walks the chain from the start and names the first event that breaks it."""
        expected_seq, prev_hash, checked = 1, chain.GENESIS, 0
        async with self.sessions() as session:
            while True:
                batch = (
                    await session.scalars(
                        select(AuditEvent)
                        .where(col(AuditEvent.seq) >= expected_seq)
                        .order_by(col(AuditEvent.seq))
                        .limit(VERIFY_BATCH)
                    )
                ).all()
                for event in batch:
                    problem = _check(event, expected_seq, prev_hash)
                    if problem is not None:
                        return Verification(checked, expected_seq, problem)
                    expected_seq, prev_hash, checked = event.seq + 1, event.hash, checked + 1
                if len(batch) < VERIFY_BATCH:
                    break
            # Events with numbers below 1, or a duplicate head, are outside the walk above.
            total = await session.scalar(select(func.count()).select_from(AuditEvent))
        if total != checked:
            return Verification(checked, expected_seq, "events outside the chain's numbering")
        return Verification(checked)

    async def events(
        self,
        *,
        actor: Actor,
        after_seq: int,
        limit: int,
        action: str | None = None,
        principal: str | None = None,
    ) -> Sequence[AuditEvent]:
        authorize(actor, Action.AUDIT_READ)
        query = select(AuditEvent).where(col(AuditEvent.seq) > after_seq)
        if action is not None:
            query = query.where(col(AuditEvent.action) == action)
        if principal is not None:
            query = query.where(col(AuditEvent.principal) == principal)
        async with self.sessions() as session:
            return (await session.scalars(query.order_by(col(AuditEvent.seq)).limit(limit))).all()

    async def head(self) -> Head:
        async with self.sessions() as session:
            row = (await session.execute(_LAST)).first()
        return (row[0], row[1]) if row else (0, chain.GENESIS)


def _chained(head: Head, entries: Sequence[Entry], now: datetime) -> list[AppendedEvent]:
    """The entries as the events that follow ``head``, each linked to the one before."""
    seq, prev_hash = head
    at = now.isoformat()
    events = []
    for entry in entries:
        seq += 1
        # What an entry quotes is fitted before it is hashed, so that the chain covers what
        # the log holds.
        quoted = {
            "principal": fitted(entry.principal, _LENGTHS["principal"]),
            "action": fitted(entry.action, _LENGTHS["action"]),
            "target": fitted(entry.target, _LENGTHS["target"]),
            "purpose": fitted(entry.purpose, _LENGTHS["purpose"]),
            "request_id": fitted(entry.request_id, _LENGTHS["request_id"]),
            "detail": fitted_detail(entry.detail),
        }
        link = chain.link(
            prev_hash,
            chain.canonical(seq=seq, at=at, outcome=entry.outcome.value, **quoted),
        )
        events.append(
            AppendedEvent(
                seq=seq, at=now, outcome=entry.outcome, prev_hash=prev_hash, hash=link, **quoted
            )
        )
        prev_hash = link
    return events


def _row(event: AppendedEvent) -> dict[str, Any]:
    return dict(zip(_COLUMNS, event, strict=True))


@functools.lru_cache(maxsize=ONE_STATEMENT_MOST)
def _after(count: int, *, locking: bool) -> Insert:
    """Writes ``count`` events after a head, only if it is still the last event and no
    append runs alone (``locking``: the advisory lock of PostgreSQL).

    Each event's number is unique, so if another appender wrote after the head since, the
    statement fails whole; if the head is gone (the log was restored from an older copy) it
    writes nothing. Built once per number of events: building it is most of its cost.
    """
    where: list[ColumnElement[Any]] = [
        exists().where(
            col(AuditEvent.seq) == bindparam("head_seq"),
            col(AuditEvent.hash) == bindparam("head_hash"),
        )
    ]
    if locking:
        # Held to the end of the statement, as the lock of an append alone is held to its
        # commit: the two kinds never write at once.
        where.append(func.pg_try_advisory_xact_lock(APPEND_LOCK))
    columns = inspect(AuditEvent).columns
    rows = [
        select(
            *(
                bindparam(key, type_=columns[name].type).label(name)
                for name, key in zip(_COLUMNS, _PARAMETER_NAMES[n], strict=True)
            )
        ).where(*where)
        for n in range(count)
    ]
    return insert(AuditEvent).from_select(_COLUMNS, rows[0] if count == 1 else union_all(*rows))


def _parameters(head: Head, events: list[AppendedEvent]) -> dict[str, Any]:
    parameters: dict[str, Any] = {"head_seq": head[0], "head_hash": head[1]}
    for names, event in zip(_PARAMETER_NAMES, events, strict=False):
        parameters.update(zip(names, event, strict=True))
    return parameters


def _check(event: AuditEvent, expected_seq: int, prev_hash: str) -> str | None:
    if event.seq != expected_seq:
        return f"event {expected_seq} is missing"
    if event.prev_hash != prev_hash:
        return f"event {event.seq} does not link to event {event.seq - 1}"
    if chain.link(prev_hash, _canonical(event)) != event.hash:
        return f"event {event.seq} was altered"
    return None
