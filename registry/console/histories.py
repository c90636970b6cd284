"""A record's history on its page: the log as it is now, shown only to who may read it."""

from __future__ import annotations

from typing import Any

from registry.access.policy import Action
from registry.console.visits import Visit
from registry.record.history import service as history

HISTORY_LIMIT = 200


async def history_of(visit: Visit, subject_type: str, slug: str) -> dict[str, Any]:
    """The page's ``changes``, or nothing for a role that may not read the history: the
    page then shows no history at all, not an empty one."""
    if not visit.actor.may(Action.HISTORY_READ):
        return {}
    changes = await history.list_changes(
        session=visit.db,
        actor=visit.actor,
        limit=HISTORY_LIMIT,
        subject_type=subject_type,
        subject_slug=slug,
    )
    return {"changes": changes}
