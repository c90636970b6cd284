"""How long recordings and identifiers are kept (R-RET-1, R-RET-3), holds that keep
recordings longer (R-RET-2), the sweep.

The sweep is safe on many replicas at once: on PostgreSQL each batch claims its rows
with FOR UPDATE SKIP LOCKED, so two sweepers never take the same recording; on SQLite
the sweeper's transactions take the write lock when they begin. First it deletes the
blobs an earlier sweep left pending. Then each batch is erased in one transaction: data
keys destroyed, rows marked erased, tombstones left, blob keys kept in a pending row
(``blob_deletions``); once it commits, its blobs are deleted in the background while the
next batch is erased, and the pending row goes in that batch's commit. Then the blobs of
recordings other erasures left shredded, and last the identifiers nothing keeps any
longer. Killed anywhere, or the blob store down, the sweep leaves pending rows (or
shredded recordings), which the next run finishes; nothing is erased twice and nothing
kept by a hold is touched. Each batch that erases is written to the audit log before it
commits, so an interrupted sweep's erasures are audited too.

A batch costs a few statements whatever its size, and writes each recording once; its
blobs are deleted in one call to the store (one worker thread and directory fsync for a
local folder, bulk requests for an object store), overlapping the database's work on the
next batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVarTuple

from sqlalchemy import (
    ColumnElement,
    Exists,
    ScalarSelect,
    Select,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped
from sqlmodel import col

from registry import clock
from registry._text import stated
from registry.access.policy import Action
from registry.access.service import Actor, authorize
from registry.audit.models import Outcome
from registry.audit.service import AuditLog, Entry
from registry.blobs import BlobStore
from registry.db import claimed
from registry.errors import InvalidInput, NotFound, RuleBroken
from registry.record.inventory.models import ActivityDataCategory, ActivityParty, DataCategory
from registry.recordings import blob_deletions, erasure
from registry.recordings._tombstones import erased_with_tombstones
from registry.recordings.models import (
    Call,
    ErasureReason,
    HoldGround,
    IdentifierTombstone,
    LegalHold,
    Recording,
    RecordingStatus,
    Subject,
)
from registry.rights.models import RequestStatus, RightsRequest

VOICE = "user.voice.recording"
# The identifiers a subject is registered with, as the activity's data categories name them.
IDENTIFIERS = ("user.name", "user.contact.phone", "user.contact.email")
SWEEPER = Actor.system("sweep")
# Rows a sweep's transaction takes at a time: its statements are as many whatever the
# batch, so a larger one costs fewer round trips and commits, for longer-held locks (a
# hold placed on a recording being swept waits about a second at most).
SWEEP_BATCH = 10_000
Ts = TypeVarTuple("Ts")


async def retention_of_recordings(session: AsyncSession, company_id: int) -> timedelta:
    """The shortest period the company's activities set for voice recordings (R-RET-1, R-INV-6)."""
    days = await session.scalar(select(shortest_voice_retention_days(company_id)))
    return recording_retention(days)


def shortest_voice_retention_days(company_id: Mapped[int] | int) -> ScalarSelect[int]:
    """The days of ``retention_of_recordings`` as SQL, for a company (a value, or a column of
    the outer query); NULL if none is on record.

    An activity that keeps them by a criterion only sets no period: left out, rather than
    sorted first on SQLite and last on PostgreSQL.
    """
    return (
        select(col(ActivityDataCategory.retention_days))
        .join(DataCategory, col(DataCategory.id) == col(ActivityDataCategory.data_category_id))
        .join(
            ActivityParty, col(ActivityParty.activity_id) == col(ActivityDataCategory.activity_id)
        )
        .where(
            col(DataCategory.key) == VOICE,
            col(ActivityParty.entity_id) == company_id,
            col(ActivityDataCategory.retention_days).is_not(None),
        )
        .order_by(col(ActivityDataCategory.retention_days))
        .limit(1)
        .scalar_subquery()
    )


def recording_retention(days: int | None) -> timedelta:
    """The period of ``shortest_voice_retention_days``; without one, no audio is kept (R-RET-1)."""
    if days is None:
        raise RuleBroken("R-RET-1", "no retention period for recordings is on record")
    return timedelta(days=days)


