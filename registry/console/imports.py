"""The entity list's import: upload a file, read its plan, apply it.

Every step calls the import service (``record.imports.service``) with the signed-in actor,
so its rules, checks and change events are the CLI's and the HTTP route's; and each is
audited as that route audits it (``import.entities``, the file's name and hash, what it
did), before the page leaves.

Between the plan and the apply, the file travels back in the plan page's "Apply" form as
a hidden field, rather than being kept on the server: the console keeps no state but its
session row (processes stay stateless, so any replica may answer the apply), and the bytes
go only back to the browser that sent them. The apply carries the plan's hash, which names
the file's SHA-256 and the record's version, so bytes other than those planned, or a record
changed since, are refused and nothing is written. To keep that form small, the console
takes lists of at most ``MAX_FILE_BYTES`` (some thousands of entities, where the group has
a few dozen); larger ones go through ``registry import entities`` or the HTTP route.
"""

from __future__ import annotations

import base64
import binascii

from starlette.datastructures import FormData, UploadFile
from starlette.responses import Response
from starlette.routing import Route

from registry.access.policy import Action
from registry.audit.models import Outcome
from registry.audit.service import Entry
from registry.console.visits import Visit, page
from registry.errors import Conflict, DomainError, Forbidden, InvalidInput
from registry.record.imports import report, service
from registry.record.imports.parse import FileTooLarge
from registry.record.imports.plan import Plan, RowAction

ACTION = "import.entities"
# Its base64 (a third more) stays under the 1 MiB a form field may hold.
MAX_FILE_BYTES = 512 * 1024


@page
async def upload_form(visit: Visit) -> Response:
    visit.require(Action.INVENTORY_WRITE)
    return visit.render("import.html", error=None)


@page
async def plan(visit: Visit) -> Response:
    """The dry run: the uploaded file's plan, row by row; nothing is written."""
    visit.require(Action.INVENTORY_WRITE)
    retire_missing = _form(visit).get("retire_missing") == "on"
    try:
        name, data = await _uploaded(visit)
        planned = await service.plan_import(
            session=visit.db,
            actor=visit.actor,
            data=data,
            file_name=name,
            retire_missing=retire_missing,
        )
    except Forbidden:
        raise
    except DomainError as error:
        return await _refused(visit, error, status=422)
    _audit(visit, Outcome.ALLOWED, report.audit_detail(planned))
    content = base64.b64encode(data).decode("ascii")
    return _plan_page(visit, planned, content=content)


@page
async def apply(visit: Visit) -> Response:
    """The plan applied all or nothing, if the file and the record are still as planned."""
    visit.require(Action.INVENTORY_WRITE)
    form = _form(visit)
    try:
        data = _carried(form.get("content"))
        applied = await service.apply_import(
            session=visit.db,
            actor=visit.actor,
            data=data,
            file_name=_text(form.get("file_name")),
            retire_missing=form.get("retire_missing") == "true",
            plan_hash=_text(form.get("plan_hash")),
        )
    except service.ImportRefused as refused:
        # Anything the services still refused is at its row; nothing was written.
        await visit.db.rollback()
        _audit(visit, Outcome.FAILED, report.audit_detail(refused.plan))
        return _plan_page(visit, refused.plan, content=None, status=422)
    except Forbidden:
        raise
    except DomainError as error:
        return await _refused(visit, error, status=409 if isinstance(error, Conflict) else 422)
    _audit(visit, Outcome.ALLOWED, report.audit_detail(applied))
    return _plan_page(visit, applied, content=None)


def _form(visit: Visit) -> FormData:
    assert visit.form is not None  # a POST's, read by ``page``
    return visit.form


async def _uploaded(visit: Visit) -> tuple[str, bytes]:
    upload = _form(visit).get("file")
    if not isinstance(upload, UploadFile):
        raise InvalidInput("choose a csv or xlsx file to import", field="file")
    try:
        if not upload.filename:
            raise InvalidInput("choose a csv or xlsx file to import", field="file")
        data = await upload.read(MAX_FILE_BYTES + 1)
    finally:
        # Its spooled copy (on disk past 1 MiB) goes now, not when collected.
        await upload.close()
    _require_size(len(data))
    return upload.filename, data


def _carried(value: object) -> bytes:
    """The file the plan page carried back (base64)."""
    try:
        data = base64.b64decode(value if isinstance(value, str) else "", validate=True)
    except (binascii.Error, ValueError):
        message = "the planned file did not come back whole: plan again"
        raise InvalidInput(message, field="file") from None
    _require_size(len(data))
    return data


def _require_size(size: int) -> None:
    if size > MAX_FILE_BYTES:
        raise FileTooLarge(
            f"the console takes lists of at most {MAX_FILE_BYTES // 1024} KiB; import a larger"
            " one with `registry import entities`",
            field="file",
        )


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


async def _refused(visit: Visit, error: DomainError, *, status: int) -> Response:
    """The upload form again, the error at the file; audited, nothing written."""
    await visit.db.rollback()
    _audit(visit, Outcome.FAILED, {"code": error.code, "reason": error.message})
    return visit.render("import.html", error=error, status=status)


def _audit(visit: Visit, outcome: Outcome, detail: dict[str, str]) -> None:
    # As the HTTP route audits an import, refusals included (``Visit.audit`` allows only).
    visit.trail.append(
        Entry(
            principal=visit.actor.handle,
            action=ACTION,
            outcome=outcome,
            target="entities",
            detail=detail,
        )
    )


def _plan_page(visit: Visit, shown: Plan, *, content: str | None, status: int = 200) -> Response:
    changed = [row for row in shown.rows if row.action is not RowAction.UNCHANGED or row.errors]
    return visit.render(
        "import_plan.html",
        plan=shown,
        rows=changed,
        content=content,
        status=status,
    )


def routes() -> list[Route]:
    return [
        Route("/imports", upload_form, methods=["GET"]),
        Route("/imports", plan, methods=["POST"]),
        Route("/imports/apply", apply, methods=["POST"]),
    ]
