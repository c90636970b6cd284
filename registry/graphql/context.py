"""The typed per-request context: who asks, the request's session, and its caches."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import strawberry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry.access.policy import Action
from registry.access.service import Actor, authorize
from registry.settings import Settings
from registry.transfers.models import Country


@dataclass
class Context:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    actor: Actor
    request_id: str
    _session: AsyncSession | None = None
    _countries: dict[str, Country] | None = None
    wrote: bool = field(default=False)

    @property
    def session(self) -> AsyncSession:
        """The request's one session; its transaction commits when the request ends well."""
        if self._session is None:
            self._session = self.sessions()
        return self._session

    def require(self, action: Action) -> None:
        authorize(self.actor, action)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[AsyncSession]:
        """A mutation's own step: if it fails, only its changes are undone."""
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

    async def countries(self) -> dict[str, Country]:
        # A few dozen rows that every entity and transfer points at: loaded once a request.
        if self._countries is None:
            rows = (await self.session.scalars(select(Country))).all()
            self._countries = {country.code: country for country in rows}
        return self._countries


Info = strawberry.Info[Context, None]
