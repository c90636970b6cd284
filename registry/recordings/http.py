"""Audio routes beside /graphql: upload and download as streams, never whole in memory.

The same bearer tokens, policy table and audit log as GraphQL. A download is audited
before its first byte is sent; if the audit log cannot be written, nothing is sent.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from registry.access.service import Actor
from registry.audit.models import Outcome
from registry.audit.service import AuditLog, AuditUnavailable, Entry, sign_in_refused
from registry.blobs import BlobMissing, BlobStore
from registry.crypto import CiphertextInvalid, KeyRing
from registry.errors import DomainError, Forbidden, Unauthenticated, error_extensions
from registry.recordings import storage
from registry.recordings.models import Segment

logger = logging.getLogger(__name__)


class Authenticate(Protocol):
    """The actor of a request's bearer token: checked as the first statement of ``session``'s
    transaction when one is given, which saves the route a transaction of its own."""

    async def __call__(self, request: Request, session: AsyncSession | None = None) -> Actor: ...


STATUS = {"UNAUTHENTICATED": 401, "FORBIDDEN": 403, "NOT_FOUND": 404, "RULE_BROKEN": 422}


def error_response(status: int, code: str, message: str, **extra: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=status)


def _domain_error(error: DomainError) -> JSONResponse:
    extensions = error_extensions(error)
    return JSONResponse(
        {"error": {"message": error.message, **extensions}},
        status_code=STATUS.get(error.code, 400),
    )


@dataclass
class AudioRoutes:
    sessions: async_sessionmaker[AsyncSession]
    audit_log: AuditLog
    ring: KeyRing
    blobs: BlobStore
    authenticate: Authenticate

    def routes(self) -> list[Route]:
        return [
            Route("/calls/{call_id}/audio/{segment}", self.upload, methods=["PUT"]),
            Route("/recordings/{recording_id}/audio", self.download, methods=["GET"]),
        ]

    async def _audit(
        self,
        actor: Actor,
        action: str,
        outcome: Outcome,
        *,
        target: str,
        purpose: str | None = None,
        detail: dict[str, str] | None = None,
    ) -> None:
        entry = Entry(
            principal=actor.handle,
            action=action,
            outcome=outcome,
            target=target,
            purpose=purpose,
            detail=detail,
        )
        await self.audit_log.append([entry])

    async def _caller(self, request: Request, session: AsyncSession) -> Actor | Response:
        try:
            return await self.authenticate(request, session)
        except Unauthenticated as error:
            try:
                await self.audit_log.append([sign_in_refused(error.message)])
            except AuditUnavailable:
                return error_response(503, "AUDIT_UNAVAILABLE", "the audit log cannot be written")
            return _domain_error(error)

    async def upload(self, request: Request) -> Response:
        async with self.sessions() as session:
            actor = await self._caller(request, session)
            if isinstance(actor, Response):
                return actor
            try:
                segment = Segment(request.path_params["segment"])
            except ValueError:
                return error_response(400, "INVALID_INPUT", "the segment is 'full' or 'start'")
            call_id = request.path_params["call_id"]
            try:
                recording = await storage.store(
                    session=session,
                    actor=actor,
                    ring=self.ring,
                    blobs=self.blobs,
                    call_id=call_id,
                    segment=segment,
                    audio=request.stream(),
                )
            except DomainError as error:
                await session.rollback()
                return await self._refused(actor, "recording.upload", f"call:{call_id}", error)
            try:
                await self._audit(
                    actor, "recording.upload", Outcome.ALLOWED, target=f"recording:{recording.id}"
                )
            except AuditUnavailable:
                await session.rollback()
                await self.blobs.delete(recording.blob_key)
                return error_response(
                    503, "AUDIT_UNAVAILABLE", "the audit log cannot be written; nothing was stored"
                )
            await session.commit()
        return JSONResponse(
            {
                "id": recording.id,
                "size": recording.size,
                "expiresAt": recording.expires_at.isoformat(),
            },
            status_code=201,
        )

    async def download(self, request: Request) -> Response:
        recording_id = request.path_params["recording_id"]
        purpose = request.query_params.get("purpose", "")
        async with self.sessions() as session:
            actor = await self._caller(request, session)
            if isinstance(actor, Response):
                return actor
            try:
                recording, audio = await storage.open_for_listening(
                    session=session,
                    actor=actor,
                    ring=self.ring,
                    blobs=self.blobs,
                    recording_id=recording_id,
                    purpose=purpose,
                )
            except DomainError as error:
                return await self._refused(
                    actor, "recording.download", f"recording:{recording_id}", error
                )
        try:
            # Before a byte leaves (R-ACC-6): who took which recording, for what.
            await self._audit(
                actor,
                "recording.download",
                Outcome.ALLOWED,
                target=f"recording:{recording_id}",
                purpose=purpose,
            )
        except AuditUnavailable:
            return error_response(
                503, "AUDIT_UNAVAILABLE", "the audit log cannot be written; nothing was sent"
            )
        length = storage.audio_size(recording.size)
        if length is None:
            logger.error("recording %s has a size no sealing gives", recording_id)
            return error_response(
                500, "RECORDING_DAMAGED", "the recording's size is not a sealed size"
            )
        try:
            # The first block is opened before the answer starts, so a recording damaged
            # there is an error answer, not a cut-off download.
            first = await anext(audio)
        except StopAsyncIteration:
            first = b""
        except CiphertextInvalid:
            logger.error("recording %s failed authentication", recording_id)
            return error_response(
                500, "RECORDING_DAMAGED", "the recording's ciphertext does not authenticate"
            )
        except BlobMissing:
            logger.error("recording %s has no blob", recording_id)
            return error_response(500, "RECORDING_DAMAGED", "the recording's audio is missing")
        return StreamingResponse(
            whole_or_cut_off(f"recording {recording_id}", first, audio),
            media_type="application/octet-stream",
            headers={"Content-Length": str(length)},
        )

    async def _refused(
        self, actor: Actor, action: str, target: str, error: DomainError
    ) -> Response:
        outcome = Outcome.DENIED if isinstance(error, Forbidden) else Outcome.FAILED
        try:
            await self._audit(actor, action, outcome, target=target, detail=error_extensions(error))
        except AuditUnavailable:
            return error_response(503, "AUDIT_UNAVAILABLE", "the audit log cannot be written")
        return _domain_error(error)


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
