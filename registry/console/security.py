"""The audit log for the security team: events with filters, and the chain's verification.

Read as GraphQL's ``auditEvents`` reads it (``audit.read``, the security auditor's alone,
R-ACC-6) and audited the same way; the verification walks the chain as
``registry audit verify`` does.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from registry.access.policy import Action
from registry.console.visits import Visit, page
from registry.errors import InvalidInput

EVENTS_SHOWN = 200


@page
async def audit_log(visit: Visit) -> Response:
    visit.require(Action.AUDIT_READ)
    query = visit.request.query_params
    after = query.get("after", "0")
    if not after.isdigit():
        raise InvalidInput("after is the number of an event", field="after")
    log = visit.console.audit_log
    events = await log.events(
        actor=visit.actor,
        after_seq=int(after),
        limit=EVENTS_SHOWN,
        action=query.get("action") or None,
        principal=query.get("principal") or None,
    )
    verification = await log.verify()
    visit.audit("auditEvents", events=len(events))
    return visit.render(
        "security.html",
        events=events,
        verification=verification,
        query=query,
        next_after=events[-1].seq if len(events) == EVENTS_SHOWN else None,
    )


def routes() -> list[Route]:
    return [Route("/security", audit_log, methods=["GET"])]
