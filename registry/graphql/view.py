"""The /graphql endpoint: authenticates, gives each request its context, commits once."""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from registry import clock
from registry.access import service as access
from registry.access.service import Actor
from registry.db import transaction
from registry.errors import Unauthenticated
from registry.graphql.cache import CacheKey, ResponseCache, cacheable_request, read_scope
from registry.graphql.context import Context
from registry.history.service import record_version
from registry.settings import Environment, Settings

logger = logging.getLogger(__name__)

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def _error(status: int, code: str, message: str, request_id: str) -> JSONResponse:
    body = {"errors": [{"message": message, "extensions": {"code": code, "requestId": request_id}}]}
    return JSONResponse(body, status_code=status, headers={"X-Request-ID": request_id})


class RegistryGraphQL(GraphQL[Context, None]):
    def __init__(
        self, schema: Any, *, settings: Settings, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        development = settings.env is Environment.DEVELOPMENT
        super().__init__(
            schema,
            graphql_ide="graphiql" if development else None,
            allow_queries_via_get=False,
        )
        self.settings = settings
        self.sessions = sessions
        self.cache = ResponseCache(
            max_entries=settings.response_cache_entries, max_bytes=settings.response_cache_bytes
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await Response(status_code=404)(scope, receive, send)
            return
        request = Request(scope, receive)
        given = request.headers.get("x-request-id", "")
        request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex
        response = await self._respond(request, request_id)
        response.headers["X-Request-ID"] = request_id
        await response(scope, receive, send)

    async def _respond(self, request: Request, request_id: str) -> Response:
        if request.method == "GET" and self.graphql_ide:
            # The IDE page holds no data; every query it sends is authenticated.
            return await self.render_graphql_ide(request)
        try:
            actor = await self._authenticate(request)
        except Unauthenticated as error:
            return _error(401, error.code, error.message, request_id)
        context = Context(
            settings=self.settings, sessions=self.sessions, actor=actor, request_id=request_id
        )
        succeeded = False
        try:
            key = await self._cache_key(request, context)
            cached = self.cache.get(key) if key is not None else None
            if cached is not None:
                response = Response(cached, media_type="application/json")
            else:
                response = await self.run(request, context=context)
                if (
                    key is not None
                    and response.status_code == 200
                    and getattr(request.state, "clean", False)
                ):
                    self.cache.put(key, bytes(response.body))
            succeeded = response.status_code == 200
            await context.finish(succeeded=succeeded)
        except Exception:
            logger.exception("request %s failed", request_id)
            if not succeeded:
                await context.finish(succeeded=False)
            return _error(500, "INTERNAL", "Unexpected error.", request_id)
        return response

    async def _cache_key(self, request: Request, context: Context) -> CacheKey | None:
        if self.cache.max_entries == 0 or request.method != "POST":
            return None
        canonical = cacheable_request(await request.body())
        if canonical is None:
            return None
        return CacheKey(
            version=await record_version(context.session),
            day=clock.today(),
            scope=read_scope(context.actor),
            request=canonical,
        )

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        # Only an answer without errors may be kept for others.
        request.state.clean = not result.errors
        return await super().process_result(request, result)

    async def _authenticate(self, request: Request) -> Actor:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("authentication required: send Authorization: Bearer <token>")
        async with transaction(self.sessions) as session:
            return await access.authenticate(session=session, token=token.strip())
