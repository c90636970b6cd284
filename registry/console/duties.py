"""The recordings' duties: the start-of-call deletions management still owes (R-CON-2).

Read as GraphQL's ``deletionsOwed`` reads it (``recordings.deletions_owed``) and audited
the same way, with the calls it showed.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from registry.console.visits import Visit, page
from registry.recordings import calls


@page
async def deletions_owed(visit: Visit) -> Response:
    owed = await calls.deletions_owed(session=visit.db, actor=visit.actor)
    visit.audit("deletionsOwed", calls=[deletion.call.id for deletion in owed])
    return visit.render("deletions_owed.html", owed=owed)


def routes() -> list[Route]:
    return [Route("/deletions-owed", deletions_owed, methods=["GET"])]
