"""The recordings' duties: the start-of-call deletions management still owes (R-CON-2), and
for the privacy team the evidence of retention: holds in force, sweeps, tombstones.

Read as GraphQL's ``deletionsOwed`` and ``retentionEvidence`` read them (``recordings.calls``,
``recordings.evidence``) and audited the same way, with what they showed.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from registry.console.visits import Visit, page
from registry.recordings import calls, evidence


@page
async def deletions_owed(visit: Visit) -> Response:
    owed = await calls.deletions_owed(session=visit.db, actor=visit.actor)
    visit.audit("deletionsOwed", calls=[deletion.call.id for deletion in owed])
    return visit.render("deletions_owed.html", owed=owed)


@page
async def retention(visit: Visit) -> Response:
    found = await evidence.retention_evidence(session=visit.db, actor=visit.actor)
    visit.audit("retentionEvidence", **evidence.shown(found))
    return visit.render("retention.html", evidence=found)


def routes() -> list[Route]:
    return [
        Route("/deletions-owed", deletions_owed, methods=["GET"]),
        Route("/retention", retention, methods=["GET"]),
    ]
