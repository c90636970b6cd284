"""The ASGI application: /graphql, the audio routes, the console, /healthz, /readyz, /metrics.

/healthz and /readyz answer anyone and tell nothing personal; /metrics asks for its own
token (see registry.metrics); the console (/console) signs a browser in once and then knows
it by a session cookie; every other route asks for a bearer token and goes through the
policy table.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from registry._detach import detached
from registry.audit.service import AuditLog
from registry.blobs import BlobStore, LocalBlobStore, open_blob_store
from registry.console.pages import Console
from registry.console.routes import mount as console_mount
from registry.crypto import KeyRing
from registry.db import create_engine, session_factory
from registry.exports.http import ExportRoutes
from registry.graphql import ide
from registry.graphql.schema import build_schema
from registry.graphql.view import RegistryGraphQL
from registry.kms import open_key_ring
from registry.metrics import Metrics
from registry.record.imports.http import ImportRoutes
from registry.recordings.http import AudioRoutes
from registry.rights.http import PackageRoutes
from registry.settings import Environment, Settings
from registry.throttle import Throttle
from registry.upkeep.sweeping import sweep_all

logger = logging.getLogger(__name__)

# How long /readyz waits for each dependency: a load balancer's probe gives up soon after.
READINESS_SECONDS = 2.0
# A key no blob has (keys are recording IDs): asking a bucket for it proves the bucket
# answers and the credentials are taken, and costs one HEAD request.
READINESS_KEY = "readiness-probe"


def build_app(
    settings: Settings,
    engine: AsyncEngine | None = None,
    audit_log: AuditLog | None = None,
    ring: KeyRing | None = None,
    blobs: BlobStore | None = None,
) -> Starlette:
    # Every request may write (a token's last use, at least): on SQLite each takes the write
    # lock when it begins, instead of failing when a read turns into a write.
    engine = engine or create_engine(settings.resolved_database_url, serial_writes=True)
    audit_log = audit_log or AuditLog.open(settings.resolved_audit_database_url)
    ring = ring or open_key_ring(settings)
    blobs = blobs or open_blob_store(settings)
    sessions = session_factory(engine)
    metrics = Metrics(settings=settings, sessions=sessions)
    audit_log.on_append = metrics.audit_appended
    schema = build_schema(development=settings.env is Environment.DEVELOPMENT)
    graphql = RegistryGraphQL(
        schema,
        settings=settings,
        sessions=sessions,
        audit_log=audit_log,
        ring=ring,
        blobs=blobs,
    )
    audio = AudioRoutes(
        sessions=sessions,
        audit_log=audit_log,
        ring=ring,
        blobs=blobs,
        authenticate=graphql.authenticate,
        settings=settings,
    )

    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> JSONResponse:
        # Both databases, since no request that needs auditing can be answered without the
        # audit log's, and the blob store, without which no audio goes in or out; each is
        # given a few seconds, so a stalled one is reported, not waited on.
        checks = {
            "database": _answers(_select_one(engine)),
            "auditLog": _answers(audit_log.head()),
            "blobStore": _answers(_blobs_reachable(blobs)),
        }
        states = dict(zip(checks, await asyncio.gather(*checks.values()), strict=True))
        ready = all(states.values())
        body = {
            "status": "ready" if ready else "unavailable",
            **{name: "ok" if up else "unavailable" for name, up in states.items()},
        }
        return JSONResponse(body, status_code=200 if ready else 503)

    throttle = Throttle(settings=settings, audit_log=audit_log)
    console = Console(
        settings=settings, sessions=sessions, audit_log=audit_log, ring=ring, blobs=blobs
    )

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        stopping = asyncio.Event()
        sweeper = None
        if settings.sweep_interval_seconds:
            sweeper = asyncio.create_task(
                _sweep_every(
                    settings.sweep_interval_seconds, sessions, blobs, audit_log, metrics, stopping
                )
            )
        yield
        stopping.set()
        if sweeper is not None:
            await sweeper
        await throttle.close()
        await engine.dispose()
        await audit_log.close()

    app = Starlette(
        # Measured outermost, so requests the throttle refuses are counted too.
        middleware=[metrics.middleware(), throttle.middleware()],
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics.endpoint),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            *ide.routes(settings),
            *audio.routes(),
            *PackageRoutes.beside(audio).routes(),
            *ExportRoutes.beside(audio).routes(),
            console_mount(console),
            *ImportRoutes.beside(audio).routes(),
        ],
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.state.metrics = metrics
    # Other sign-in routes (OIDC) start console sessions through it (console.sessions).
    app.state.console = console
    return app


async def _select_one(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def _blobs_reachable(blobs: BlobStore) -> None:
    if isinstance(blobs, LocalBlobStore):
        # A folder that exists and this process may write into: no file is made.
        if not (blobs.root.is_dir() and os.access(blobs.root, os.W_OK | os.X_OK)):
            raise OSError(f"{blobs.root} is not a folder this process may write in")
        return
    await blobs.exists(READINESS_KEY)


async def _answers(probe: Coroutine[Any, Any, object]) -> bool:
    """Whether ``probe`` completes within ``READINESS_SECONDS``."""
    try:
        async with asyncio.timeout(READINESS_SECONDS):
            await detached(probe)
    except Exception:
        return False
    return True


async def _sweep_every(
    seconds: float,
    sessions: async_sessionmaker[AsyncSession],
    blobs: BlobStore,
    audit_log: AuditLog,
    metrics: Metrics,
    stopping: asyncio.Event,
) -> None:
    # Safe beside other replicas' sweepers and `registry sweep`: see recordings.retention.
    # Stopped between sweeps, never in one: cut short after its erasures committed and
    # before its audit entry, a sweep's shreds would go unaudited.
    while not stopping.is_set():
        try:
            swept = await sweep_all(sessions=sessions, blobs=blobs, audit_log=audit_log)
            metrics.sweep_done(swept)
            if swept.anything:
                logger.info("sweep: %s", swept.detail())
        except Exception:
            metrics.sweep_failed()
            logger.exception("sweep failed; it runs again in %g s", seconds)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await stopping.wait()
