"""The Art. 30 export over HTTP: GET /exports/ropa.{json,csv,xlsx,md}.

Query: ``asOf`` (YYYY-MM-DD, the records as they stood at the end of that day),
``part`` (csv only: controllers, processors or transfers) and ``controller`` (one joint
controller's records), as the CLI's ``export ropa`` takes them. The audio routes' doorway:
the same bearer tokens and policy (the record is read under ``inventory.read``, as the CLI
and GraphQL read it), typed errors, and an audit entry before the first byte is sent; if
the audit log cannot be written nothing is sent.
"""

from __future__ import annotations

from datetime import date
from typing import Self, TypeVar

from starlette.responses import Response
from starlette.routing import Route

from registry.audit.models import Outcome
from registry.audit.service import AuditUnavailable
from registry.errors import DomainError, InvalidInput
from registry.exports import ropa
from registry.exports.writers import MEDIA_TYPES, Format, Part, file_name, render
from registry.recordings.http import PRIVATE_CONTENT, AudioRoutes, Exchange

ACTION = "export.ropa"
PATH = "/exports/ropa.{fmt}"


class ExportRoutes(AudioRoutes):
    """The audio routes' doorway (token, audit, refusals), for the record's export."""

    @classmethod
    def beside(cls, audio: AudioRoutes) -> Self:
        return cls(
            audio.sessions,
            audio.audit_log,
            audio.ring,
            audio.blobs,
            audio.authenticate,
            audio.settings,
        )

    def routes(self) -> list[Route]:
        return [Route(PATH, self.door(ACTION, self.export), methods=["GET"])]

    async def export(self, exchange: Exchange) -> Response:
        request = exchange.request
        if request.method == "HEAD":
            return self.get_only(exchange)
        query = request.query_params
        exchange.target = f"ropa.{request.path_params['fmt']}"
        async with self.sessions() as session:
            actor = await self._caller(exchange, session)
            if isinstance(actor, Response):
                return actor
            try:
                fmt = _choice(Format, request.path_params["fmt"], "format")
                part = _choice(Part, query["part"], "part") if "part" in query else None
                as_of = _day(query["asOf"]) if "asOf" in query else None
                export = await ropa.build(
                    session=session,
                    actor=actor,
                    contact=self.settings.configured_privacy_contact,
                    controller=query.get("controller"),
                    as_of=as_of,
                )
                data = render(export, fmt, part)
            except DomainError as error:
                await session.rollback()
                return await self._refused(exchange, error)
            try:
                # Before a byte leaves (R-ACC-6): who took which records, as of which day.
                await self._audit(
                    exchange,
                    Outcome.ALLOWED,
                    detail={"asOf": export.as_of.isoformat(), **({"part": part} if part else {})},
                )
            except AuditUnavailable:
                await session.rollback()
                return self._audit_unavailable(exchange, "; nothing was sent")
            await session.commit()
        name = file_name(export, fmt, part)
        return Response(
            data,
            media_type=MEDIA_TYPES[fmt],
            headers={"Content-Disposition": f'attachment; filename="{name}"', **PRIVATE_CONTENT},
        )


Choice = TypeVar("Choice", Format, Part)


def _choice(kind: type[Choice], value: str, name: str) -> Choice:
    try:
        return kind(value)
    except ValueError:
        known = ", ".join(member.value for member in kind)
        raise InvalidInput(f"{name} must be one of {known}, not {value!r}", field=name) from None


def _day(text: str) -> date:
    # A day after today is refused by the build, as for the CLI (the record knows no future).
    try:
        return date.fromisoformat(text)
    except ValueError:
        message = f"asOf must be a day as YYYY-MM-DD, not {text!r}"
        raise InvalidInput(message, field="asOf") from None
