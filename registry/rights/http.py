"""The package download beside the audio routes: GET /packages/{package_id}.

The audio routes' bearer tokens, audit and typed errors, which this route inherits from
them: a download is audited before its first byte, and if the audit log cannot be
written nothing is sent. Damage found once the answer has begun breaks it off.
"""

from __future__ import annotations

from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from registry.audit.models import Outcome
from registry.audit.service import AuditUnavailable
from registry.crypto import CiphertextInvalid
from registry.errors import DomainError
from registry.recordings.http import (
    PRIVATE_CONTENT,
    AudioRoutes,
    Exchange,
    close,
    whole_or_cut_off,
)
from registry.rights import package as packages
from registry.sealed_blobs import audio_size

ACTION = "downloadPackage"


class PackageRoutes(AudioRoutes):
    """The audio routes' doorway (token, audit, refusals), for one more download."""

    @classmethod
    def beside(cls, audio: AudioRoutes) -> PackageRoutes:
        return cls(
            audio.sessions,
            audio.audit_log,
            audio.ring,
            audio.blobs,
            audio.authenticate,
            audio.settings,
        )

    def routes(self) -> list[Route]:
        endpoint = self.door(ACTION, self.download_package)
        return [Route("/packages/{package_id}", endpoint, methods=["GET"])]

    async def download_package(self, exchange: Exchange) -> Response:
        request = exchange.request
        if request.method == "HEAD":
            return self.get_only(exchange)
        package_id = request.path_params["package_id"]
        exchange.target = f"package:{package_id}"
        async with self.sessions() as session:
            # The token is checked in the download's own transaction, as for the audio.
            actor = await self._caller(exchange, session)
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
                refused = await self._refused(exchange, error)
                if isinstance(error, packages.PackageExpired) and refused.status_code != 503:
                    # Gone: it was here, and is handed out no longer.
                    refused.status_code = 410
                return refused
            except KeyError:
                await session.rollback()
                return await self._failed(
                    exchange, "KEY_UNAVAILABLE", "the key ring lacks the package's key"
                )
            except CiphertextInvalid:
                await session.rollback()
                return await self._failed(
                    exchange, "PACKAGE_DAMAGED", "the package's key does not authenticate"
                )
            length = audio_size(package.size)
            if length is None:
                await session.rollback()
                return await self._failed(
                    exchange, "PACKAGE_DAMAGED", "the package's size is not a sealed size"
                )
            # Opened before the answer starts: a package damaged there is not counted.
            first = await self._first_block(exchange, content, "PACKAGE_DAMAGED")
            if isinstance(first, Response):
                await session.rollback()
                return first
            try:
                # Before a byte leaves (R-ACC-6): who took which package.
                await self._audit(exchange, Outcome.ALLOWED)
            except AuditUnavailable:
                await session.rollback()
                await close(content)
                return self._audit_unavailable(exchange, "; nothing was sent")
            await session.commit()
        return StreamingResponse(
            whole_or_cut_off(f"package {package_id}", first, content),
            media_type=package.media_type,
            headers={
                "Content-Length": str(length),
                "Content-Disposition": f'attachment; filename="{package.file_name}"',
                **PRIVATE_CONTENT,
            },
        )
