"""A stalled audit database does not cascade (R-ACC-6 stays fail-closed, the rest stays up).

The stall is real: on PostgreSQL another session holds a lock on the audit table, on SQLite
another connection holds the write lock. Requests that must be audited are refused within
their deadline, without holding a connection to the record's database meanwhile, so
requests that need no audit entry go on; `/readyz` says which database is stalled.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import httpx
import pytest_asyncio
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from registry.access.policy import Role
from registry.access.service import Actor
from registry.audit.models import Outcome
from registry.audit.service import AuditLog
from registry.db import create_engine
from tests.conftest import Api, AppFactory, client_of, issue_role_tokens

SYSTEM = Actor.system("test")
# Long enough that each of the stalled requests reads what it was asked before its deadline
# on a loaded two-core machine (twenty at once on SQLite took more than one second there).
DEADLINE = 3.0
# More than the record database's pool holds (5, and 10 more on demand): were each to keep
# its connection while it waits for the audit log, the next request would find none.
STALLED = 20
AUDITED_READ = "{ principals(first: 5) { nodes { handle } } }"
UNAUDITED_READ = '{ me { handle } entity(slug: "talkdesk") { slug } }'
UPDATE = (
    'mutation { updateEntity(slug: "dmx-us", input: {registeredOffice: "1 Main St"})'
    " { errors { message } } }"
)


@pytest_asyncio.fixture
async def api(make_app: AppFactory, seeded: async_sessionmaker[AsyncSession]) -> AsyncIterator[Api]:
    tokens = await issue_role_tokens(seeded)
    app = make_app(env="production", request_timeout_seconds=DEADLINE, rate_limit_per_minute=0)
    async with client_of(app) as client:
        api = Api(client, tokens)
        for role in Role:
            await warm_up(api, role)
        yield api


async def warm_up(api: Api, role: Role) -> None:
    """Each token's last use, written once before the stall. Under the short deadline a
    loaded machine may miss it on a first connection: tried again, within a deadline."""
    deadline = time.monotonic() + 10
    while (response := await post(api, "{ me { handle } }", role)).status_code != 200:
        assert time.monotonic() < deadline, response.text
        await asyncio.sleep(0.05)


@pytest_asyncio.fixture
async def stall(audit_url: str) -> AsyncIterator[AsyncConnection]:
    """Another session of the audit database, holding what every append needs."""
    engine = create_engine(audit_url, serial_writes=True)
    connection = await engine.connect()
    await connection.begin()  # on SQLite: BEGIN IMMEDIATE, the write lock
    if engine.dialect.name == "postgresql":
        await connection.execute(text("LOCK TABLE audit_event IN ACCESS EXCLUSIVE MODE"))
    try:
        yield connection
    finally:
        await connection.rollback()
        await connection.close()
        await engine.dispose()


async def post(api: Api, query: str, role: Role) -> httpx.Response:
    headers = {"Authorization": f"Bearer {api.tokens[role]}"}
    return await api.client.post("/graphql", json={"query": query}, headers=headers)


def code_of(response: httpx.Response) -> str:
    code: str = response.json()["errors"][0]["extensions"]["code"]
    return code


async def test_r_acc_6_a_stalled_audit_database_refuses_in_time_and_holds_up_nothing_else(
    api: Api, stall: AsyncConnection, audit_log: AuditLog, engine: AsyncEngine
) -> None:
    """R-ACC-6: a stalled audit database refuses in time and holds up nothing else."""
    read: list[str] = []
    event.listen(
        engine.sync_engine,
        "before_cursor_execute",
        lambda *args: read.append(args[2]) if "FROM principal" in args[2] else None,
    )
    started = time.monotonic()
    waiting = asyncio.gather(*(post(api, AUDITED_READ, Role.ADMIN) for _ in range(STALLED)))
    # Once each has read what it was asked, all that is left to it is the audit log.
    await until(lambda: len(read) >= STALLED or waiting.done())
    assert len(read) >= STALLED, [response.text for response in await waiting]
    unaudited = await post(api, UNAUDITED_READ, Role.PRIVACY_OFFICER)
    # Were the waiting requests holding the pool's connections, it would find none and time out.
    assert unaudited.status_code == 200, unaudited.text
    refused = await asyncio.wait_for(waiting, timeout=10 * DEADLINE)
    refused_after = time.monotonic() - started
    assert {response.status_code for response in refused} == {503}
    assert {code_of(response) for response in refused} == {"AUDIT_UNAVAILABLE"}
    assert all("data" not in response.json() for response in refused)
    # Each at its deadline; the margin is for a loaded machine.
    assert refused_after < 5 * DEADLINE, refused_after
    # Neither a change nor a sign-in refusal waits longer; the change is undone.
    changed = await asyncio.wait_for(post(api, UPDATE, Role.PRIVACY_OFFICER), 5 * DEADLINE)
    assert changed.status_code == 503 and code_of(changed) == "AUDIT_UNAVAILABLE"
    junk = await asyncio.wait_for(
        api.client.post(
            "/graphql", json={"query": "{ me { handle } }"}, headers={"Authorization": "Bearer x"}
        ),
        5 * DEADLINE,
    )
    assert junk.status_code == 503 and code_of(junk) == "AUDIT_UNAVAILABLE"
    readiness = await api.client.get("/readyz")
    assert readiness.status_code == 503
    assert readiness.json() == {
        "status": "unavailable",
        "database": "ok",
        "auditLog": "unavailable",
        "blobStore": "ok",
    }

    await stall.rollback()
    ready = await poll_ready(api)
    assert ready == {"status": "ready", "database": "ok", "auditLog": "ok", "blobStore": "ok"}
    office = await api.data('{ entity(slug: "dmx-us") { registeredOffice } }')
    assert office["entity"]["registeredOffice"] != "1 Main St"
    read = await post(api, AUDITED_READ, Role.ADMIN)
    assert read.status_code == 200, read.text
    events = await audit_log.events(actor=SYSTEM, after_seq=0, limit=1000, action="principals")
    assert [e.outcome for e in events][-1] is Outcome.ALLOWED
    assert (await audit_log.verify()).intact


async def until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "never came about"
        await asyncio.sleep(0.01)


async def poll_ready(api: Api) -> object:
    """/readyz once the audit database answers again, or its last answer at the deadline."""
    deadline = time.monotonic() + 10
    while True:
        answer = await api.client.get("/readyz")
        if answer.status_code == 200 or time.monotonic() > deadline:
            return answer.json()
        await asyncio.sleep(0.05)


async def test_r_acc_6_the_audio_and_package_routes_refuse_in_time_when_the_audit_log_stalls(
    api: Api, stall: AsyncConnection
) -> None:
    # A sign-in refusal is audited before it is answered, on these routes as on /graphql.
    """R-ACC-6: the audio and package routes refuse in time when the audit log stalls."""
    for path in ("/recordings/some-recording/audio?purpose=quality", "/packages/1"):
        refused = await asyncio.wait_for(
            api.client.get(path, headers={"Authorization": "Bearer x"}), 5 * DEADLINE
        )
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "AUDIT_UNAVAILABLE"
    # What was given up on winds down once the log answers again.
    await stall.rollback()
    assert await poll_ready(api) == {
        "status": "ready",
        "database": "ok",
        "auditLog": "ok",
        "blobStore": "ok",
    }
