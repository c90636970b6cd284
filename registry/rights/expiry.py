"""Packages past their time: their keys destroyed, then their blobs deleted.

A package is a copy of a subject's data (identifiers, decrypted audio, sealed again): it is
kept only as long as it takes to hand over. The sweep erases it afterwards, as it erases
recordings: key first, so that it is unreadable everywhere at once, then the blob. A blob
left behind by a crash in between is ciphertext nobody can open any more.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from registry import clock
from registry.blobs import BlobStore
from registry.db import claimed
from registry.rights.models import Package


async def erase_expired_packages(
    *, sessions: async_sessionmaker[AsyncSession], blobs: BlobStore, batch: int = 500
) -> int:
    """Erases every package past its expiry; the number erased. Safe beside other sweepers."""
    erased = 0
    while True:
        now = clock.now()
        async with sessions() as session, session.begin():
            query = (
                select(Package)
                .where(col(Package.expires_at) <= now, col(Package.wrapped_key).is_not(None))
                .order_by(col(Package.id))
                .limit(batch)
            )
            expired = (await session.scalars(claimed(session, query))).all()
            for package in expired:
                package.key_id = package.wrapped_key = None
            blob_keys = [package.blob_key for package in expired]
        await blobs.delete_many(blob_keys)
        erased += len(blob_keys)
        if len(blob_keys) < batch:
            return erased