async def place_hold(
    *,
    session: AsyncSession,
    actor: Actor,
    recording_id: str,
    ground: HoldGround,
    justification: str,
    ends_on: date,
) -> LegalHold:
    """Keeps a recording past its period, for a recorded legitimate interest, until an end."""
    authorize(actor, Action.HOLD_PLACE)
    # Locked and read afresh: a sweeper erasing it now must finish first, so that a hold
    # is never reported on a recording already gone (the sweep skips it once locked here).
    recording = await session.get(
        Recording, recording_id, with_for_update=True, populate_existing=True
    )
    if recording is None:
        raise NotFound(f"no recording {recording_id!r}")
    if recording.status is not RecordingStatus.ACTIVE:
        raise InvalidInput("the recording was erased already", field="recording")
    justification = stated(
        justification,
        "justification",
        missing="a hold needs its legitimate interest stated",
        rule="R-RET-2",
    )
    if ends_on <= clock.today():
        raise RuleBroken("R-RET-2", "a hold needs an end in the future", field="ends_on")
    hold = LegalHold(
        recording_id=recording.id,
        ground=ground,
        justification=justification,
        ends_on=ends_on,
        placed_by=actor.handle,
        placed_at=clock.now(),
    )
    session.add(hold)
    await session.flush()
    return hold


async def release_hold(*, session: AsyncSession, actor: Actor, hold_id: int) -> LegalHold:
    authorize(actor, Action.HOLD_PLACE)
    hold = await session.get(LegalHold, hold_id)
    if hold is None or hold.released_at is not None:
        raise NotFound(f"no hold {hold_id} in force")
    hold.released_at = clock.now()
    await session.flush()
    return hold


async def retention_of_identifiers(session: AsyncSession) -> timedelta | None:
    """The longest period the activities set for a subject's identifiers (R-RET-3, R-INV-6);
    None if only criteria are on record, so that nothing is erased on a guess."""
    days = await session.scalar(
        select(func.max(col(ActivityDataCategory.retention_days)))
        .join(DataCategory, col(DataCategory.id) == col(ActivityDataCategory.data_category_id))
        .where(col(DataCategory.key).in_(IDENTIFIERS))
    )
    return timedelta(days=days) if days is not None else None


@dataclass
class SweepReport:
    shredded: int = 0
    blobs_deleted: int = 0
    identifiers_erased: int = 0


def held_now(today: date) -> Exists:
    """A hold in force on ``today`` keeps the recording (of the outer query)."""
    return exists().where(
        col(LegalHold.recording_id) == col(Recording.id),
        col(LegalHold.released_at).is_(None),
        col(LegalHold.ends_on) >= today,
    )


def expired_recordings(now: datetime) -> Select[Recording]:
    """Recordings past their period on ``now`` and not erased yet, held or not."""
    return select(Recording).where(
        col(Recording.status) == RecordingStatus.ACTIVE, col(Recording.expires_at) <= now
    )


def _oldest_first(session: AsyncSession, query: Select[*Ts], batch: int) -> Select[*Ts]:
    return claimed(session, query.order_by(col(Recording.expires_at)).limit(batch))


def _audited(step: str, detail: dict[str, Any]) -> Entry:
    return Entry(
        principal=SWEEPER.handle, action=f"sweep.{step}", outcome=Outcome.ALLOWED, detail=detail
    )


async def sweep(
    *,
    sessions: async_sessionmaker[AsyncSession],
    blobs: BlobStore,
    audit_log: AuditLog,
    batch: int = SWEEP_BATCH,
) -> SweepReport:
    """Deletes the blobs left pending, erases every recording past its period and not held,
    finishes any shredding, then erases the identifiers nothing keeps any longer."""
    report = SweepReport()
    # What an earlier sweep left (killed, or its blob store down) goes first.
    report.blobs_deleted, failed = await blob_deletions.finish_pending(
        sessions=sessions, blobs=blobs
    )
    # The blobs of the batch last erased, being deleted while the next batch is erased.
    deleting: blob_deletions.Deleting | None = None
    try:
        while True:
            async with sessions() as session, session.begin():
                now = clock.now()
                expired = expired_recordings(now).where(~held_now(now.date()))
                claim = _oldest_first(session, expired.with_only_columns(col(Recording.id)), batch)
                claimed_ids = list((await session.scalars(claim)).all())
                # A second statement, not a CTE of the claim's: its snapshot, taken once the
                # rows are locked, sees a hold placed before the lock (place_hold locks the
                # row too).
                erased = await erasure.erase_all(
                    session=session,
                    actor=SWEEPER,
                    recording_ids=claimed_ids,
                    reason=ErasureReason.EXPIRED,
                    now=now,
                )
                if erased.recording_ids:
                    # Before the commit, as a request's audit is: if the log cannot be
                    # written, the batch is not erased.
                    await audit_log.append([_audited_shred(erased.recording_ids)])
                report.shredded += len(erased.recording_ids)
                if deleting is not None:
                    # The last batch's blobs went while this one was erased: its pending row
                    # is deleted in this batch's commit, a round trip and a commit saved.
                    deleted, failure = await deleting.finished(session)
                    report.blobs_deleted += deleted
                    failed = failed or failure
            # Only once the keys are destroyed for good, and without holding a lock.
            deleting = (
                blob_deletions.Deleting.start(blobs, erased.pending_id, erased.blob_keys)
                if erased.pending_id is not None
                else None
            )
            if len(claimed_ids) < batch:
                break
        if deleting is not None:
            async with sessions() as session, session.begin():
                deleted, failure = await deleting.finished(session)
            deleting = None
            report.blobs_deleted += deleted
            failed = failed or failure
    finally:
        if deleting is not None:
            await deleting.abandoned()
    if failed is not None:
        # The keys are destroyed and the tombstones left; the blobs wait for the next sweep.
        raise failed
    report.blobs_deleted += await finish_shredded(sessions=sessions, blobs=blobs, batch=batch)
    report.identifiers_erased = await erase_expired_identifiers(
        sessions=sessions, audit_log=audit_log, batch=batch
    )
    return report


