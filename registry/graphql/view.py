"""The /graphql endpoint: authenticates, gives each request its context, commits once."""

from __future__ import annotations

import asyncio
import logging
import math
import re
import uuid
from http import HTTPStatus
from typing import Any

from cross_web import HTTPException
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from registry import clock
from registry._detach import detached
from registry.access import service as access
from registry.access.service import Actor
from registry.audit.service import AuditLog, AuditUnavailable, sign_in_refused
from registry.blobs import BlobStore
from registry.crypto import KeyRing
from registry.errors import DomainError, InvalidInput, Unauthenticated
from registry.graphql import ide
from registry.graphql.cache import CacheKey, CanonicalRequests, ResponseCache, read_scope
from registry.graphql.compiled.verify import checked
from registry.graphql.context import Context
from registry.graphql.ratelimit import RateLimiter
from registry.logs import bind_principal, bind_request
from registry.metrics import observed
from registry.record.history.requests import on_behalf_of
from registry.record.history.service import record_version_column
from registry.settings import Environment, Settings

logger = logging.getLogger(__name__)

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def _error(
    status: int, code: str, message: str, request_id: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    observed().code = code
    body = {"errors": [{"message": message, "extensions": {"code": code, "requestId": request_id}}]}
    return JSONResponse(
        body, status_code=status, headers={"X-Request-ID": request_id, **(headers or {})}
    )


def _rate_limited(reason: str, seconds: int, request_id: str) -> JSONResponse:
    message = f"{reason}: try again in {seconds} s"
    headers = {"Retry-After": str(seconds)}
    return _error(429, "RATE_LIMITED", message, request_id, headers=headers)


async def _body_within(receive: Receive, declared: str, limit: int) -> bytes | None:
    """The body if it is at most ``limit`` bytes; ``None``, having read no more than the
    limit, if it is larger (a declared length is believed, a stream is counted). Read from
    the ASGI messages themselves: the body is kept as it came, one chunk not copied."""
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk: bytes = message.get("body", b"")
        more = message.get("more_body", False)
        size += len(chunk)
        if size > limit:
            return None
        if chunk:
            chunks.append(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _bearer_token(headers: Headers) -> str:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("authentication required: send Authorization: Bearer <token>")
    return token.strip()


def _token_engine(sessions: async_sessionmaker[AsyncSession]) -> AsyncEngine:
    """The engine of ``sessions``, its statements each committed on its own on PostgreSQL
    (made once: an engine's options cost more to make than a connection)."""
    engine = sessions.kw.get("bind")
    if not isinstance(engine, AsyncEngine):
        raise TypeError("the record's sessions are bound to an engine")
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return engine


def _replaying(body: bytes, receive: Receive) -> Receive:
    """``receive`` with the body already read given back first; then the client's own
    messages (a disconnect) as they come."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


class RegistryGraphQL(GraphQL[Context, None]):
    def __init__(
        self,
        schema: Any,
        *,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        audit_log: AuditLog,
        ring: KeyRing,
        blobs: BlobStore,
    ) -> None:
        development = settings.env is Environment.DEVELOPMENT
        super().__init__(
            schema,
            graphql_ide="graphiql" if development else None,
            allow_queries_via_get=False,
        )
        self.settings = settings
        self.sessions = sessions
        self.audit_log = audit_log
        self.ring = ring
        self.blobs = blobs
        self.cache = ResponseCache(
            max_entries=settings.response_cache_entries, max_bytes=settings.response_cache_bytes
        )
        self.canonical = CanonicalRequests()
        # Built once: the statement is the same for every request.
        self.version_column = record_version_column()
        self.token_engine = _token_engine(sessions)
        self.rate_limiter = RateLimiter(
            per_minute=settings.rate_limit_per_minute, burst=settings.rate_limit_burst
        )
        self.cost_budget = RateLimiter(
            per_minute=settings.query_cost_per_minute, burst=settings.query_cost_per_minute
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await Response(status_code=404)(scope, receive, send)
            return
        headers = Headers(scope=scope)
        given = headers.get("x-request-id", "")
        request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex
        bind_request(request_id)
        limit = self.settings.graphql_max_body_bytes
        body = await _body_within(receive, headers.get("content-length", ""), limit)
        observed().graphql_body = body
        if body is not None:
            # Every change the request records names it (R-INV-4).
            with on_behalf_of(request_id):
                response = await self._respond(
                    Request(scope, _replaying(body, receive)), body, request_id
                )
        else:
            message = f"the request body is larger than {limit} bytes"
            response = _error(413, "PAYLOAD_TOO_LARGE", message, request_id)
        response.headers["X-Request-ID"] = request_id
        await response(scope, receive, send)

    async def _respond(self, request: Request, body: bytes, request_id: str) -> Response:
        if request.method == "GET" and self.graphql_ide:
            # The IDE page holds no data; every query it sends is authenticated.
            return await self.render_graphql_ide(request)
        try:
            actor, version = await self._authenticate_alone(_bearer_token(request.headers))
        except Unauthenticated as error:
            return await self._refuse_sign_in(error, request_id)
        bind_principal(actor.handle)
        if wait := self.rate_limiter.take(actor.handle):
            return _rate_limited("too many requests", math.ceil(wait), request_id)
        key = self._cache_key(request.method, body, version, actor)
        if key is not None:
            cached = self.cache.get(key)
            observed().cache_lookup(hit=cached is not None)
            if cached is not None:
                # Kept answers are of reads that execute nothing: no transaction to end,
                # nothing in the audit trail, no cost charged (as when they were computed).
                return Response(cached, media_type="application/json")
        context = Context(
            settings=self.settings,
            sessions=self.sessions,
            actor=actor,
            request_id=request_id,
            audit_log=self.audit_log,
            ring=self.ring,
            blobs=self.blobs,
            cost_budget=self.cost_budget,
        )
        # The audit entries are written within the request's deadline too: a stalled audit
        # database costs each request its deadline at most, never a worker for good.
        deadline = asyncio.timeout(self.settings.request_timeout_seconds)
        auditing = False
        try:
            async with deadline:
                response = await self._answer(request, context, key)
                if context.retry_after is None and not deadline.expired():
                    if not context.wrote:
                        # Nothing to undo: the connection goes back to the pool before the
                        # wait on the audit log, which so holds up no one else's queries.
                        await context.finish(succeeded=False)
                    auditing = True
                    # Written before the answer leaves; if it cannot be, nothing leaves or
                    # stays done. (An empty trail is no append: no task for it.)
                    if context.audit_trail:
                        await detached(self.audit_log.append(context.audit_trail))
        except AuditUnavailable:
            await self._abandon(context, request_id)
            return self._audit_unavailable(request_id)
        except Exception as error:
            await self._abandon(context, request_id)
            if deadline.expired():
                return (
                    self._audit_unavailable(request_id) if auditing else self._timed_out(request_id)
                )
            return self._failure(error, request_id)
        if context.retry_after is not None:
            # Refused before execution: nothing was read, nothing to audit.
            await self._abandon(context, request_id)
            message = "this query costs more than is left of this minute's budget"
            return _rate_limited(message, context.retry_after, request_id)
        if deadline.expired():
            # Something swallowed the cancellation and answered anyway: that answer may be partial.
            await self._abandon(context, request_id)
            return self._timed_out(request_id)
        try:
            await context.finish(succeeded=response.status_code == 200)
        except Exception as error:
            return self._failure(error, request_id)
        return response

    async def _refuse_sign_in(self, error: Unauthenticated, request_id: str) -> Response:
        entry = sign_in_refused(error.message, request_id)
        try:
            await self.audit_log.append_within([entry], self.settings.request_timeout_seconds)
        except AuditUnavailable:
            return self._audit_unavailable(request_id)
        return _error(401, error.code, error.message, request_id)

    def _audit_unavailable(self, request_id: str) -> Response:
        logger.error("request %s refused: the audit log cannot be written", request_id)
        message = "the audit log cannot be written, so nothing was read or changed"
        return _error(503, "AUDIT_UNAVAILABLE", message, request_id)

    async def _answer(self, request: Request, context: Context, key: CacheKey | None) -> Response:
        with checked():
            response = await self.run(request, context=context)
        if (
            key is not None
            and response.status_code == 200
            and getattr(request.state, "clean", False)
        ):
            self.cache.put(key, bytes(response.body))
        return response

    async def _abandon(self, context: Context, request_id: str) -> None:
        # Nothing was committed, so a rollback that fails (on a connection that the
        # cancellation broke) loses nothing; closing hands the connection back to be reset.
        try:
            await context.finish(succeeded=False)
        except Exception:
            logger.exception("request %s: rollback failed", request_id)

    def _timed_out(self, request_id: str) -> Response:
        limit = self.settings.request_timeout_seconds
        logger.warning("request %s cancelled after %g s", request_id, limit)
        message = f"the request took longer than {limit:g} s and was cancelled; nothing changed"
        return _error(503, "TIMEOUT", message, request_id)

    def _failure(self, error: Exception, request_id: str) -> Response:
        if isinstance(error, DomainError):
            return _error(400, error.code, error.message, request_id)
        if isinstance(error, HTTPException):
            # Refused before execution: not JSON, no query, a batch of operations, ...
            code = HTTPStatus(error.status_code).name
            return _error(error.status_code, code, error.reason, request_id)
        logger.error("request %s failed", request_id, exc_info=error)
        return _error(500, "INTERNAL", "Unexpected error.", request_id)

    def _cache_key(self, method: str, body: bytes, version: int, actor: Actor) -> CacheKey | None:
        if self.cache.max_entries == 0 or method != "POST":
            return None
        canonical = self.canonical.of(body)
        if canonical is None:
            return None
        return CacheKey(
            # Read with the token, before anything the answer reads: the answer is at least
            # as new as the version it is kept under, never older.
            version=version,
            day=clock.today(),
            scope=read_scope(actor),
            request=canonical,
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        # Strawberry's page loads GraphiQL from a CDN; this one from the package's own files.
        return ide.page()

    def decode_json(self, data: str | bytes) -> object:
        # strawberry turns JSON syntax errors into 400 but takes anything else on trust:
        # bytes that are no text, or a body that is null or a number, would end in a 500.
        try:
            decoded = super().decode_json(data)
        except UnicodeDecodeError as error:
            raise HTTPException(400, "Unable to parse request body as JSON") from error
        except RecursionError as error:
            raise InvalidInput("the request body is nested too deeply") from error
        if not isinstance(decoded, dict | list):
            raise HTTPException(400, "A GraphQL request is a JSON object")
        return decoded

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        # Only an answer without errors may be kept for others.
        request.state.clean = not result.errors
        observed().cost = (result.extensions or {}).get("cost", {}).get("requested")
        return await super().process_result(request, result)

    async def authenticate(self, request: Request, session: AsyncSession | None = None) -> Actor:
        """The actor of the request's bearer token, checked on its own, or as the first
        statement of ``session``'s transaction (the audio routes', which saves them one).
        """
        token = _bearer_token(request.headers)
        if session is None:
            actor, _ = await self._authenticate_alone(token)
            return actor
        checked = await access.check_token(session, token)
        if checked.wrote:
            # The token's last use is kept even if what the caller then does is rolled back.
            await session.commit()
        return checked.actor

    async def _authenticate_alone(self, token: str) -> tuple[Actor, int]:
        """The token's actor and the record's version, in one statement, on a connection of
        its own rather than a session: a session's bookkeeping cost more than the statement.
        On PostgreSQL it is autocommitted: no BEGIN and COMMIT around a read, so a cached
        answer costs one round trip to the record's database (the token's last use, when it
        is due, one more).
        """
        async with self.token_engine.connect() as connection:
            checked = await access.check_token(connection, token, [self.version_column])
            if checked.wrote:
                await connection.commit()
        (version,) = checked.read
        return checked.actor, version or 0
