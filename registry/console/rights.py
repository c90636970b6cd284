"""Data-subject requests: the queue, the nearest deadline first, and a request's page with its
steps and the next actions it allows.

Read as GraphQL reads them (``rights.service.queue_query``, under ``rights.read``, which asks
for clearance too: R-ACC-3) and audited as ``rightsRequests`` and ``rightsRequest`` are. The
actions offered are those of ``rights.steps.allowed_actions`` for this request and this
actor, the table the service checks too; each posts to the service's own step, and is
audited under its mutation's name, allowed or not, as GraphQL audits it. An answered
request's side steps (``answered``) act on what its answer recorded, named by the form.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any, TypeVar

from sqlalchemy import select
from sqlmodel import col
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from registry import clock
from registry.access.policy import Action
from registry.audit.models import Outcome
from registry.console import answered
from registry.console.pages import PREFIX
from registry.console.visits import Visit, page
from registry.errors import DomainError, Forbidden, InvalidInput, NotFound, RuleBroken
from registry.rights import completion, effects, service
from registry.rights.deadlines import deadline
from registry.rights.models import (
    FeeGround,
    Objection,
    RecipientNotice,
    RefusalGround,
    RequestStep,
    Restriction,
    RightsRequest,
)
from registry.rights.steps import OPEN, Step, allowed_actions

# "Due soon": within this many days of now, as the daily check's default look-ahead.
DUE_SOON = timedelta(days=7)
QUEUE_LIMIT = 500

# Each step under the name of the GraphQL mutation that takes it, for the audit log.
MUTATION_OF = {
    Step.ASK_FOR_PROOF: "requestIdentityProof",
    Step.ESTABLISH_IDENTITY: "establishIdentity",
    Step.REGISTER: "registerRightsRequest",
    Step.START: "startRightsRequest",
    Step.EXTEND: "extendRightsRequest",
    Step.CHARGE_FEE: "chargeFee",
    Step.REFUSE: "refuseRightsRequest",
    Step.COMPLETE: "completeRightsRequest",
    Step.RECORD_GROUNDS: "recordCompellingGrounds",
    Step.LIFT_RESTRICTION: "liftRestriction",
    Step.ACKNOWLEDGE_RECIPIENT: "acknowledgeRecipient",
}


@page
async def queue(visit: Visit) -> Response:
    query = service.queue_query(visit.actor, service.Queue(statuses=OPEN))
    rows = (await visit.db.scalars(query.limit(QUEUE_LIMIT))).all()
    # Overdue first, then due soon: the nearest deadline in force first.
    ordered = sorted(rows, key=lambda request: (deadline(request), request.id))
    visit.audit("rightsRequests", requests=len(ordered))
    now = clock.now()
    return visit.render(
        "rights.html",
        requests=[(request, deadline(request)) for request in ordered],
        now=now,
        soon=now + DUE_SOON,
    )


@page
async def request_page(visit: Visit) -> Response:
    visit.require(Action.RIGHTS_READ)
    request = await service.get_request(visit.db, visit.request.path_params["request_id"])
    return await _show(visit, request)


async def _show(
    visit: Visit,
    request: RightsRequest,
    *,
    error: DomainError | None = None,
    failed_on: str | None = None,
    status: int = 200,
) -> Response:
    """The request's page; ``error`` shown at the field it names, and, for a side step's,
    at the objection, restriction or notice ``failed_on`` (its ID, as the form sent it)."""
    visit.require(Action.RIGHTS_READ)
    steps = await visit.db.scalars(
        select(RequestStep)
        .where(col(RequestStep.request_id) == request.id)
        .order_by(col(RequestStep.id))
    )
    visit.audit("rightsRequest", target=f"rights_request:{request.id}")
    return visit.render(
        "rights_request.html",
        asked=request,
        due=deadline(request),
        steps=steps.all(),
        now=clock.now(),
        actions=allowed_actions(request, visit.actor),
        side_steps=answered.ACTS_ON,
        recorded=await answered.recorded(visit.db, request.id),
        fee_grounds=list(FeeGround),
        refusal_grounds=list(RefusalGround),
        error=error,
        rule=error.rule_id if isinstance(error, RuleBroken) else None,
        failed_on=failed_on,
        status=status,
    )


@page
async def take_step(visit: Visit) -> Response:
    # Asked before the form is read: a refusal of a wrong form must show nothing either.
    visit.require(Action.RIGHTS_MANAGE)
    request_id: int = visit.request.path_params["request_id"]
    try:
        step = Step(visit.request.path_params["step"])
    except ValueError:
        raise NotFound(f"no step {visit.request.path_params['step']!r}") from None
    form = visit.form
    assert form is not None  # a POST's, read by ``page``
    target = f"rights_request:{request_id}"
    try:
        async with visit.db.begin_nested():
            await _STEPS[step](visit, request_id, form)
    except (Forbidden, NotFound):
        # ``page`` answers 403 (and audits the refusal) or 404, as for any page.
        raise
    except DomainError as error:
        outcome = Outcome.DENIED if isinstance(error, RuleBroken) else Outcome.FAILED
        visit.audit(MUTATION_OF[step], target=target, outcome=outcome, error=error.code)
        request = await service.get_request(visit.db, request_id)
        failed_on = _text(form, answered.ACTS_ON[step]) if step in answered.ACTS_ON else None
        return await _show(visit, request, error=error, failed_on=failed_on, status=422)
    visit.audit(MUTATION_OF[step], target=target)
    return RedirectResponse(f"{PREFIX}/rights/{request_id}", status_code=303)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _number(form: FormData, name: str) -> int:
    text = _text(form, name)
    if not text.isdigit():
        raise InvalidInput(f"{name.replace('_', ' ')} is a whole number", field=name)
    return int(text)


def _optional_number(form: FormData, name: str) -> int | None:
    return _number(form, name) if _text(form, name) else None


Ground = TypeVar("Ground", FeeGround, RefusalGround)


def _choice(form: FormData, name: str, kind: type[Ground]) -> Ground:
    try:
        return kind(_text(form, name))
    except ValueError:
        raise InvalidInput(f"choose a {name}", field=name) from None


def _day(form: FormData, name: str) -> date | None:
    text = _text(form, name)
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{name.replace('_', ' ')} is a day (YYYY-MM-DD)", field=name) from None


async def _ask_for_proof(visit: Visit, request_id: int, _form: FormData) -> Any:
    return await service.request_identity_proof(
        session=visit.db, actor=visit.actor, request_id=request_id
    )


async def _establish_identity(visit: Visit, request_id: int, form: FormData) -> Any:
    return await service.establish_identity(
        session=visit.db,
        actor=visit.actor,
        request_id=request_id,
        evidence=_text(form, "evidence"),
        subject_id=_optional_number(form, "subject"),
    )


async def _register(visit: Visit, request_id: int, _form: FormData) -> Any:
    return await service.register(session=visit.db, actor=visit.actor, request_id=request_id)


async def _start(visit: Visit, request_id: int, _form: FormData) -> Any:
    return await service.start(session=visit.db, actor=visit.actor, request_id=request_id)


async def _extend(visit: Visit, request_id: int, form: FormData) -> Any:
    return await service.extend(
        session=visit.db,
        actor=visit.actor,
        request_id=request_id,
        months=_number(form, "months"),
        reason=_text(form, "reason"),
    )


async def _charge_fee(visit: Visit, request_id: int, form: FormData) -> Any:
    return await service.charge_fee(
        session=visit.db,
        actor=visit.actor,
        request_id=request_id,
        amount_cents=_number(form, "amount_cents"),
        ground=_choice(form, "ground", FeeGround),
        reason=_text(form, "reason"),
    )


async def _refuse(visit: Visit, request_id: int, form: FormData) -> Any:
    return await service.refuse(
        session=visit.db,
        actor=visit.actor,
        request_id=request_id,
        ground=_choice(form, "ground", RefusalGround),
        reason=_text(form, "reason"),
    )


async def _complete(visit: Visit, request_id: int, form: FormData) -> Any:
    console = visit.console
    terms = completion.Terms(
        _day(form, "restricted_until"),
        _text(form, "restriction_reason") or None,
        console.settings.privacy_contact,
    )
    return await completion.complete(
        session=visit.db,
        actor=visit.actor,
        ring=console.ring,
        blobs=console.blobs,
        request_id=request_id,
        terms=terms,
    )


async def _record_grounds(visit: Visit, request_id: int, form: FormData) -> Any:
    objection = await answered.of_request(
        visit.db, Objection, _number(form, "objection"), request_id, field="objection"
    )
    return await effects.record_compelling_grounds(
        session=visit.db,
        actor=visit.actor,
        objection_id=objection.id,
        grounds=_text(form, "grounds"),
    )


async def _lift_restriction(visit: Visit, request_id: int, form: FormData) -> Any:
    restriction = await answered.of_request(
        visit.db, Restriction, _number(form, "restriction"), request_id, field="restriction"
    )
    return await effects.lift_restriction(
        session=visit.db, actor=visit.actor, restriction_id=restriction.id
    )


async def _acknowledge_recipient(visit: Visit, request_id: int, form: FormData) -> Any:
    notice = await answered.of_request(
        visit.db, RecipientNotice, _number(form, "notice"), request_id, field="notice"
    )
    return await effects.acknowledge(
        session=visit.db, actor=visit.actor, notice_id=notice.id, note=_text(form, "note") or None
    )


_STEPS: dict[Step, Callable[[Visit, int, FormData], Awaitable[Any]]] = {
    Step.ASK_FOR_PROOF: _ask_for_proof,
    Step.ESTABLISH_IDENTITY: _establish_identity,
    Step.REGISTER: _register,
    Step.START: _start,
    Step.EXTEND: _extend,
    Step.CHARGE_FEE: _charge_fee,
    Step.REFUSE: _refuse,
    Step.COMPLETE: _complete,
    Step.RECORD_GROUNDS: _record_grounds,
    Step.LIFT_RESTRICTION: _lift_restriction,
    Step.ACKNOWLEDGE_RECIPIENT: _acknowledge_recipient,
}


def routes() -> list[Route]:
    return [
        Route("/rights", queue, methods=["GET"]),
        Route("/rights/{request_id:int}", request_page, methods=["GET"]),
        Route("/rights/{request_id:int}/steps/{step}", take_step, methods=["POST"]),
    ]
