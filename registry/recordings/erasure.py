"""Erasing recordings: destroy the data key first, then the blob, and leave a tombstone.

Destroying the wrapped data key makes every copy of the audio unreadable at once,
backups included (crypto-shredding). The blob is deleted afterwards, outside the
database transaction; a recording left ``shredded`` (the blob delete failed, or the
process died) is finished by the next sweep. So erasure never waits on the blob store,
and nothing that should be kept is lost if it is interrupted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from registry import clock
from registry.access.policy import Action
from registry.access.service import Actor, authorize
from registry.errors import NotFound, RuleBroken
from registry.recordings.models import (
    ErasureReason,
    HoldGround,
    LegalHold,
    Recording,
    RecordingStatus,
    Tombstone,
)

# Reasons that come from a request to erase: a hold for legal claims may refuse them (R-ERA-1).
REQUESTED = frozenset({ErasureReason.ERASURE_REQUEST})


async def active_holds(
    session: AsyncSession, recording_ids: Sequence[str], *, on: datetime
) -> dict[str, LegalHold]:
    """Holds in force on ``on``, by recording."""
    if not recording_ids:
        return {}
    rows = (
        await session.scalars(
            select(LegalHold).where(
                LegalHold.recording_id.in_(recording_ids),
                LegalHold.released_at.is_(None),
                LegalHold.ends_on >= on.date(),
            )
        )
    ).all()
    return {hold.recording_id: hold for hold in rows}


@dataclass(frozen=True)
class Shredded:
    done: list[Recording]
    # Kept for legal claims, with the hold that keeps each (R-ERA-1).
    refused: list[tuple[Recording, LegalHold]]


async def shred(
    *,
    session: AsyncSession,
    actor: Actor,
    recordings: Sequence[Recording],
    reason: ErasureReason,
) -> Shredded:
    """Destroys the data keys of ``recordings`` and leaves their tombstones.

    For an erasure request, a recording under a hold for legal claims is kept and
    returned as refused with its hold, whose ground the caller records (R-ERA-1); the
    others are shredded all the same. Already shredded recordings are skipped.
    """
    now = clock.now()
    if recordings:
        # Locked and read afresh: an erasure under way elsewhere (a sweeper, another
        # request) is waited for, and what it shredded is not shredded twice.
        await session.scalars(
            select(Recording)
            .where(Recording.id.in_([r.id for r in recordings]))
            .order_by(Recording.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    live = [r for r in recordings if r.status is RecordingStatus.ACTIVE]
    holds = await active_holds(session, [r.id for r in live], on=now) if reason in REQUESTED else {}
    refused = [
        (r, holds[r.id])
        for r in live
        if r.id in holds and holds[r.id].ground is HoldGround.LEGAL_CLAIMS
    ]
    kept = {r.id for r, _ in refused}
    done = [r for r in live if r.id not in kept]
    if done:
        # One statement destroys every data key and one leaves every tombstone, however many
        # recordings (a sweep's batch); the objects in hand are set to match, as if reloaded.
        ids = [r.id for r in done]
        shredded = {"wrapped_key": None, "key_id": None, "status": RecordingStatus.SHREDDED}
        await session.execute(
            update(Recording).where(Recording.id.in_(ids)).values(shredded),
            execution_options={"synchronize_session": False},
        )
        for recording in done:
            for name, value in shredded.items():
                set_committed_value(recording, name, value)
        tombstone = select(
            Recording.id,
            literal(now, Tombstone.erased_at.type),
            literal(reason, Tombstone.reason.type),
            literal(actor.handle, Tombstone.erased_by.type),
        ).where(Recording.id.in_(ids))
        await session.execute(
            insert(Tombstone).from_select(
                ["recording_id", "erased_at", "reason", "erased_by"], tombstone
            )
        )
    await session.flush()
    return Shredded(done, refused)


def refusal(shredded: Shredded) -> RuleBroken | None:
    """The R-ERA-1 refusal for what was kept, naming each ground; None if nothing was."""
    if not shredded.refused:
        return None
    grounds = "; ".join(f"{r.id}: {hold.justification}" for r, hold in shredded.refused)
    return RuleBroken("R-ERA-1", f"kept to establish, exercise or defend legal claims: {grounds}")


async def erase_recording(*, session: AsyncSession, actor: Actor, recording_id: str) -> Recording:
    """Erases one recording at once, unless it is kept for legal claims (R-ERA-1).

    The data key goes now; the blob goes with the next sweep's second step.
    """
    authorize(actor, Action.RECORDING_ERASE)
    recording = await session.get(Recording, recording_id)
    if recording is None or recording.status is not RecordingStatus.ACTIVE:
        raise NotFound(f"no recording {recording_id!r} to erase")
    result = await shred(
        session=session, actor=actor, recordings=[recording], reason=ErasureReason.ERASURE_REQUEST
    )
    refused = refusal(result)
    if refused is not None:
        raise refused
    return recording
