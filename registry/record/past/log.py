"""Reading the change log (R-INV-4) as states: each subject as it stood at a moment.

Every write to the record leaves a change with its subject's whole state after it (and
before it, for an update). The state at a moment is the last snapshot made before it, in
the order the changes committed. A subject whose first change came after the moment is
as that change's ``before`` says, or did not exist yet when the change created it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from registry.record.history.models import Change

# The subjects whose every write is logged with a whole snapshot (seeded categories and
# what was seeded before its writes were logged have none).
LOGGED_SUBJECTS = (
    "country",
    "supervisory_authority",
    "controller_authority",
    "entity",
    "engagement",
    "activity_party",
    "activity_data_category",
    "transfer",
    "adequacy_decision",
    "data_category",
    "subject_category",
    "activity",
    "purpose",
    "purpose_basis",
    "activity_subject",
    "document",
)

Subject = tuple[str, str]
State = dict[str, Any]


@dataclass(frozen=True)
class Snapshot:
    at: datetime
    before: State | None
    after: State | None


def end_of(day: date) -> datetime:
    """The first moment after ``day`` (UTC): what was known "on" a day includes its evening."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)


async def read_log(session: AsyncSession) -> dict[Subject, list[Snapshot]]:
    """Every logged subject's snapshots, in the order their changes committed."""
    rows = await session.execute(
        select(
            col(Change.subject_type),
            col(Change.subject_slug),
            col(Change.at),
            col(Change.before),
            col(Change.after),
        )
        .where(col(Change.subject_type).in_(LOGGED_SUBJECTS))
        .order_by(col(Change.sequence), col(Change.id))
    )
    log: dict[Subject, list[Snapshot]] = {}
    for subject_type, slug, at, before, after in rows:
        log.setdefault((subject_type, slug), []).append(Snapshot(at, before, after))
    return log


def state_at(snapshots: Iterable[Snapshot], moment: datetime) -> State | None:
    """The subject as it stood just before ``moment``; None if it did not exist then."""
    known: State | None = None
    seen = False
    for snapshot in snapshots:
        if snapshot.at >= moment:
            # The first change after the moment shows what held until it.
            return known if seen else snapshot.before
        known, seen = snapshot.after, True
    return known


def states_at(log: dict[Subject, list[Snapshot]], moment: datetime) -> dict[Subject, State | None]:
    return {subject: state_at(snapshots, moment) for subject, snapshots in log.items()}
