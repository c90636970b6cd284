"""Rotating the key ring: a new primary key, and every data key re-wrapped under it.

The audio is never touched: only the small wrapped data keys change. Batches commit
one by one, so a rotation stopped half-way leaves every key readable (old keys stay
in the ring) and the next run finishes it.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry.crypto import KeyRing, WrappedKey, rewrap
from registry.db import claimed
from registry.recordings.models import Recording


async def rewrap_all(
    *, sessions: async_sessionmaker[AsyncSession], ring: KeyRing, batch: int = 500
) -> int:
    """Re-wraps every data key not yet under the ring's primary key; returns how many."""
    done = 0
    while True:
        async with sessions() as session, session.begin():
            query = (
                select(Recording)
                .where(Recording.wrapped_key.is_not(None), Recording.key_id != ring.primary_id)
                .order_by(Recording.id)
                .limit(batch)
            )
            rows = (await session.scalars(claimed(session, query))).all()
            for recording in rows:
                assert recording.key_id is not None and recording.wrapped_key is not None
                fresh = rewrap(
                    ring, recording.id, WrappedKey(recording.key_id, recording.wrapped_key)
                )
                recording.key_id, recording.wrapped_key = fresh.key_id, fresh.ciphertext
            done += len(rows)
        if len(rows) < batch:
            return done
