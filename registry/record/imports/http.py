"""The entity list's import over HTTP, for the console: POST /imports/entities.

The body is the file (csv or xlsx, at most ``parse.MAX_FILE_BYTES``: larger is 413); the query gives
``fileName``, ``apply`` (``true`` writes; a dry run otherwise), ``retireMissing`` and,
with ``apply``, the dry run's ``planHash``. The answer is the plan as JSON. The export's
doorway: bearer token, the policy (``inventory.write``, as every entity write), typed
errors, and an audit entry before the answer; if the audit log cannot be written, nothing
is written or sent.
"""

from __future__ import annotations

from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from registry.audit.models import Outcome
from registry.audit.service import AuditUnavailable
from registry.errors import DomainError, InvalidInput
from registry.exports.http import ExportRoutes
from registry.record.history.requests import on_behalf_of
from registry.record.imports import report, service
from registry.record.imports.parse import require_size
from registry.record.imports.plan import Plan
from registry.recordings.http import PRIVATE_CONTENT, Exchange

ACTION = "import.entities"
PATH = "/imports/entities"
FLAGS = {"true": True, "1": True, "false": False, "0": False}


class ImportRoutes(ExportRoutes):
    """The export's doorway (token, audit, refusals), for the entity list's import."""

    def routes(self) -> list[Route]:
        return [Route(PATH, self.door(ACTION, self.import_entities), methods=["POST"])]

    async def import_entities(self, exchange: Exchange) -> Response:
        query = exchange.request.query_params
        exchange.target = "entities"
        async with self.sessions() as session:
            actor = await self._caller(exchange, session)
            if isinstance(actor, Response):
                return actor
            try:
                apply = _flag(query.get("apply", "false"), "apply")
                retire_missing = _flag(query.get("retireMissing", "false"), "retireMissing")
                data = await self._body(exchange)
                file_name = query.get("fileName", "upload")
                # The changes name the request that made them, as GraphQL's do.
                with on_behalf_of(exchange.request_id):
                    if apply:
                        plan = await service.apply_import(
                            session=session,
                            actor=actor,
                            data=data,
                            file_name=file_name,
                            retire_missing=retire_missing,
                            plan_hash=query.get("planHash"),
                        )
                    else:
                        plan = await service.plan_import(
                            session=session,
                            actor=actor,
                            data=data,
                            file_name=file_name,
                            retire_missing=retire_missing,
                        )
            except service.ImportRefused as refused:
                await session.rollback()
                return await self._answered(exchange, refused.plan, status=422)
            except DomainError as error:
                await session.rollback()
                return await self._refused(exchange, error)
            except ClientDisconnect:
                await session.rollback()
                return exchange.error(400, "INCOMPLETE", "the body ended before it was whole")
            try:
                await self._audit(exchange, Outcome.ALLOWED, detail=report.audit_detail(plan))
            except AuditUnavailable:
                await session.rollback()
                return self._audit_unavailable(exchange, "; nothing was written")
            await session.commit()
        return JSONResponse(report.as_json(plan), headers=PRIVATE_CONTENT)

    async def _body(self, exchange: Exchange) -> bytes:
        """The file, read no further than the limit: a larger one is refused, not stored."""
        declared = exchange.request.headers.get("content-length", "0")
        if declared.isdigit():
            require_size(int(declared))
        chunks: list[bytes] = []
        size = 0
        async for chunk in exchange.request.stream():
            size += len(chunk)
            require_size(size)
            chunks.append(chunk)
        return b"".join(chunks)

    async def _answered(self, exchange: Exchange, plan: Plan, *, status: int) -> Response:
        """A plan with errors: refused as bad input, audited, and sent so each can be fixed."""
        try:
            await self._audit(exchange, Outcome.FAILED, detail=report.audit_detail(plan))
        except AuditUnavailable:
            return self._audit_unavailable(exchange)
        return JSONResponse(report.as_json(plan), status_code=status, headers=PRIVATE_CONTENT)


def _flag(text: str, name: str) -> bool:
    if text.lower() not in FLAGS:
        raise InvalidInput(f"{name} is true or false, not {text!r}", field=name)
    return FLAGS[text.lower()]
