"""An upload in three steps, so that no blob outlives an upload that failed or died.

``begin`` checks the rules and adds a ``PendingUpload``, committed before a byte is taken;
``storage.seal_audio`` then writes the sealed audio while no transaction is open (a long
upload holds neither a connection nor SQLite's write lock); ``finish`` checks consent again
under a lock on the call (a withdrawal committed meanwhile wins, R-CON-3) and swaps the
pending row for the recording in one transaction. A failed upload is ``abandon``-ed; one
whose process died is found by ``remove_unfinished`` once its deadline has passed.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, String, bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from registry import clock
from registry.access.policy import Action
from registry.access.service import Actor, authorize
from registry.blobs import BlobStore
from registry.crypto import WrappedKey
from registry.db import claimed
from registry.errors import Conflict, DomainError, InvalidInput, NotFound, RuleBroken
from registry.recordings.calls import require_consent_to_record
from registry.recordings.models import Call, PendingUpload, Recording, Segment, Subject
from registry.recordings.retention import recording_retention, shortest_voice_retention_days


class TooLarge(DomainError):
    code = "TOO_LARGE"


class UnsupportedMediaType(DomainError):
    code = "UNSUPPORTED_MEDIA_TYPE"


@dataclass(frozen=True)
class Upload:
    recording_id: str
    call_id: str
    segment: Segment
    blob_key: str


@dataclass(frozen=True)
class Sealed:
    wrapped: WrappedKey
    size: int


def require_audio(media_type: str) -> None:
    """Only audio is stored as a recording: a document or an image sent by mistake is not."""
    kind = media_type.partition(";")[0].strip().lower()
    if not kind.startswith("audio/") or kind == "audio/":
        raise UnsupportedMediaType(
            f"a recording is audio (audio/*), not {kind or 'an unnamed type'}", field="content-type"
        )


def require_size(declared: int, limit: int) -> None:
    if declared > limit:
        raise TooLarge(f"the audio is larger than the limit of {limit} bytes", field="body")


async def limited(audio: AsyncIterable[bytes], limit: int) -> AsyncIterator[bytes]:
    """``audio``, refused as soon as it passes ``limit`` bytes, or at its end if empty."""
    size = 0
    async for chunk in audio:
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"the audio is larger than the limit of {limit} bytes", field="body")
        if chunk:
            yield chunk
    if size == 0:
        raise InvalidInput("the audio is empty", field="body")


@dataclass(frozen=True)
class _Recordable:
    call: Call
    # The activity's period for recordings, or None if none is on record (R-RET-1).
    retention_days: int | None


@functools.cache
def _recordable_query(
    *, lock: bool, dialect: str
) -> Select[Call, bool | None, datetime | None, int | None]:
    """The statement of ``_recordable_call`` for the call ``:call_id``, built once: built
    per upload, it cost more CPU than its round trip, twice an upload."""
    query = (
        select(
            Call,
            col(Subject.under_16),
            col(Subject.consent_withdrawn_at),
            shortest_voice_retention_days(col(Call.company_id)),
        )
        .join(Subject, col(Subject.id) == col(Call.customer_id))
        .where(col(Call.id) == bindparam("call_id", type_=String))
    )
    if lock:
        query = query.execution_options(populate_existing=True)
        if dialect == "postgresql":
            # NO KEY: rows that merely refer to the call (a pending upload) still go in.
            query = query.with_for_update(key_share=True, of=Call)
    return query


async def _recordable_call(
    session: AsyncSession, call_id: str, segment: Segment, *, lock: bool = False
) -> _Recordable:
    """The call, checked as one that audio may be taken of: one statement reads the call,
    its customer and the period, whatever the rules need.

    With ``lock``, the call is read as committed now and locked until the transaction ends
    (see ``calls.call_by_id``), its customer read afresh with it.
    """
    if lock:
        # This transaction's own changes first: the row read afresh must not undo them.
        await session.flush()
    query = _recordable_query(lock=lock, dialect=session.get_bind().dialect.name)
    found = (await session.execute(query, {"call_id": call_id})).one_or_none()
    if found is None:
        raise NotFound(f"no call {call_id!r}")
    call, under_16, withdrawn_at, days = found
    if under_16:
        raise RuleBroken("R-MIN-1", "no data of children under 16 is kept")
    if withdrawn_at is not None:
        raise RuleBroken("R-CON-3", "the customer withdrew consent: nothing more is recorded")
    require_consent_to_record(call, segment)
    return _Recordable(call, days)


async def begin(
    *, session: AsyncSession, actor: Actor, call_id: str, segment: Segment, lasting: timedelta
) -> Upload:
    """Every rule checked before a byte is taken; the pending row is added to ``session``,
    for the caller to commit (or ``finish`` to write with the recording)."""
    authorize(actor, Action.RECORDING_UPLOAD)
    recordable = await _recordable_call(session, call_id, segment)
    # Without a retention period, nothing is stored.
    recording_retention(recordable.retention_days)
    recording_id = str(uuid.uuid4())
    upload = Upload(recording_id, call_id, segment, blob_key=f"{recording_id}.sealed")
    session.add(
        PendingUpload(
            recording_id=recording_id,
            call_id=call_id,
            blob_key=upload.blob_key,
            deadline=clock.now() + lasting,
        )
    )
    return upload


async def finish(*, session: AsyncSession, upload: Upload, sealed: Sealed) -> Recording:
    """The recording in place of the pending upload; the caller audits, then commits."""
    # Consent again, now that no withdrawal can commit before this transaction does.
    recordable = await _recordable_call(session, upload.call_id, upload.segment, lock=True)
    call = recordable.call
    taken = await session.execute(
        delete(PendingUpload).where(
            col(PendingUpload.recording_id) == upload.recording_id,
            col(PendingUpload.deadline) > clock.now(),
        )
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        # Past its deadline the sweep may already have removed the blob.
        raise Conflict("the upload took longer than allowed; send it again")
    period = recording_retention(recordable.retention_days)
    recording = Recording(
        id=upload.recording_id,
        call_id=call.id,
        segment=upload.segment,
        # Retention runs from when the call was recorded, not from a late upload.
        made_at=call.started_at,
        expires_at=call.started_at + period,
        key_id=sealed.wrapped.key_id,
        wrapped_key=sealed.wrapped.ciphertext,
        blob_key=upload.blob_key,
        size=sealed.size,
    )
    session.add(recording)
    await session.flush()
    return recording


async def abandon(
    *, sessions: async_sessionmaker[AsyncSession], blobs: BlobStore, upload: Upload
) -> None:
    """The blob of a failed upload removed, then its pending row."""
    await blobs.delete(upload.blob_key)
    async with sessions() as session, session.begin():
        await session.execute(
            delete(PendingUpload).where(col(PendingUpload.recording_id) == upload.recording_id)
        )


async def remove_unfinished(
    *, sessions: async_sessionmaker[AsyncSession], blobs: BlobStore, batch: int = 500
) -> int:
    """Removes the blobs of uploads past their deadline that never finished; how many.

    Past its deadline an upload can no longer finish (``finish`` checks it under the same
    row), so its blob is no one's. Safe beside other sweepers: rows are claimed.
    """
    removed = 0
    while True:
        async with sessions() as session, session.begin():
            query = (
                select(PendingUpload)
                .where(col(PendingUpload.deadline) <= clock.now())
                .order_by(col(PendingUpload.deadline))
                .limit(batch)
            )
            rows = (await session.scalars(claimed(session, query))).all()
            if not rows:
                return removed
            # The blobs first: a row is gone only once nothing of its upload is left.
            await blobs.delete_many([row.blob_key for row in rows])
            for row in rows:
                await session.delete(row)
        removed += len(rows)
