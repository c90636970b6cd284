"""The package download beside the audio routes: GET /packages/{package_id}.

The audio routes' bearer tokens, audit and typed errors, which this route inherits from
them: a download is audited before its first byte, and if the audit log cannot be
written nothing is sent. Damage found once the answer has begun breaks it off.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from registry.audit.models import Outcome
from registry.audit.service import AuditUnavailable
from registry.blobs import BlobMissing
from registry.crypto import CiphertextInvalid
from registry.errors import DomainError
from registry.recordings.http import AudioRoutes, error_response, whole_or_cut_off
from registry.recordings.storage import audio_size
from registry.rights import package as packages

logger = logging.getLogger(__name__)

ACTION = "downloadPackage"


class PackageRoutes(AudioRoutes):
    """The audio routes' doorway (token, audit, refusals), for one more download."""

    @classmethod
    def beside(cls, audio: AudioRoutes) -> PackageRoutes:
        return cls(audio.sessions, audio.audit_log, audio.ring, audio.blobs, audio.authenticate)

    def routes(self) -> list[Route]:
        return [Route("/packages/{package_id}", self.download_package, methods=["GET"])]

    async def download_package(self, request: Request) -> Response:
        package_id = request.path_params["package_id"]
        target = f"package:{package_id}"
        async with self.sessions() as session:
            # The token is checked in the download's own transaction, as for the audio.
            actor = await self._caller(request, session)
            if isinstance(actor, Response):
                return actor
            try:
                package, content = await packages.open_package(
                    session=session,
                    actor=actor,
                    ring=self.ring,
                    blobs=self.blobs,
                    package_id=package_id,
                )
            except DomainError as error:
                await session.rollback()
                refused = await self._refused(actor, ACTION, target, error)
                if isinstance(error, packages.PackageExpired) and refused.status_code != 503:
                    # Gone: it was here, and is handed out no longer.
                    refused.status_code = 410
                return refused
            except CiphertextInvalid:
                await session.rollback()
                logger.error("package %s: its wrapped key does not authenticate", package_id)
                return error_response(
                    500, "PACKAGE_DAMAGED", "the package's key does not authenticate"
                )
            try:
                # Before a byte leaves (R-ACC-6): who took which package.
                await self._audit(actor, ACTION, Outcome.ALLOWED, target=target)
            except AuditUnavailable:
                await session.rollback()
                return error_response(
                    503, "AUDIT_UNAVAILABLE", "the audit log cannot be written; nothing was sent"
                )
            length = audio_size(package.size)
            if length is None:
                await session.rollback()
                logger.error("package %s has a size no sealing gives", package_id)
                return error_response(
                    500, "PACKAGE_DAMAGED", "the package's size is not a sealed size"
                )
            try:
                # The first block is opened before the answer starts, so a package damaged
                # there is an error answer, not a cut-off download; nor is it counted.
                first = await anext(content)
            except StopAsyncIteration:
                first = b""
            except (CiphertextInvalid, BlobMissing):
                await session.rollback()
                logger.error("package %s failed authentication or is missing", package_id)
                return error_response(
                    500, "PACKAGE_DAMAGED", "the package's content does not authenticate"
                )
            await session.commit()
        return StreamingResponse(
            whole_or_cut_off(f"package {package_id}", first, content),
            media_type=package.media_type,
            headers={
                "Content-Length": str(length),
                "Content-Disposition": f'attachment; filename="{package.file_name}"',
                # Personal data: no cache on the way may keep a copy.
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )
