"""Audio routes beside /graphql: upload and download as streams, never whole in memory.

The same bearer tokens, policy table and audit log as GraphQL, and answers like its own:
every answer carries a request ID, an unexpected error is masked and audited. A download
is audited before its first byte is sent; if the audit log cannot be written, nothing is
sent. An upload commits a pending row before its first byte (see recordings.uploads).
"""

from __future__ import annotations

import asyncio
import logging
import unicodedata
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from registry.access.service import Actor
from registry.audit.models import Outcome
from registry.audit.service import AuditLog, AuditUnavailable, Entry, sign_in_refused
from registry.blobs import BlobMissing, BlobStore
from registry.crypto import CiphertextInvalid, KekUnavailable, KeyRing
from registry.errors import (
    DomainError,
    Forbidden,
    InvalidInput,
    RuleBroken,
    Unauthenticated,
    error_extensions,
)
from registry.graphql.view import REQUEST_ID
from registry.kms import KmsKeyUnknown
from registry.logs import bind_principal, bind_request
from registry.metrics import observed
from registry.recordings import storage, uploads
from registry.recordings.models import Segment
from registry.sealed_blobs import audio_size
from registry.settings import Settings

logger = logging.getLogger(__name__)

UPLOAD, DOWNLOAD = "recording.upload", "recording.download"


class Authenticate(Protocol):
    """The actor of a request's bearer token: checked as the first statement of ``session``'s
    transaction when one is given, which saves the route a transaction of its own."""

    async def __call__(self, request: Request, session: AsyncSession | None = None) -> Actor: ...


STATUS = {
    "INVALID_INPUT": 400,
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "CONFLICT": 409,
    "TOO_LARGE": 413,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "RULE_BROKEN": 422,
}

# Personal data: no cache on the way may keep a copy, nor a browser guess at its type.
PRIVATE_CONTENT = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


@dataclass
class Exchange:
    """One request on a route: its ID, and once known, who sent it and what it is about."""

    request: Request
    request_id: str
    action: str
    actor: Actor | None = None
    target: str | None = None
    purpose: str | None = None

    def error(self, status: int, code: str, message: str, **extra: str) -> JSONResponse:
        observed().code = code
        body = {"code": code, "message": message, "requestId": self.request_id, **extra}
        return JSONResponse({"error": body}, status_code=status)


Handler = Callable[[Exchange], Awaitable[Response]]


def refusal_outcome(error: DomainError) -> Outcome:
    """A rule or the policy said no: DENIED. Anything else that went wrong: FAILED."""
    return Outcome.DENIED if isinstance(error, Forbidden | RuleBroken) else Outcome.FAILED


def require_plain_text(values: dict[str, str]) -> None:
    """Path and query values without NUL or other control characters, which no ID, segment
    or purpose has and which PostgreSQL refuses in text."""
    for name, value in values.items():
        if any(unicodedata.category(char) == "Cc" for char in value):
            raise InvalidInput(f"{name} holds a control character", field=name)