def _audited_shred(recording_ids: list[str]) -> Entry:
    return _audited("shred", {"reason": ErasureReason.EXPIRED.value, "recordings": recording_ids})


async def finish_shredded(
    *, sessions: async_sessionmaker[AsyncSession], blobs: BlobStore, batch: int = SWEEP_BATCH
) -> int:
    """Deletes the blobs of shredded recordings, each row marked erased once its blob is
    gone: those of erasures other than the sweep's (a request, a withdrawal), which leave
    their recordings shredded."""
    deleted = 0
    while True:
        async with sessions() as session, session.begin():
            shredded = select(col(Recording.id)).where(
                col(Recording.status) == RecordingStatus.SHREDDED
            )
            # Marked in the statement that claims them, committed only once the blobs are
            # gone: a failed deletion rolls the marks back for the next sweep.
            erased = (
                update(Recording)
                .where(col(Recording.id).in_(claimed(session, shredded.limit(batch))))
                .values(status=RecordingStatus.ERASED)
                .returning(col(Recording.blob_key))
            )
            blob_keys = list(
                (
                    await session.scalars(erased, execution_options={"synchronize_session": False})
                ).all()
            )
            if blob_keys:
                await blobs.delete_many(blob_keys)
            deleted += len(blob_keys)
        if len(blob_keys) < batch:
            return deleted


def _identifiers_kept(now: datetime, period: timedelta) -> ColumnElement[bool]:
    """Something still needs the subject's identifiers (R-RET-3): a call within the period,
    a recording not erased (within its period, or held), an open request, a hold."""
    involved = or_(col(Call.customer_id) == col(Subject.id), col(Call.agent_id) == col(Subject.id))
    their_recordings = (
        select(col(Recording.id)).join(Call, col(Call.id) == col(Recording.call_id)).where(involved)
    )
    return or_(
        exists().where(involved, col(Call.started_at) > now - period),
        exists(their_recordings.where(col(Recording.status) == RecordingStatus.ACTIVE)),
        exists().where(
            col(RightsRequest.subject_id) == col(Subject.id),
            col(RightsRequest.status).not_in([RequestStatus.COMPLETED, RequestStatus.REFUSED]),
        ),
        exists().where(
            # Correlated by name: two levels down, the subject would not be by itself.
            col(LegalHold.recording_id).in_(their_recordings.correlate(Subject)),
            col(LegalHold.released_at).is_(None),
            col(LegalHold.ends_on) >= now.date(),
        ),
    )


def identifiers_due(now: datetime, period: timedelta) -> Select[int]:
    """Subjects whose identifiers are past ``period`` on ``now`` and that nothing keeps."""
    return (
        select(col(Subject.id))
        .where(
            col(Subject.identifiers_erased_at).is_(None),
            col(Subject.created_at) <= now - period,
            ~_identifiers_kept(now, period),
        )
        .order_by(col(Subject.id))
    )


async def erase_expired_identifiers(
    *, sessions: async_sessionmaker[AsyncSession], audit_log: AuditLog, batch: int = SWEEP_BATCH
) -> int:
    """Erases the sealed identifiers and blind indexes of subjects past their period that
    nothing keeps, each leaving a tombstone (R-RET-3); the number of subjects."""
    erased = 0
    while True:
        async with sessions() as session, session.begin():
            now = clock.now()
            period = await retention_of_identifiers(session)
            if period is None:
                return erased
            due = claimed(session, identifiers_due(now, period).limit(batch))
            erasing = (
                update(Subject)
                .where(col(Subject.id).in_(due))
                .values(
                    name_sealed=None,
                    phone_sealed=None,
                    email_sealed=None,
                    phone_index=None,
                    email_index=None,
                    identifiers_erased_at=now,
                )
                .returning(col(Subject.id))
            )
            left = {"erased_at": now, "reason": ErasureReason.EXPIRED, "erased_by": SWEEPER.handle}
            ids = await erased_with_tombstones(
                session, erasing, IdentifierTombstone, names="subject_id", left=left
            )
            if ids:
                await audit_log.append([_audited("erase_identifiers", {"subjects": sorted(ids)})])
            erased += len(ids)
        if len(ids) < batch:
            return erased
