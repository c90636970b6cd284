"""The HTTP edges of the app: health, readiness, and unexpected errors masked."""

from __future__ import annotations

import shutil

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from registry.blobs import LocalBlobStore
from tests.conftest import Api


async def test_health_and_readiness(api: Api) -> None:
    assert (await api.client.get("/healthz")).json() == {"status": "ok"}
    ready = await api.client.get("/readyz")
    # Both databases are reported: the record's and the audit log's (R-ACC-6).
    assert ready.json() == {
        "status": "ready",
        "database": "ok",
        "auditLog": "ok",
        "blobStore": "ok",
    }


async def test_readiness_reports_a_blob_folder_gone(api: Api, blobs: LocalBlobStore) -> None:
    shutil.rmtree(blobs.root)
    ready = await api.client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json() == {
        "status": "unavailable",
        "database": "ok",
        "auditLog": "ok",
        "blobStore": "unavailable",
    }


async def test_an_unexpected_failure_is_masked_with_a_request_id(
    api: Api, engine: AsyncEngine
) -> None:
    async with engine.begin() as connection:
        await connection.execute(text("DROP TABLE engagement"))
    body = await api.query("{ entities(first: 5) { nodes { subProcessors { slug } } } }")
    (error,) = body["errors"]
    assert error["message"] == "Unexpected error."
    assert error["extensions"]["code"] == "INTERNAL" and error["extensions"]["requestId"]
    assert "engagement" not in str(body) and "Traceback" not in str(body)


async def test_the_request_id_is_echoed(api: Api) -> None:
    response = await api.client.post(
        "/graphql",
        json={"query": "{ me { handle } }"},
        headers={
            "Authorization": f"Bearer {next(iter(api.tokens.values()))}",
            "X-Request-ID": "abc12345-test",
        },
    )
    assert response.headers["X-Request-ID"] == "abc12345-test"
