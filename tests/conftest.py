"""Fixtures: every database test runs on the embedded SQLite and on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from registry import clock, migrate
from registry.access import service as access
from registry.access.policy import Role
from registry.access.service import Actor
from registry.app import build_app
from registry.audit.service import AuditLog
from registry.blobs import LocalBlobStore
from registry.crypto import KeyRing
from registry.db import create_engine, session_factory, transaction
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


async def _seed_database(url: str) -> None:
    engine = create_engine(url)
    try:
        async with transaction(session_factory(engine)) as session:
            await seed(session=session, seeds_dir=SEEDS)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def sqlite_templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Migrated database files (the record, empty and seeded; the audit log): copied per test."""
    folder = tmp_path_factory.mktemp("templates")
    files = {kind: folder / f"{kind}.db" for kind in ("empty", "seeded", "audit")}
    migrate.upgrade(f"sqlite+aiosqlite:///{files['empty']}")
    shutil.copy(files["empty"], files["seeded"])
    asyncio.run(_seed_database(f"sqlite+aiosqlite:///{files['seeded']}"))
    migrate.upgrade_audit(f"sqlite+aiosqlite:///{files['audit']}")
    return files


@dataclass(frozen=True)
class PostgresTemplates:
    admin_url: str
    names: dict[str, str]

    def url(self, name: str) -> str:
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_templates() -> Iterator[PostgresTemplates | None]:
    """Template databases, as for SQLite, that each test's databases copy."""
    admin_url = _postgres_admin_url()
    if admin_url is None:
        yield None
        return
    prefix = f"registry_test_{uuid.uuid4().hex[:8]}"
    templates = PostgresTemplates(
        admin_url, {kind: f"{prefix}_{kind}" for kind in ("empty", "seeded", "audit")}
    )
    names = templates.names
    try:
        asyncio.run(_admin(admin_url, f'CREATE DATABASE "{names["empty"]}"'))
        migrate.upgrade(templates.url(names["empty"]))
        asyncio.run(
            _admin(admin_url, f'CREATE DATABASE "{names["seeded"]}" TEMPLATE "{names["empty"]}"')
        )
        asyncio.run(_seed_database(templates.url(names["seeded"])))
        asyncio.run(_admin(admin_url, f'CREATE DATABASE "{names["audit"]}"'))
        migrate.upgrade_audit(templates.url(names["audit"]))
        yield templates
    finally:
        for name in names.values():
            asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@dataclass
class Databases:
    """Makes fresh copies of the template databases of one backend for one test."""

    backend: str
    sqlite: dict[str, Path]
    postgres: PostgresTemplates | None
    folder: Path
    made: list[str]

    def fresh(self, kind: str) -> str:
        if self.backend == "sqlite":
            path = self.folder / f"{kind}-{uuid.uuid4().hex[:6]}.db"
            shutil.copy(self.sqlite[kind], path)
            return f"sqlite+aiosqlite:///{path}"
        if self.postgres is None:
            pytest.skip("no PostgreSQL: set REGISTRY_TEST_POSTGRES_URL or run `make test`")
        name = f"registry_test_{uuid.uuid4().hex[:12]}"
        template = self.postgres.names[kind]
        asyncio.run(
            _admin(self.postgres.admin_url, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        )
        self.made.append(name)
        return self.postgres.url(name)

    def drop(self) -> None:
        if self.postgres is not None:
            for name in self.made:
                statement = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
                asyncio.run(_admin(self.postgres.admin_url, statement))


@pytest.fixture(params=["sqlite", "postgresql"])
def databases(
    request: pytest.FixtureRequest,
    sqlite_templates: dict[str, Path],
    postgres_templates: PostgresTemplates | None,
    tmp_path: Path,
) -> Iterator[Databases]:
    """Every database test runs once on each backend."""
    made = Databases(request.param, sqlite_templates, postgres_templates, tmp_path, [])
    yield made
    made.drop()


@pytest.fixture
def database_url(request: pytest.FixtureRequest, databases: Databases) -> str:
    """The record's database for one test: seeded when the test asks for ``seeded``."""
    wants_seeds = {"seeded", "api"} & set(request.fixturenames)
    return databases.fresh("seeded" if wants_seeds else "empty")


@pytest.fixture
def audit_url(databases: Databases) -> str:
    """The audit log's own database for one test, on the same backend as the record's."""
    return databases.fresh("audit")


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


@pytest.fixture
def seeded(sessions: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:
    """Sessions on a database holding the seeds (see ``database_url``)."""
    return sessions


OFFICER = Actor.system("test-officer")


@dataclass
class Api:
    """A client of the real ASGI app, with a token per role."""

    client: httpx.AsyncClient
    tokens: dict[Role, str]

    async def query(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        role: Role = Role.PRIVACY_OFFICER,
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
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        role: Role = Role.PRIVACY_OFFICER,
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
            # Committed to confidentiality and trained (R-ACC-3), as every real user must be.
            await access.create_principal(
                session=session,
                actor=OFFICER,
                handle=handle,
                display_name=handle,
                roles=[role],
                confidentiality_committed_on=NOW.date() - timedelta(days=30),
                trained_on=NOW.date() - timedelta(days=20),
            )
            tokens[role], _ = await access.issue_token(
                session=session, actor=OFFICER, handle=handle, label="test"
            )
    return tokens


@pytest_asyncio.fixture
async def audit_log(audit_url: str) -> AsyncIterator[AuditLog]:
    log = AuditLog.open(audit_url)
    yield log
    await log.close()


AppFactory = Callable[..., Starlette]


@pytest.fixture
def ring(tmp_path: Path) -> KeyRing:
    return KeyRing.load_or_create(tmp_path / "keyring.json")


@pytest.fixture
def blobs(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")


@pytest.fixture
def make_app(
    database_url: str,
    audit_url: str,
    engine: AsyncEngine,
    audit_log: AuditLog,
    ring: KeyRing,
    blobs: LocalBlobStore,
    tmp_path: Path,
) -> AppFactory:
    """Builds the real app on the test's databases; keyword arguments override settings."""

    def make(**overrides: Any) -> Starlette:
        settings = Settings(
            database_url=database_url,
            audit_database_url=audit_url,
            var_dir=tmp_path,
            # Every covered query is answered both ways and compared: the whole GraphQL
            # corpus is the compiled plans' differential test.
            **{"privacy_contact": "privacy@example.test", "compiled_plans": "verify", **overrides},
        )
        return build_app(settings, engine=engine, audit_log=audit_log, ring=ring, blobs=blobs)

    return make


def client_of(app: Starlette, base_url: str = "http://registry.test") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


@pytest_asyncio.fixture
async def api(make_app: AppFactory, seeded: async_sessionmaker[AsyncSession]) -> AsyncIterator[Api]:
    tokens = await issue_role_tokens(seeded)
    async with client_of(make_app()) as client:
        yield Api(client, tokens)


Serve = Callable[..., Awaitable[Api]]


@pytest_asyncio.fixture
async def serve(
    make_app: AppFactory, seeded: async_sessionmaker[AsyncSession]
) -> AsyncIterator[Serve]:
    """Starts the app on the test's seeded database with the given settings."""
    tokens = await issue_role_tokens(seeded)
    async with AsyncExitStack() as clients:

        async def start(**settings: Any) -> Api:
            client = client_of(make_app(**settings))
            return Api(await clients.enter_async_context(client), tokens)

        yield start
