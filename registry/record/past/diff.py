"""What changed in the record between two days, from the change log (R-INV-4): for the
privacy team's periodic review of the record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from registry.access.policy import Action
from registry.access.service import Actor, authorize
from registry.errors import InvalidInput
from registry.record.past.as_of import check_day
from registry.record.past.log import State, end_of, read_log, state_at

# A subject's field that, once set, says it stopped taking part: retired, ended or withdrawn.
ENDING_FIELDS = {
    "entity": "retired_on",
    "activity": "retired_on",
    "engagement": "ended_on",
    "transfer": "ended_on",
    "document": "withdrawn_on",
}


class DiffKind(StrEnum):
    ADDED = "added"
    CHANGED = "changed"
    # Retired (an entity, the activity), ended (an engagement, a transfer) or withdrawn (a
    # document): its record stays.
    RETIRED = "retired"
    REMOVED = "removed"


@dataclass(frozen=True)
class SubjectDiff:
    subject_type: str
    subject_slug: str
    kind: DiffKind
    before: State | None
    after: State | None
    fields: list[str]


@dataclass(frozen=True)
class RecordDiff:
    since: date
    until: date
    changes: list[SubjectDiff]


async def diff(*, session: AsyncSession, actor: Actor, since: date, until: date) -> RecordDiff:
    """What was added, changed and retired between the end of ``since`` and the end of
    ``until``, each with its state at both ends; in the order of the subjects' first change."""
    authorize(actor, Action.HISTORY_READ)
    authorize(actor, Action.INVENTORY_READ)
    authorize(actor, Action.TRANSFERS_READ)
    if since > until:
        raise InvalidInput(f"from ({since}) is after to ({until})", field="from")
    check_day(until, "to")
    start, end = end_of(since), end_of(until)
    changes = []
    for (subject_type, slug), snapshots in (await read_log(session)).items():
        before, after = state_at(snapshots, start), state_at(snapshots, end)
        found = _compare(subject_type, before, after)
        if found is not None:
            kind, fields = found
            changes.append(SubjectDiff(subject_type, slug, kind, before, after, fields))
    return RecordDiff(since, until, changes)


def _compare(
    subject_type: str, before: State | None, after: State | None
) -> tuple[DiffKind, list[str]] | None:
    if before is None and after is None:
        return None
    if before is None:
        return DiffKind.ADDED, sorted(after or {})
    if after is None:
        return DiffKind.REMOVED, sorted(before)
    fields = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    if not fields:
        return None
    ending = ENDING_FIELDS.get(subject_type)
    if ending is not None and before.get(ending) is None and after.get(ending) is not None:
        return DiffKind.RETIRED, fields
    return DiffKind.CHANGED, fields
