"""Storing and reading the audio: sealed on the way in, opened only for a stated purpose.

Upload: consent first (R-CON-3), never a child's (R-MIN-1), a fresh data key per
recording wrapped by the key ring's primary key, the audio sealed as it streams in, and
an expiry set from the activity's retention (R-RET-1). Download: only roles the policy
names, with confidentiality and training on record (R-ACC-1..4), for one of the
activity's purposes or a purpose the subject separately consented to (R-CON-4), only
while the call's consent stands (R-CON-3) and the recording is within its period or
held (R-RET-1, R-RET-2), and never while a restriction or an objection stops it (R-DSR-1).
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterable, AsyncIterator
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, Select, String, bindparam, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from registry import clock
from registry.access.policy import Action
from registry.access.service import Actor, authorize
from registry.blobs import BlobStore
from registry.crypto import (
    KeyRing,
    WrappedKey,
)
from registry.errors import NotFound, RuleBroken
from registry.record.inventory.models import ActivityParty, Purpose
from registry.recordings import erasure, uploads
from registry.recordings.models import (
    Call,
    Consent,
    ErasureReason,
    Recording,
    RecordingStatus,
    Segment,
    SeparateConsent,
)
from registry.rights.guards import objection_standing, refuse_stopped_use, stopping_restriction
from registry.sealed_blobs import opened, seal_into

# How long an upload in the caller's own transaction may take before the sweep may take
# its blob; the HTTP route sets its own (REGISTRY_UPLOAD_TIMEOUT_SECONDS).
UPLOAD_TIME = timedelta(hours=1)


async def store(
    *,
    session: AsyncSession,
    actor: Actor,
    ring: KeyRing,
    blobs: BlobStore,
    call_id: str,
    segment: Segment,
    audio: AsyncIterable[bytes],
) -> Recording:
    """The steps of an upload (see ``registry.recordings.uploads``) in the caller's one
    transaction, for callers in the process: the HTTP route commits the pending upload
    before the audio comes, so that the sweep finds an upload that died on the way.
    """
    upload = await uploads.begin(
        session=session, actor=actor, call_id=call_id, segment=segment, lasting=UPLOAD_TIME
    )
    try:
        sealed = await seal_audio(upload, ring=ring, blobs=blobs, audio=audio)
        return await uploads.finish(session=session, upload=upload, sealed=sealed)
    except BaseException:
        await blobs.delete(upload.blob_key)
        raise


async def seal_audio(
    upload: uploads.Upload, *, ring: KeyRing, blobs: BlobStore, audio: AsyncIterable[bytes]
) -> uploads.Sealed:
    """The audio sealed as it streams in, under a fresh data key wrapped by the primary KEK."""
    wrapped, size = await seal_into(
        blobs, ring, blob_id=upload.recording_id, blob_key=upload.blob_key, content=audio
    )
    return uploads.Sealed(wrapped, size)


def purpose_permitted(purpose: str | ColumnElement[str]) -> ColumnElement[bool]:
    """The purpose is the activity's own, or one the customer separately consented to (of
    the call in the outer query), as SQL."""
    own = exists().where(
        col(ActivityParty.activity_id) == col(Purpose.activity_id),
        col(ActivityParty.entity_id) == col(Call.company_id),
        col(Purpose.key) == purpose,
    )
    separate = exists().where(
        col(SeparateConsent.subject_id) == col(Call.customer_id),
        col(SeparateConsent.purpose) == purpose,
        col(SeparateConsent.withdrawn_at).is_(None),
    )
    return or_(own, separate)


@functools.lru_cache(maxsize=2)
def _listening_query(today: date) -> Select[Recording, Consent, bool, bool, date, bool]:
    """What every listening rule needs, the recording named by ``:recording_id`` for the
    purpose ``:purpose``, on ``today``.

    Built once a day rather than per download: a statement built anew costs about half a
    millisecond to build and walk for its cache key. The holds and restrictions it reads are
    in force on a day (their ends are dates), so the day is all of ``now`` it holds.
    """
    on = datetime.combine(today, time.min, tzinfo=UTC)
    purpose = bindparam("purpose", type_=String)
    return (
        select(
            Recording,
            col(Call.consent),
            erasure.kept_by_hold(ErasureReason.EXPIRED, on),
            purpose_permitted(purpose),
            stopping_restriction(col(Call.customer_id), col(Call.agent_id), purpose=purpose, on=on),
            objection_standing(col(Call.agent_id)),
        )
        .join(Call, col(Call.id) == col(Recording.call_id))
        .where(col(Recording.id) == bindparam("recording_id", type_=String))
    )


async def open_for_listening(
    *,
    session: AsyncSession,
    actor: Actor,
    ring: KeyRing,
    blobs: BlobStore,
    recording_id: str,
    purpose: str,
) -> tuple[Recording, AsyncIterator[bytes]]:
    """Checks every rule, then returns the recording and its audio as a lazy stream.

    One statement reads what every rule needs, the recording with its call, holds,
    purposes, restrictions and objections; the rules are then applied in order.
    """
    authorize(actor, Action.RECORDING_LISTEN)
    now = clock.now()
    found = (
        await session.execute(
            _listening_query(now.date()), {"recording_id": recording_id, "purpose": purpose}
        )
    ).one_or_none()
    if found is None or found[0].status is not RecordingStatus.ACTIVE:
        raise NotFound(f"no recording {recording_id!r}")
    recording, consent, held, permitted, restricted_until, objected = found
    # Audio of a call without consent is only kept until its deletion is done: whatever the
    # purpose, nobody listens to it (a start before the answer, a refusal, a withdrawal).
    if consent is not Consent.GIVEN:
        raise RuleBroken("R-CON-3", f"the call's consent is {consent.value}: its audio is not used")
    # Past its period and not held, a recording is not served, whether or not the sweep has
    # erased it yet (R-RET-1); a hold keeps it past its period (R-RET-2).
    if recording.expires_at <= now and not held:
        raise RuleBroken(
            "R-RET-1",
            f"the recording's retention period ended on {recording.expires_at:%Y-%m-%d}:"
            " it is erased, and not served meanwhile",
        )
    if not permitted:
        raise RuleBroken(
            "R-CON-4",
            f"{purpose!r} is no purpose of the activity and has no separate consent on record",
            field="purpose",
        )
    refuse_stopped_use(restricted_until, bool(objected))
    if recording.key_id is None or recording.wrapped_key is None:
        raise NotFound(f"no recording {recording_id!r}")
    wrapped = WrappedKey(recording.key_id, recording.wrapped_key)
    audio = await opened(
        blobs, ring, blob_id=recording.id, wrapped=wrapped, blob_key=recording.blob_key
    )
    return recording, audio
