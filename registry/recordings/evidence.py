"""Evidence of retention, for the privacy team: holds in force (those ending soon first),
the last sweeps with what they erased and what holds kept, and the tombstones of erasures.

Read from the recordings' own tables, never from the audit log, which only the security team
reads (R-ACC-6). Each sweep that runs to its end leaves a ``SweepRun`` (``record_sweep``,
called where ``upkeep.sweeping`` ends a run). Tombstones hold no personal data: an ID, when,
why and by whom (R-RET-3).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from registry import clock
from registry.access.policy import Action
from registry.access.service import Actor, authorize
from registry.recordings.models import IdentifierTombstone, LegalHold, SweepRun, Tombstone
from registry.recordings.retention import expired_recordings, held_now

# A hold ending within this many days is shown as ending soon: time to renew it or let it go.
ENDING_SOON = timedelta(days=30)
LAST_SWEEPS = 20
LAST_TOMBSTONES = 100


@dataclass(frozen=True)
class Evidence:
    # In force today, the nearest end first.
    holds: list[LegalHold]
    # Holds ending on this day or before are ending soon.
    ending_soon_by: date
    # The last sweeps, newest first.
    sweeps: list[SweepRun]
    # The last erasures of recordings and of subjects' identifiers, newest first.
    tombstones: list[Tombstone]
    identifier_tombstones: list[IdentifierTombstone]


async def retention_evidence(*, session: AsyncSession, actor: Actor) -> Evidence:
    authorize(actor, Action.RETENTION_EVIDENCE_READ)
    today = clock.today()
    holds = await session.scalars(
        select(LegalHold)
        .where(col(LegalHold.released_at).is_(None), col(LegalHold.ends_on) >= today)
        .order_by(col(LegalHold.ends_on), col(LegalHold.id))
    )
    sweeps = await session.scalars(
        select(SweepRun)
        .order_by(col(SweepRun.finished_at).desc(), col(SweepRun.id).desc())
        .limit(LAST_SWEEPS)
    )
    tombstones = await session.scalars(
        select(Tombstone)
        .order_by(col(Tombstone.erased_at).desc(), col(Tombstone.id).desc())
        .limit(LAST_TOMBSTONES)
    )
    identifier_tombstones = await session.scalars(
        select(IdentifierTombstone)
        .order_by(col(IdentifierTombstone.erased_at).desc(), col(IdentifierTombstone.id).desc())
        .limit(LAST_TOMBSTONES)
    )
    return Evidence(
        holds=list(holds.all()),
        ending_soon_by=today + ENDING_SOON,
        sweeps=list(sweeps.all()),
        tombstones=list(tombstones.all()),
        identifier_tombstones=list(identifier_tombstones.all()),
    )


def shown(found: Evidence) -> dict[str, Any]:
    """What a reading showed, for its audit entry (GraphQL's and the console's alike)."""
    return {
        "holds": [hold.id for hold in found.holds],
        "sweeps": len(found.sweeps),
        "recordings_erased": [row.recording_id for row in found.tombstones],
        "subjects_erased": [row.subject_id for row in found.identifier_tombstones],
    }


@dataclass(frozen=True)
class SweepCounts:
    shredded: int
    blobs_deleted: int
    identifiers_erased: int
    expired_packages_erased: int
    unfinished_uploads_removed: int


async def record_sweep(session: AsyncSession, counts: SweepCounts) -> SweepRun:
    """Keeps a finished sweep's counts, and how many recordings past their period holds kept
    from it (counted as it ends: the sweep skipped exactly those)."""
    now = clock.now()
    kept = await session.scalar(
        select(func.count()).select_from(
            expired_recordings(now).where(held_now(now.date())).subquery()
        )
    )
    run = SweepRun(
        finished_at=now,
        shredded=counts.shredded,
        blobs_deleted=counts.blobs_deleted,
        identifiers_erased=counts.identifiers_erased,
        expired_packages_erased=counts.expired_packages_erased,
        unfinished_uploads_removed=counts.unfinished_uploads_removed,
        kept_by_holds=kept or 0,
    )
    session.add(run)
    await session.flush()
    return run
