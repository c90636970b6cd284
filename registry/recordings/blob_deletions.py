"""The blobs of recordings the sweep erased, deleted after the erasure commits (R-RET-1).

A batch's keys are destroyed, its recordings marked erased and its blob keys kept in one
``PendingBlobDeletion``, all in one transaction (``erasure.erase_all``); the blobs are
deleted once it commits, in the background while the next batch is erased, and the
pending row goes once they are gone. A sweep killed in between, or a blob store down,
leaves the row; the next sweep finishes it before anything else (``finish_pending``).
Deleting a blob twice is no error, so a row finished by two sweepers at once costs a
second request, never a wrong count: only the one that deletes the row counts its blobs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from registry.blobs import BlobStore
from registry.db import claimed
from registry.recordings.models import PendingBlobDeletion


async def queue(session: AsyncSession, blob_keys: Sequence[str], now: datetime) -> int:
    """Keeps ``blob_keys`` for deletion, in the caller's transaction; the pending row's id."""
    pending_id: int | None = await session.scalar(
        insert(PendingBlobDeletion)
        .values(blob_keys=list(blob_keys), erased_at=now)
        .returning(col(PendingBlobDeletion.id))
    )
    assert pending_id is not None
    return pending_id


async def finish_pending(
    *, sessions: async_sessionmaker[AsyncSession], blobs: BlobStore
) -> tuple[int, Exception | None]:
    """Deletes the blobs of every pending row no other sweeper holds, and the rows: how
    many blobs; and, if the store failed, the failure (that row and the rest wait)."""
    deleted = 0
    while True:
        async with sessions() as session, session.begin():
            oldest = select(PendingBlobDeletion).order_by(col(PendingBlobDeletion.id)).limit(1)
            pending = await session.scalar(claimed(session, oldest))
            if pending is None:
                return deleted, None
            try:
                await blobs.delete_many(pending.blob_keys)
            except Exception as error:
                # The erasure stands (the keys went with it): the sweep goes on and fails at
                # its end, and the next one tries these blobs again.
                return deleted, error
            # Removed in the transaction that holds its lock: no other sweeper counts it.
            await session.delete(pending)
            deleted += len(pending.blob_keys)


@dataclass
class Deleting:
    """The blobs of an erased batch being deleted, in the background."""

    pending_id: int
    count: int
    task: asyncio.Task[None]

    @classmethod
    def start(cls, blobs: BlobStore, pending_id: int, blob_keys: Sequence[str]) -> Deleting:
        # One call for the lot: a worker thread and one directory fsync for a local folder
        # (unlinks in one folder take turns: more threads gained nothing when measured),
        # bulk requests for an object store.
        return cls(pending_id, len(blob_keys), asyncio.create_task(blobs.delete_many(blob_keys)))

    async def finished(self, session: AsyncSession) -> tuple[int, Exception | None]:
        """Once the blobs are gone, their pending row deleted in ``session``: how many blobs
        (none if another sweeper finished the row first); or, if a deletion failed, none,
        and the failure (the row stays for the next sweep)."""
        try:
            await self.task
        except Exception as error:
            return 0, error
        gone = await session.scalar(
            delete(PendingBlobDeletion)
            .where(col(PendingBlobDeletion.id) == self.pending_id)
            .returning(col(PendingBlobDeletion.id)),
            execution_options={"synchronize_session": False},
        )
        return (self.count if gone is not None else 0), None

    async def abandoned(self) -> None:
        """Waited for, its outcome dropped: the sweep failed on the way, and the next one
        finds the pending row still there."""
        await asyncio.gather(self.task, return_exceptions=True)
