"""A kept answer costs one statement to the record's database: the token and the version
together, with no transaction around them on PostgreSQL; and every rule of signing in still
holds on that path."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest_asyncio
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from registry import clock
from registry.access import service as access
from registry.access.models import Principal
from registry.access.policy import Role
from registry.db import transaction
from tests.conftest import OFFICER, Api

READ = '{ entity(slug: "dmx-us") { slug registeredOffice } }'
UPDATE = 'mutation { updateEntity(slug: "dmx-us", input: {registeredOffice: "%s"}) { errors { message } } }'
HANDLE = "test-privacy-officer"


class Wire:
    """What reaches the record's database: each statement, and BEGIN, COMMIT and ROLLBACK
    where the driver sends them (not under AUTOCOMMIT, where asyncpg sends none)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.sent: list[str] = []
        sync = engine.sync_engine
        event.listen(sync, "before_cursor_execute", self._statement)
        event.listen(sync, "begin", lambda conn: self._transaction(conn, "BEGIN"))
        event.listen(sync, "commit", lambda conn: self._transaction(conn, "COMMIT"))
        event.listen(sync, "rollback", lambda conn: self._transaction(conn, "ROLLBACK"))

    def _statement(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # SQLite's own BEGIN (IMMEDIATE) goes as a statement: it is counted as the BEGIN.
        if not statement.startswith("BEGIN"):
            self.sent.append(statement)

    def _transaction(self, conn: Any, name: str) -> None:
        if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            self.sent.append(name)

    @staticmethod
    def verbs(sent: list[str]) -> list[str]:
        return [statement.split()[0] for statement in sent]

    def during(self) -> _Counting:
        return _Counting(self)


class _Counting:
    def __init__(self, wire: Wire) -> None:
        self.wire = wire

    async def __aenter__(self) -> list[str]:
        self.wire.sent.clear()
        return self.wire.sent

    async def __aexit__(self, *_exc: object) -> None:
        return None


@pytest_asyncio.fixture
async def wire(engine: AsyncEngine) -> AsyncIterator[Wire]:
    yield Wire(engine)


async def post(api: Api, query: str, token: str) -> httpx.Response:
    return await api.client.post(
        "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {token}"}
    )


TRANSACTION = ("BEGIN", "COMMIT", "ROLLBACK")
VERSION = "max(change.sequence)"


async def test_a_cache_hit_is_one_statement_and_on_postgresql_no_transaction(
    api: Api, wire: Wire, engine: AsyncEngine
) -> None:
    await api.data(READ)
    async with wire.during() as sent:
        await api.data(READ)
    if engine.dialect.name == "postgresql":
        assert Wire.verbs(sent) == ["SELECT"]
    else:
        # SQLite is in the process: a transaction costs no round trip there.
        assert [s for s in Wire.verbs(sent) if s not in TRANSACTION] == ["SELECT"]
    assert sum(VERSION in s for s in sent) == 1


async def test_a_computed_answer_reads_the_version_with_the_token_and_only_there(
    api: Api, wire: Wire, engine: AsyncEngine
) -> None:
    await api.data("{ me { handle } }")  # the token's first use, written once
    async with wire.during() as sent:
        await api.data(READ)
    statements = [s for s in sent if s not in TRANSACTION]
    assert "api_token" in statements[0] and VERSION in statements[0]
    assert not any(VERSION in s for s in statements[1:])
    if engine.dialect.name == "postgresql":
        # The token's statement alone, then the answer's own read-only transaction.
        assert Wire.verbs(sent)[:2] == ["SELECT", "BEGIN"] and sent[-1] == "ROLLBACK"


async def test_a_change_moves_the_version_read_with_the_token(api: Api) -> None:
    assert (await api.data(READ))["entity"]["registeredOffice"] is None
    await api.data(UPDATE % "1 Main St")
    assert (await api.data(READ))["entity"]["registeredOffice"] == "1 Main St"


async def last_used(sessions: async_sessionmaker[AsyncSession]) -> object:
    async with transaction(sessions) as session:
        tokens = await access.list_tokens(session=session, actor=OFFICER, handle=HANDLE)
    return tokens[0].last_used_at


async def test_a_cache_hit_keeps_the_tokens_last_use_to_the_minute(
    api: Api,
    wire: Wire,
    frozen_clock: clock.FrozenClock,
    seeded: async_sessionmaker[AsyncSession],
) -> None:
    await api.data(READ)
    first = await last_used(seeded)
    assert first == clock.now()
    frozen_clock.advance(timedelta(seconds=30))
    async with wire.during() as sent:
        await api.data(READ)
    assert "UPDATE" not in Wire.verbs(sent)
    assert await last_used(seeded) == first
    frozen_clock.advance(timedelta(minutes=5))
    async with wire.during() as sent:
        await api.data(READ)
    assert Wire.verbs(sent).count("UPDATE") == 1
    # Committed: another session reads it.
    assert await last_used(seeded) == clock.now()


async def test_r_acc_2_a_revoked_expired_or_deactivated_token_is_refused_on_a_cache_hit(
    api: Api, frozen_clock: clock.FrozenClock, seeded: async_sessionmaker[AsyncSession]
) -> None:
    """R-ACC-2: a token stops at once when revoked, expired or its principal deactivated,
    though the answer it asked for is kept."""
    async with transaction(seeded) as session:
        revoked, record = await access.issue_token(
            session=session, actor=OFFICER, handle=HANDLE, label="to revoke"
        )
        short, _ = await access.issue_token(
            session=session,
            actor=OFFICER,
            handle=HANDLE,
            label="short",
            lifetime=timedelta(hours=1),
        )
    for token in (revoked, short, api.tokens[Role.PRIVACY_OFFICER]):
        assert (await post(api, READ, token)).status_code == 200
    async with transaction(seeded) as session:
        await access.revoke_token(session=session, actor=OFFICER, token_id=record.id)
    assert (await post(api, READ, revoked)).status_code == 401
    frozen_clock.advance(timedelta(hours=2))
    assert (await post(api, READ, short)).status_code == 401
    assert (await post(api, READ, api.tokens[Role.PRIVACY_OFFICER])).status_code == 200
    async with transaction(seeded) as session:
        await access.deactivate_principal(session=session, actor=OFFICER, handle=HANDLE)
    assert (await post(api, READ, api.tokens[Role.PRIVACY_OFFICER])).status_code == 401


async def test_r_acc_3_clearance_is_judged_from_the_dates_read_with_the_token(
    api: Api, seeded: async_sessionmaker[AsyncSession]
) -> None:
    """R-ACC-3: the clearance dates are read with the token on every request: an admin whose
    training date is moved to the future no longer reads the principals."""
    principals = "{ principals(first: 1) { nodes { handle } } }"
    admin = api.tokens[Role.ADMIN]
    assert "errors" not in (await post(api, principals, admin)).json()
    async with transaction(seeded) as session:
        principal = await session.scalar(select(Principal).where(Principal.handle == "test-admin"))
        assert principal is not None
        principal.trained_on = clock.today() + timedelta(days=1)
    refused = (await post(api, principals, admin)).json()
    assert refused["errors"] and not (refused.get("data") or {}).get("principals")
