"""The server as `registry serve` builds it, under concurrent callers: no request fails for
another's sake. On SQLite a transaction that began as a read and then wrote (a token's last
use, a download counted, an upload's row) failed with "database is locked" when another
wrote first; the server's transactions now take the write lock when they begin.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest_asyncio
from sqlalchemy import func, select

from registry import clock
from registry.access.policy import Role
from registry.app import build_app
from registry.blobs import LocalBlobStore
from registry.crypto import KeyRing
from registry.recordings.models import PendingUpload, Recording
from registry.rights.models import Package, RequestKind
from registry.settings import Settings
from tests.conftest import issue_role_tokens
from tests.recordings.conftest import Scene, Sessions, chunks
from tests.recordings.test_http import bearer
from tests.rights.test_packages import answer, consented_call, new_request

UPLOADS, UPLOAD_BYTES = 16, 5 * 1024 * 1024
DOWNLOADS = 300
TOKEN_USES = 100
# Any query: the token's check is what writes.
QUERY = "{ __typename }"


@dataclass
class Server:
    client: httpx.AsyncClient
    tokens: dict[Role, str]


@pytest_asyncio.fixture
async def server(
    database_url: str, audit_url: str, seeded: Sessions, blobs: LocalBlobStore, ring: KeyRing
) -> AsyncIterator[Server]:
    """The app with its own engine, as `serve` makes it, on the test's files and databases
    (its key ring and blob folder are those of ``ring`` and ``blobs``)."""
    settings = Settings(
        database_url=database_url,
        audit_database_url=audit_url,
        var_dir=blobs.root.parent,
        privacy_contact="privacy@example.test",
        # The loads come from one principal each: the rate limit is not what is tried here.
        rate_limit_per_minute=0,
    )
    app = build_app(settings)
    tokens = await issue_role_tokens(seeded)
    # Errors are answers here, to be counted, not exceptions raised into the test.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://registry.test") as client,
    ):
        yield Server(client, tokens)


def statuses(responses: list[httpx.Response]) -> Counter[int]:
    return Counter(response.status_code for response in responses)


async def test_concurrent_uploads_all_succeed_and_leave_one_blob_per_recording(
    server: Server, scene: Scene, seeded: Sessions, blobs: LocalBlobStore
) -> None:
    call_id = await consented_call(scene)
    headers = {**bearer(server.tokens[Role.IT_OPERATOR]), "Content-Type": "audio/wav"}
    audio = bytes(range(256)) * (UPLOAD_BYTES // 256)

    async def upload() -> httpx.Response:
        return await server.client.put(
            f"/calls/{call_id}/audio/full", content=chunks(audio), headers=headers, timeout=120
        )

    responses = await asyncio.gather(*(upload() for _ in range(UPLOADS)))
    assert statuses(responses) == {201: UPLOADS}, [r.text for r in responses if r.is_error]
    async with seeded() as session:
        keys = set((await session.scalars(select(Recording.blob_key))).all())
        pending = await session.scalar(select(func.count()).select_from(PendingUpload))
    assert {path.name for path in blobs.root.iterdir()} == keys
    assert len(keys) == UPLOADS
    assert pending == 0


async def test_concurrent_package_downloads_are_all_served_and_counted(
    server: Server, seeded: Sessions, blobs: LocalBlobStore, ring: KeyRing
) -> None:
    request_id = await new_request(seeded, RequestKind.ARRANGEMENT, None)
    package_id = await answer(seeded, ring, blobs, request_id)
    headers = bearer(server.tokens[Role.PRIVACY_OFFICER])

    async def download() -> httpx.Response:
        return await server.client.get(f"/packages/{package_id}", headers=headers, timeout=120)

    responses = await asyncio.gather(*(download() for _ in range(DOWNLOADS)))
    assert statuses(responses) == {200: DOWNLOADS}, [r.text for r in responses if r.is_error]
    async with seeded() as session:
        package = await session.get_one(Package, package_id)
    assert package.downloads == DOWNLOADS


async def test_concurrent_use_of_tokens_whose_last_use_is_written_never_fails(
    server: Server, frozen_clock: clock.FrozenClock
) -> None:
    roles = list(server.tokens)

    async def query(n: int) -> httpx.Response:
        headers = bearer(server.tokens[roles[n % len(roles)]])
        return await server.client.post(
            "/graphql", json={"query": QUERY}, headers=headers, timeout=120
        )

    for _ in range(3):
        # Past the resolution of the last use: the first use of each token writes it again.
        frozen_clock.advance(timedelta(minutes=2))
        responses = await asyncio.gather(*(query(n) for n in range(TOKEN_USES)))
        assert not [r for r in responses if r.status_code >= 500], [
            r.text for r in responses if r.status_code >= 500
        ]
