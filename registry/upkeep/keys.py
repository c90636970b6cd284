"""Rotating the key ring: a new primary key, and every data key re-wrapped under it.

The audio is never touched: only the small wrapped data keys change. Batches commit one by
one and older keys stay in the ring, so a rotation stopped half-way leaves every recording
readable, and running it again finishes the work (under a newer key still). A data key that
cannot be unwrapped (damaged, or its key gone from the ring) is left as it is and named,
rather than stopping every rotation to come at the same recording; a KEK whose KMS cannot use
it now (unreachable, access refused, the key disabled) stops the rotation instead, since
nothing is lost and every row under it would fail the same way.

With KEKs in a KMS (``registry.kms``) the new primary is made there and put first in
``REGISTRY_KMS_KEY_IDS``: a rotation then re-wraps every data key under it, those under the
file's KEKs (wrapped before the switch) too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import anyio.to_thread
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from registry.crypto import (
    CiphertextInvalid,
    KekUnavailable,
    KeyRing,
    RemoteKeks,
    WrappedKey,
    rewrap,
)
from registry.db import claimed
from registry.recordings.models import Recording
from registry.rights.models import Package

# Everything sealed under a data key of its own, wrapped with its ID as context: the
# recordings, and the packages built from them (answers to subjects, disclosures).
SEALED: tuple[type[Recording] | type[Package], ...] = (Recording, Package)
Row = TypeVar("Row", Recording, Package)


class KeyRingUnavailable(Exception):
    """The key ring cannot be read, so it cannot be rotated."""


@dataclass
class Rewrapped:
    """What a rotation did, batch by committed batch."""

    done: int = 0
    # Recordings or packages whose data key did not unwrap: nothing can open them any more.
    unreadable: list[str] = field(default_factory=list)


def ring_to_rotate(path: Path, *, remote: RemoteKeks | None = None) -> KeyRing:
    """The key ring in ``path``: never a new one, which would wrap nothing that exists."""
    if not path.exists():
        raise KeyRingUnavailable(
            f"no key ring at {path}: point REGISTRY_KEYRING_FILE (or REGISTRY_VAR_DIR) at the"
            " ring the server uses"
        )
    try:
        return KeyRing.load_or_create(path, remote=remote)
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
    await _rewrap_table(sessions, ring, Recording, batch, progress)
    await _rewrap_table(sessions, ring, Package, batch, progress)
    return progress


async def _rewrap_table(
    sessions: async_sessionmaker[AsyncSession],
    ring: KeyRing,
    model: type[Row],
    batch: int,
    progress: Rewrapped,
) -> None:
    # In order of ID, from after the last one seen: a row left as it was is not taken
    # again, and a row another worker holds is skipped, not waited for.
    after = ""
    while True:
        done, unreadable = 0, []
        async with sessions() as session, session.begin():
            query = (
                select(model)
                .where(
                    col(model.wrapped_key).is_not(None),
                    col(model.key_id) != ring.primary_id,
                    col(model.id) > after,
                )
                .order_by(col(model.id))
                .limit(batch)
            )
            rows = (await session.scalars(claimed(session, query))).all()
            for row in rows:
                assert row.key_id is not None and row.wrapped_key is not None
                wrapped = WrappedKey(row.key_id, row.wrapped_key)
                try:
                    # In a worker thread: a KMS key's re-wrap is a call over the network.
                    # For the file's KEKs the hop costs little beside the batch's queries.
                    fresh = await anyio.to_thread.run_sync(rewrap, ring, row.id, wrapped)
                except KekUnavailable:
                    raise
                except (CiphertextInvalid, KeyError):
                    unreadable.append(row.id)
                    continue
                row.key_id, row.wrapped_key = fresh.key_id, fresh.ciphertext
                done += 1
        progress.done += done
        progress.unreadable += unreadable
        if len(rows) < batch:
            return
        after = rows[-1].id


async def under_older_keys(*, sessions: async_sessionmaker[AsyncSession], ring: KeyRing) -> int:
    """How many data keys are wrapped under a key other than the ring's primary."""
    left = 0
    async with sessions() as session:
        for model in SEALED:
            count = await session.scalar(
                select(func.count())
                .select_from(model)
                .where(col(model.wrapped_key).is_not(None), col(model.key_id) != ring.primary_id)
            )
            left += count or 0
    return left
