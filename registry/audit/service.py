"""Appending to and checking the audit log (R-ACC-6): append-only, hash-chained, apart.

Every append runs alone: on PostgreSQL under a transaction-level advisory lock, on
SQLite in a transaction that takes the write lock when it begins. So each event links
to the one that really came before it, and the app's database role needs only INSERT
and SELECT on the log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from registry import clock
from registry.access.policy import Action
from registry.access.service import Actor, authorize
from registry.audit import chain
from registry.audit.models import AuditEvent, Outcome
from registry.db import create_engine, session_factory

# Any fixed number: it names the one lock that appends take on PostgreSQL.
APPEND_LOCK = 0x5245_4749_5354
VERIFY_BATCH = 1000


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


class AuditLog:
    """The audit store of one process, over its own engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessions: async_sessionmaker[AsyncSession] = session_factory(engine)

    @classmethod
    def open(cls, url: str) -> AuditLog:
        return cls(create_engine(url, serial_writes=True))

    async def close(self) -> None:
        await self.engine.dispose()

    async def append(self, entries: Sequence[Entry]) -> list[AuditEvent]:
        """Writes the entries, in order, at the head of the chain; durable on return."""
        if not entries:
            return []
        try:
            async with self.sessions() as session, session.begin():
                return await self._append(session, entries)
        except Exception as error:
            raise AuditUnavailable("the audit log cannot be written") from error

    async def _append(self, session: AsyncSession, entries: Sequence[Entry]) -> list[AuditEvent]:
        if self.engine.dialect.name == "postgresql":
            await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": APPEND_LOCK})
        head = (
            await session.execute(
                select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
            )
        ).first()
        seq, prev_hash = (head[0], head[1]) if head else (0, chain.GENESIS)
        now = clock.now()
        events = []
        for entry in entries:
            seq += 1
            event = AuditEvent(
                seq=seq,
                at=now,
                principal=entry.principal,
                action=entry.action,
                target=entry.target,
                purpose=entry.purpose,
                outcome=entry.outcome,
                request_id=entry.request_id,
                detail=entry.detail,
                prev_hash=prev_hash,
            )
            event.hash = chain.link(prev_hash, _canonical(event))
            prev_hash = event.hash
            events.append(event)
        session.add_all(events)
        await session.flush()
        return events

    async def verify(self) -> Verification:
        """Walks the chain from the start and names the first event that breaks it."""
        expected_seq, prev_hash, checked = 1, chain.GENESIS, 0
        async with self.sessions() as session:
            while True:
                batch = (
                    await session.scalars(
                        select(AuditEvent)
                        .where(AuditEvent.seq >= expected_seq)
                        .order_by(AuditEvent.seq)
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
        query = select(AuditEvent).where(AuditEvent.seq > after_seq)
        if action is not None:
            query = query.where(AuditEvent.action == action)
        if principal is not None:
            query = query.where(AuditEvent.principal == principal)
        async with self.sessions() as session:
            return (await session.scalars(query.order_by(AuditEvent.seq).limit(limit))).all()

    async def head(self) -> tuple[int, str]:
        async with self.sessions() as session:
            row = (
                await session.execute(
                    select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
                )
            ).first()
        return (row[0], row[1]) if row else (0, chain.GENESIS)


def _check(event: AuditEvent, expected_seq: int, prev_hash: str) -> str | None:
    if event.seq != expected_seq:
        return f"event {expected_seq} is missing"
    if event.prev_hash != prev_hash:
        return f"event {event.seq} does not link to event {event.seq - 1}"
    if chain.link(prev_hash, _canonical(event)) != event.hash:
        return f"event {event.seq} was altered"
    return None
