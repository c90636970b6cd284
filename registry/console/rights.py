"""Data-subject requests: the queue, the nearest deadline first, and a request's steps.

Read as GraphQL reads them (``rights.service.queue_query``, under ``rights.read``, which asks
for clearance too: R-ACC-3) and audited as ``rightsRequests`` and ``rightsRequest`` are.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlmodel import col
from starlette.responses import Response
from starlette.routing import Route

from registry import clock
from registry.access.policy import Action
from registry.console.visits import Visit, page
from registry.rights import service
from registry.rights.deadlines import deadline
from registry.rights.models import RequestStep

# "Due soon": within this many days of now, as the daily check's default look-ahead.
DUE_SOON = timedelta(days=7)
QUEUE_LIMIT = 500


@page
async def queue(visit: Visit) -> Response:
    query = service.queue_query(visit.actor, service.Queue(statuses=service.OPEN))
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
    request_id = visit.request.path_params["request_id"]
    request = await service.get_request(visit.db, request_id)
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
    )


def routes() -> list[Route]:
    return [
        Route("/rights", queue, methods=["GET"]),
        Route("/rights/{request_id:int}", request_page, methods=["GET"]),
    ]
