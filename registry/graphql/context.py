"""The typed per-request context: who asks, the request's session, and its caches."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from weakref import WeakKeyDictionary

import strawberry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from registry import clock
from registry.access.policy import Action
from registry.access.service import Actor, authorize
from registry.audit.models import Outcome
from registry.audit.service import AuditLog, Entry
from registry.blobs import BlobStore
from registry.countries import Country
from registry.crypto import KeyRing
from registry.graphql.ratelimit import RateLimiter
from registry.settings import Settings


@dataclass
class Context:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    actor: Actor
    request_id: str
    audit_log: AuditLog
    ring: KeyRing
    blobs: BlobStore
    # What the actor may still spend on query cost; set when a query costs more than is left.
    cost_budget: RateLimiter
    retry_after: int | None = None
    # The day the request reads the record as of (an ``asOf`` argument); None: today.
    as_of: date | None = None
    _session: AsyncSession | None = None
    _countries: dict[str, Country] | None = None
    wrote: bool = field(default=False)
    # Set before the session is first used when the request only reads (a query of fields
    # that write nothing): on PostgreSQL its statements then run without BEGIN and ROLLBACK.
    reads_only: bool = field(default=False)
    # What this request must leave in the audit log before its answer leaves (R-ACC-6).
    audit_trail: list[Entry] = field(default_factory=list)

    def audit(
        self,
        action: str,
        outcome: Outcome,
        *,
        target: str | None = None,
        purpose: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        self.audit_trail.append(
            Entry(
                principal=self.actor.handle,
                action=action,
                outcome=outcome,
                target=target,
                purpose=purpose,
                request_id=self.request_id,
                detail=detail,
            )
        )

    @property
    def day(self) -> date:
        """The day whose record the request reads: what takes part is judged on it."""
        return self.as_of or clock.today()

    @property
    def session(self) -> AsyncSession:
        """The request's one session; its transaction commits when the request ends well."""
        if self._session is None:
            self._session = (_autocommitting(self.sessions) if self.reads_only else self.sessions)()
        return self._session

    def require(self, action: Action) -> None:
        authorize(self.actor, action)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[AsyncSession]:
        """A mutation's own step: if it fails, only its changes are undone."""
        if self.reads_only:
            raise RuntimeError("a request that only reads has no transaction to write in")
        async with self.session.begin_nested():
            yield self.session
        self.wrote = True

    async def finish(self, *, succeeded: bool) -> None:
        if self._session is None:
            return
        try:
            if succeeded and self.wrote:
                await self._session.commit()
            else:
                await self._session.rollback()
        finally:
            await self._session.close()
            self._session = None

    async def countries(self) -> dict[str, Country]:
        # A few dozen rows that every entity and transfer points at: loaded once a request.
        if self._countries is None:
            rows = (await self.session.scalars(select(Country))).all()
            self._countries = {country.code: country for country in rows}
        return self._countries


def _autocommitting(
    sessions: async_sessionmaker[AsyncSession],
) -> async_sessionmaker[AsyncSession]:
    """``sessions`` with each statement committed on its own on PostgreSQL, sharing the
    pool; SQLite's sessions keep their transactions.

    Under READ COMMITTED, which the record's database runs, each statement of a transaction
    reads what was committed when it began anyway: BEGIN and ROLLBACK around statements
    that only read add no consistency between them, only two round trips. Made once per
    factory: an engine's options cost more to make than a session.
    """
    if sessions not in _AUTOCOMMITTING:
        engine = sessions.kw.get("bind")
        _AUTOCOMMITTING[sessions] = (
            async_sessionmaker(
                class_=sessions.class_,
                **{**sessions.kw, "bind": engine.execution_options(isolation_level="AUTOCOMMIT")},
            )
            if isinstance(engine, AsyncEngine) and engine.dialect.name == "postgresql"
            else None
        )
    return _AUTOCOMMITTING[sessions] or sessions


# None for a factory whose sessions keep their transactions.
_AUTOCOMMITTING: WeakKeyDictionary[
    async_sessionmaker[AsyncSession], async_sessionmaker[AsyncSession] | None
] = WeakKeyDictionary()

Info = strawberry.Info[Context, None]
