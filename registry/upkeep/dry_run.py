"""What a sweep would erase now, and what holds keep, without changing anything: for the
privacy team to check before (or instead of) a sweep.

Recordings and identifiers are chosen by the sweep's own queries (``retention``), and
whether a hold keeps a recording is asked of the erasure gate (``erasure.holds_keeping``),
so the list says what the sweep would do. It names recordings, subjects, packages and
uploads by their IDs only, never by a name, a phone number or an e-mail address.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from registry import clock
from registry.audit.models import Outcome
from registry.audit.service import Entry
from registry.recordings import erasure, retention
from registry.recordings.models import (
    ErasureReason,
    LegalHold,
    PendingBlobDeletion,
    PendingUpload,
    Recording,
    RecordingStatus,
)
from registry.rights.models import Package

ASKED_AT_ONCE = 1000


@dataclass(frozen=True)
class Expired:
    """A recording, package or upload past its time, and since when."""

    id: str
    since: datetime


@dataclass(frozen=True)
class Held:
    recording_id: str
    ground: str
    until: date


@dataclass(frozen=True)
class PendingBlobs:
    """Blobs whose recordings are erased already (their keys destroyed), still to delete."""

    blob_keys: list[str]
    since: datetime


@dataclass(frozen=True)
class Preview:
    at: datetime
    recordings: list[Expired]
    held: list[Held]
    # Shredded already (their data keys are gone): only their blobs are left to delete.
    shredded: list[str]
    # Erased by a sweep that stopped (or whose blob store failed) before deleting their
    # blobs: the next sweep deletes these first (``blob_deletions.finish_pending``).
    pending_blobs: list[PendingBlobs]
    subjects: list[int]
    packages: list[Expired]
    unfinished_uploads: list[Expired]

    def counts(self) -> dict[str, int]:
        return {
            "recordings": len(self.recordings),
            "held": len(self.held),
            "shredded": len(self.shredded),
            "pending_blobs": sum(len(p.blob_keys) for p in self.pending_blobs),
            "subjects": len(self.subjects),
            "packages": len(self.packages),
            "unfinished_uploads": len(self.unfinished_uploads),
        }


async def preview(*, session: AsyncSession) -> Preview:
    """What a sweep started now would erase, and the recordings holds keep from it."""
    now = clock.now()
    expired_first = retention.expired_recordings(now).order_by(
        col(Recording.expires_at), col(Recording.id)
    )
    expired = list((await session.scalars(expired_first)).all())
    holds: dict[str, LegalHold] = {}
    # A slice at a time: a database takes only so many parameters in one statement.
    for start in range(0, len(expired), ASKED_AT_ONCE):
        ids = [r.id for r in expired[start : start + ASKED_AT_ONCE]]
        holds |= await erasure.holds_keeping(session, ids, ErasureReason.EXPIRED, on=now)
    period = await retention.retention_of_identifiers(session)
    subjects = (
        list((await session.scalars(retention.identifiers_due(now, period))).all())
        if period is not None
        else []
    )
    shredded = await session.scalars(
        select(col(Recording.id))
        .where(col(Recording.status) == RecordingStatus.SHREDDED)
        .order_by(col(Recording.id))
    )
    pending = await session.execute(
        select(col(PendingBlobDeletion.blob_keys), col(PendingBlobDeletion.erased_at)).order_by(
            col(PendingBlobDeletion.id)
        )
    )
    # The conditions of ``rights.expiry.erase_expired_packages`` and
    # ``uploads.remove_unfinished``, which take their rows batch by batch as they erase.
    packages = await session.execute(
        select(col(Package.id), col(Package.expires_at))
        .where(col(Package.expires_at) <= now, col(Package.wrapped_key).is_not(None))
        .order_by(col(Package.expires_at), col(Package.id))
    )
    uploads = await session.execute(
        select(col(PendingUpload.recording_id), col(PendingUpload.deadline))
        .where(col(PendingUpload.deadline) <= now)
        .order_by(col(PendingUpload.deadline), col(PendingUpload.recording_id))
    )
    return Preview(
        at=now,
        recordings=[Expired(r.id, r.expires_at) for r in expired if r.id not in holds],
        held=[
            Held(r.id, holds[r.id].ground.value, holds[r.id].ends_on)
            for r in expired
            if r.id in holds
        ],
        shredded=list(shredded.all()),
        pending_blobs=[PendingBlobs(sorted(keys), since) for keys, since in pending.all()],
        subjects=subjects,
        packages=[Expired(package_id, since) for package_id, since in packages.all()],
        unfinished_uploads=[Expired(upload_id, since) for upload_id, since in uploads.all()],
    )


def audited(preview: Preview, principal: str) -> Entry:
    """The audit entry saying that a dry run looked, and how much it found."""
    return Entry(
        principal=principal,
        action="sweep.dry_run",
        outcome=Outcome.ALLOWED,
        detail=preview.counts(),
    )