@dataclass
class AudioRoutes:
    sessions: async_sessionmaker[AsyncSession]
    audit_log: AuditLog
    ring: KeyRing
    blobs: BlobStore
    authenticate: Authenticate
    settings: Settings

    def routes(self) -> list[Route]:
        return [
            Route(
                "/calls/{call_id}/audio/{segment}", self.door(UPLOAD, self.upload), methods=["PUT"]
            ),
            Route(
                "/recordings/{recording_id}/audio",
                self.door(DOWNLOAD, self.download),
                methods=["GET"],
            ),
        ]

    def door(self, action: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """``handler``, audited under ``action``: every answer carries the request's ID, and
        an unexpected error is masked and audited, as GraphQL does."""

        async def endpoint(request: Request) -> Response:
            given = request.headers.get("x-request-id", "")
            request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex
            bind_request(request_id)
            exchange = Exchange(request, request_id, action)
            try:
                response = await handler(exchange)
            except Exception as error:
                logger.error("request %s failed", exchange.request_id, exc_info=error)
                response = await self._failed(exchange, "INTERNAL", "Unexpected error.", log=False)
            response.headers["X-Request-ID"] = exchange.request_id
            return response

        return endpoint

    async def _audit(
        self,
        exchange: Exchange,
        outcome: Outcome,
        *,
        target: str | None = None,
        detail: dict[str, str] | None = None,
    ) -> None:
        entry = Entry(
            principal=exchange.actor.handle if exchange.actor else "anonymous",
            action=exchange.action,
            outcome=outcome,
            target=target or exchange.target,
            purpose=exchange.purpose,
            request_id=exchange.request_id,
            detail=detail,
        )
        await self.audit_log.append_within([entry], self.settings.request_timeout_seconds)

    async def _caller(self, exchange: Exchange, session: AsyncSession) -> Actor | Response:
        """The caller, or the answer to one who is not signed in (audited as a refusal);
        then the route's path and query values, checked once the refusal can name whom."""
        try:
            actor = await self.authenticate(exchange.request, session)
        except Unauthenticated as error:
            try:
                entry = sign_in_refused(error.message, exchange.request_id)
                await self.audit_log.append_within([entry], self.settings.request_timeout_seconds)
            except AuditUnavailable:
                return self._audit_unavailable(exchange)
            return self._answer(exchange, error)
        exchange.actor = actor
        bind_principal(actor.handle)
        try:
            require_plain_text(
                {**exchange.request.path_params, **dict(exchange.request.query_params)}
            )
        except InvalidInput as error:
            # Audited without the values: they are what cannot be stored as text.
            exchange.target = exchange.purpose = None
            return await self._refused(exchange, error)
        return actor

    def _answer(self, exchange: Exchange, error: DomainError) -> JSONResponse:
        extensions = error_extensions(error)
        code = extensions.pop("code")
        return exchange.error(STATUS.get(code, 400), code, error.message, **extensions)

    def _audit_unavailable(self, exchange: Exchange, then: str = "") -> JSONResponse:
        logger.error("request %s refused: the audit log cannot be written", exchange.request_id)
        return exchange.error(503, "AUDIT_UNAVAILABLE", f"the audit log cannot be written{then}")

    async def _refused(self, exchange: Exchange, error: DomainError) -> Response:
        try:
            await self._audit(exchange, refusal_outcome(error), detail=error_extensions(error))
        except AuditUnavailable:
            return self._audit_unavailable(exchange)
        return self._answer(exchange, error)

    async def _failed(
        self, exchange: Exchange, code: str, message: str, *, log: bool = True
    ) -> Response:
        """The server could not do what it should have: audited, answered 500 with a code."""
        if log:
            logger.error("request %s failed: %s (%s)", exchange.request_id, message, code)
        try:
            await self._audit(exchange, Outcome.FAILED, detail={"code": code, "reason": message})
        except AuditUnavailable:
            return self._audit_unavailable(exchange)
        return exchange.error(500, code, message)

    async def upload(self, exchange: Exchange) -> Response:
        lasting = self.settings.upload_timeout_seconds
        try:
            # The pending row's deadline is set after this one starts: the upload ends first.
            async with asyncio.timeout(lasting):
                return await self._upload(exchange, timedelta(seconds=lasting))
        except TimeoutError:
            logger.warning("request %s: upload cancelled after %g s", exchange.request_id, lasting)
            message = f"the upload took longer than {lasting:g} s and was cancelled; nothing kept"
            try:
                await self._audit(exchange, Outcome.FAILED, detail={"code": "TIMEOUT"})
            except AuditUnavailable:
                return self._audit_unavailable(exchange)
            return exchange.error(503, "TIMEOUT", message)

    async def _upload(self, exchange: Exchange, lasting: timedelta) -> Response:
        request = exchange.request
        call_id = request.path_params["call_id"]
        exchange.target = f"call:{call_id}"
        async with self.sessions() as session:
            # The token, the rules, then the pending row (written by the commit below), each a
            # statement whole on its own: nothing is lost by leaving out a transaction around
            # them, since the rules are read again under a lock before the recording is
            # written (``uploads.finish``).
            await autocommitted(session)
            actor = await self._caller(exchange, session)
            if isinstance(actor, Response):
                return actor
            try:
                segment = _segment(request.path_params["segment"])
                upload = await uploads.begin(
                    session=session,
                    actor=actor,
                    call_id=call_id,
                    segment=segment,
                    lasting=lasting,
                )
                uploads.require_audio(request.headers.get("content-type", ""))
                uploads.require_size(_declared_length(request), self.settings.max_upload_bytes)
            except DomainError as error:
                await session.rollback()
                return await self._refused(exchange, error)
            await session.commit()
        try:
            return await self._receive(exchange, upload)
        except BaseException:
            await self._abandon(upload)
            raise

    async def _receive(self, exchange: Exchange, upload: uploads.Upload) -> Response:
        """The audio sealed and stored, then the recording committed in place of the pending
        upload, audited first; what fails on the way leaves nothing behind."""
        audio = uploads.limited(exchange.request.stream(), self.settings.max_upload_bytes)
        try:
            sealed = await storage.seal_audio(upload, ring=self.ring, blobs=self.blobs, audio=audio)
            async with self.sessions() as session:
                recording = await uploads.finish(session=session, upload=upload, sealed=sealed)
                await self._audit(exchange, Outcome.ALLOWED, target=f"recording:{recording.id}")
                await session.commit()
        except DomainError as error:
            await self._abandon(upload)
            return await self._refused(exchange, error)
        except AuditUnavailable:
            await self._abandon(upload)
            return self._audit_unavailable(exchange, "; nothing was stored")
        except (KekUnavailable, KmsKeyUnknown):
            # The KMS would not wrap the data key (unreachable, refused, no such key).
            await self._abandon(upload)
            return await self._failed(
                exchange,
                "KEY_UNAVAILABLE",
                "the recording's key cannot be wrapped; nothing was stored",
            )
        except ClientDisconnect:
            await self._abandon(upload)
            return exchange.error(400, "INCOMPLETE", "the body ended before it was whole")
        return JSONResponse(
            {
                "id": recording.id,
                "size": recording.size,
                "expiresAt": recording.expires_at.isoformat(),
            },
            status_code=201,
        )

    async def _abandon(self, upload: uploads.Upload) -> None:
        try:
            await uploads.abandon(sessions=self.sessions, blobs=self.blobs, upload=upload)
        except Exception:
            # Nothing lost: the sweep removes the upload once its deadline has passed.
            logger.exception("upload %s: left to the sweep", upload.recording_id)

    async def download(self, exchange: Exchange) -> Response:
        request = exchange.request
        if request.method == "HEAD":
            return self.get_only(exchange)
        recording_id = request.path_params["recording_id"]
        exchange.target = f"recording:{recording_id}"
        exchange.purpose = request.query_params.get("purpose", "")
        async with self.sessions() as session:
            # Two reads, each one statement (the token; the recording and every rule).
            await autocommitted(session)
            actor = await self._caller(exchange, session)
            if isinstance(actor, Response):
                return actor
            try:
                recording, audio = await storage.open_for_listening(
                    session=session,
                    actor=actor,
                    ring=self.ring,
                    blobs=self.blobs,
                    recording_id=recording_id,
                    purpose=exchange.purpose,
                )
            except DomainError as error:
                return await self._refused(exchange, error)
            except KeyError:
                return await self._failed(
                    exchange, "KEY_UNAVAILABLE", "the key ring lacks the recording's key"
                )
            except CiphertextInvalid:
                return await self._failed(
                    exchange, "RECORDING_DAMAGED", "the recording's key does not authenticate"
                )
        length = audio_size(recording.size)
        if length is None:
            return await self._failed(
                exchange, "RECORDING_DAMAGED", "the recording's size is not a sealed size"
            )
        first = await self._first_block(exchange, audio, "RECORDING_DAMAGED")
        if isinstance(first, Response):
            return first
        try:
            # Before a byte leaves (R-ACC-6): who took which recording, for what.
            await self._audit(exchange, Outcome.ALLOWED)
        except AuditUnavailable:
            await close(audio)
            return self._audit_unavailable(exchange, "; nothing was sent")
        return StreamingResponse(
            whole_or_cut_off(f"recording {recording_id}", first, audio),
            media_type="application/octet-stream",
            headers={"Content-Length": str(length), **PRIVATE_CONTENT},
        )

    @staticmethod
    def get_only(exchange: Exchange) -> Response:
        # A HEAD would run the whole download but send nothing: counted and audited for nothing.
        response = exchange.error(405, "METHOD_NOT_ALLOWED", "only GET downloads")
        response.headers["Allow"] = "GET"
        return response

    async def _first_block(
        self, exchange: Exchange, content: AsyncIterator[bytes], damaged: str
    ) -> bytes | Response:
        """The first block, opened before the answer starts, so that content damaged there
        is an error answer (audited as failed), not a cut-off download."""
        try:
            return await anext(content)
        except StopAsyncIteration:
            return b""
        except CiphertextInvalid:
            return await self._failed(exchange, damaged, "the content does not authenticate")
        except BlobMissing:
            return await self._failed(exchange, damaged, "the content is missing")


async def autocommitted(session: AsyncSession) -> None:
    """Each of ``session``'s statements committed on its own, on PostgreSQL: where each of
    a route's steps is one statement, a transaction around them costs a BEGIN and an end,
    two round trips, and sees nothing more, since under READ COMMITTED each statement takes
    a snapshot of its own either way. SQLite keeps its transaction (and its write lock)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


async def close(stream: AsyncIterator[bytes]) -> None:
    """Closes a stream that will not be sent, now: its blob is not left open until the
    collector finds it."""
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()


def _segment(text: str) -> Segment:
    try:
        return Segment(text)
    except ValueError:
        raise InvalidInput("the segment is 'full' or 'start'", field="segment") from None


def _declared_length(request: Request) -> int:
    declared = request.headers.get("content-length", "0")
    if not declared.isdigit():
        raise InvalidInput("Content-Length is not a number of bytes", field="content-length")
    return int(declared)


async def whole_or_cut_off(
    what: str, first: bytes, rest: AsyncIterator[bytes]
) -> AsyncIterator[bytes]:
    """The content of ``what`` (a recording, a package), or an error raised out of the
    response once a later block proves false or goes missing.

    Past the first block the answer has begun, and ending it would pass what came so far
    for the whole. Raised, the error makes the server break the answer off: uvicorn closes
    the connection short of the announced Content-Length, which a client (HTTP/1.0 too,
    and a proxy) reports as an incomplete body.
    """
    if first:
        yield first
    sent = len(first)
    try:
        async for piece in rest:
            yield piece
            sent += len(piece)
    except (CiphertextInvalid, BlobMissing):
        logger.error("%s failed after %d bytes: download cut off", what, sent)
        raise
