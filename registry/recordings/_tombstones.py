"""Erasing a set of rows and leaving each its tombstone, in as few statements as the
database allows: one on PostgreSQL, two on SQLite, however many rows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Update, insert, inspect, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.recordings.models import IdentifierTombstone, Tombstone


async def erased_with_tombstones(
    session: AsyncSession,
    erasing: Update,
    tombstone: type[Tombstone | IdentifierTombstone],
    *,
    names: str,
    left: Mapping[str, Any],
) -> list[Any]:
    """Runs ``erasing`` (an UPDATE returning the ids of the rows it erased) and leaves a
    ``tombstone`` for each, its ``names`` column the id and the rest ``left``; the ids."""
    if session.get_bind().dialect.name == "postgresql":
        # One round trip: the tombstones are inserted from the rows the UPDATE returns.
        erased = erasing.cte("erased")
        columns = inspect(tombstone).columns
        tombstones = (
            insert(tombstone)
            .from_select(
                [names, *left],
                select(*erased.c, *(literal(value, columns[k].type) for k, value in left.items())),
            )
            .returning(columns[names])
            .cte("tombstones")
        )
        return list((await session.scalars(select(*tombstones.c))).all())
    # SQLite's WITH takes no UPDATE: two statements, in the transaction of its one writer.
    ids = list(
        (await session.scalars(erasing, execution_options={"synchronize_session": False})).all()
    )
    if ids:
        await session.execute(insert(tombstone), [{names: i, **left} for i in ids])
    return ids
