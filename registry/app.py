"""The ASGI application: /graphql, /healthz and /readyz."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from registry.audit.service import AuditLog
from registry.db import create_engine, session_factory
from registry.graphql.schema import build_schema
from registry.graphql.view import RegistryGraphQL
from registry.settings import Environment, Settings


def build_app(
    settings: Settings, engine: AsyncEngine | None = None, audit_log: AuditLog | None = None
) -> Starlette:
    engine = engine or create_engine(settings.resolved_database_url)
    audit_log = audit_log or AuditLog.open(settings.resolved_audit_database_url)
    schema = build_schema(development=settings.env is Environment.DEVELOPMENT)
    graphql = RegistryGraphQL(
        schema, settings=settings, sessions=session_factory(engine), audit_log=audit_log
    )

    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> JSONResponse:
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:
            return JSONResponse({"status": "database unavailable"}, status_code=503)
        return JSONResponse({"status": "ready"})

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        await engine.dispose()
        await audit_log.close()

    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/graphql", graphql, methods=["GET", "POST"]),
        ],
        lifespan=lifespan,
    )
    app.state.engine = engine
    return app
