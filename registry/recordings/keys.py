"""Rotating the key ring: a new primary key, and every data key re-wrapped under it.

The audio is never touched: only the small wrapped data keys change. Batches commit one by
one and older keys stay in the ring, so a rotation stopped half-way leaves every recording
readable, and running it again finishes the work (under a newer key still). A data key that
cannot be unwrapped (damaged, or its key gone from the ring) is left as it is and named,
rather than stopping every rotation to come at the same recording.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry.crypto import CiphertextInvalid, KeyRing, WrappedKey, rewrap
from registry.db import claimed
from registry.recordings.models import Recording


class KeyRingUnavailable(Exception):
    """The key ring cannot be read, so it cannot be rotated."""


@dataclass
class Rewrapped:
    """What a rotation did, batch by committed batch."""

    done: int = 0
    # Recordings whose data key did not unwrap: no key can open their audio any more.
    unreadable: list[str] = field(default_factory=list)


def ring_to_rotate(path: Path) -> KeyRing:
    """The key ring in ``path``: never a new one, which would wrap nothing that exists."""
    if not path.exists():
        raise KeyRingUnavailable(
            f"no key ring at {path}: point REGISTRY_KEYRING_FILE (or REGISTRY_VAR_DIR) at the"
            " ring the server uses"
        )
    try:
        return KeyRing.load_or_create(path)
    except OSError as error:
        raise KeyRingUnavailable(
            f"cannot read the key ring {path}: {error.strerror or error}"
        ) from None
    except ValueError as error:
        # Its message names the file and what is wrong with it, never a key.
        raise KeyRingUnavailable(str(error)) from None


async def rewrap_all(
    *,
    sessions: async_sessionmaker[AsyncSession],
    ring: KeyRing,
    batch: int = 500,
    progress: Rewrapped | None = None,
) -> Rewrapped:
    """Re-wraps every data key not yet under the ring's primary key.

    ``progress`` is filled in as each batch commits, so that a caller knows how far a
    rotation got even when it stops with an error.
    """
    progress = progress if progress is not None else Rewrapped()
    # In order of ID, from after the last one seen: a recording left as it was is not
    # taken again, and a recording another worker holds is skipped, not waited for.
    after = ""
    while True:
        done, unreadable = 0, []
        async with sessions() as session, session.begin():
            query = (
                select(Recording)
                .where(
                    Recording.wrapped_key.is_not(None),
                    Recording.key_id != ring.primary_id,
                    Recording.id > after,
                )
                .order_by(Recording.id)
                .limit(batch)
            )
            rows = (await session.scalars(claimed(session, query))).all()
            for recording in rows:
                assert recording.key_id is not None and recording.wrapped_key is not None
                wrapped = WrappedKey(recording.key_id, recording.wrapped_key)
                try:
                    fresh = rewrap(ring, recording.id, wrapped)
                except (CiphertextInvalid, KeyError):
                    unreadable.append(recording.id)
                    continue
                recording.key_id, recording.wrapped_key = fresh.key_id, fresh.ciphertext
                done += 1
        progress.done += done
        progress.unreadable += unreadable
        if len(rows) < batch:
            return progress
        after = rows[-1].id


async def under_older_keys(*, sessions: async_sessionmaker[AsyncSession], ring: KeyRing) -> int:
    """How many data keys are wrapped under a key other than the ring's primary."""
    async with sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Recording)
            .where(Recording.wrapped_key.is_not(None), Recording.key_id != ring.primary_id)
        )
    return count or 0
