"""Fixtures: every database test runs on the embedded SQLite and on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from registry import clock, migrate
from registry.access import service as access
from registry.access.policy import Role
from registry.access.service import Actor
from registry.app import build_app
from registry.db import Base, create_engine, session_factory, transaction
from registry.seeding import seed
from registry.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _postgres_admin_url() -> str | None:
    url = os.environ.get("REGISTRY_TEST_POSTGRES_URL", "")
    if url:
        return url
    if os.environ.get("CI") == "true":
        raise RuntimeError("REGISTRY_TEST_POSTGRES_URL is required under CI (run `make test`)")
    return None


async def _admin(url: str, *statements: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            for statement in statements:
                await autocommit.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "registry.db"
    migrate.upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str | None]:
    admin_url = _postgres_admin_url()
    if admin_url is None:
        yield None
        return
    name = f"registry_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    yield url
    asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest,
    sqlite_template: Path,
    postgres_database: str | None,
    tmp_path: Path,
) -> str:
    """A migrated, empty database of each backend."""
    if request.param == "sqlite":
        path = tmp_path / "registry.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    if postgres_database is None:
        pytest.skip("no PostgreSQL: set REGISTRY_TEST_POSTGRES_URL or run `make test`")
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    asyncio.run(_admin(postgres_database, f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    return postgres_database


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[clock.FrozenClock]:
    """Time stands still at NOW unless a test moves it."""
    frozen = clock.FrozenClock(NOW)
    clock.set_now(frozen)
    yield frozen
    clock.set_now(lambda: datetime.now(UTC))


@pytest_asyncio.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


@pytest_asyncio.fixture
async def seeded(sessions: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:
    async with transaction(sessions) as session:
        await seed(session=session, seeds_dir=SEEDS)
    return sessions


OFFICER = Actor.system("test-officer")


@dataclass
class Api:
    """A client of the real ASGI app, with a token per role."""

    client: httpx.AsyncClient
    tokens: dict[Role, str]

    async def query(
        self, query: str, variables: dict[str, Any] | None = None, *, role: Role = Role.PRIVACY_OFFICER
    ) -> dict[str, Any]:
        response = await self.client.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {self.tokens[role]}"},
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(
        self, query: str, variables: dict[str, Any] | None = None, *, role: Role = Role.PRIVACY_OFFICER
    ) -> dict[str, Any]:
        body = await self.query(query, variables, role=role)
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data


async def issue_role_tokens(sessions: async_sessionmaker[AsyncSession]) -> dict[Role, str]:
    tokens = {}
    async with transaction(sessions) as session:
        for role in Role:
            handle = f"test-{role.value.replace('_', '-')}"
            await access.create_principal(
                session=session, actor=OFFICER, handle=handle, display_name=handle, roles=[role]
            )
            tokens[role], _ = await access.issue_token(
                session=session, actor=OFFICER, handle=handle, label="test"
            )
    return tokens


@pytest_asyncio.fixture
async def api(
    database_url: str, engine: AsyncEngine, seeded: async_sessionmaker[AsyncSession]
) -> AsyncIterator[Api]:
    settings = Settings(database_url=database_url, privacy_contact="privacy@example.test")
    app = build_app(settings, engine=engine)
    tokens = await issue_role_tokens(seeded)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://registry.test") as client:
        yield Api(client, tokens)
