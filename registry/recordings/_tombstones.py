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
    rows = await erased_rows_with_tombstones(session, erasing, tombstone, names=names, left=left)
    return [row[0] for row in rows]


async def erased_rows_with_tombstones(
    session: AsyncSession,
    erasing: Update,
    tombstone: type[Tombstone | IdentifierTombstone],
    *,
    names: str,
    left: Mapping[str, Any],
) -> list[tuple[Any, ...]]:
    """``erased_with_tombstones`` for an UPDATE returning the id first and more after it (a
    blob's key, say): the rows it returns, each tombstoned by its id."""
    if session.get_bind().dialect.name == "postgresql":
        # One round trip: the tombstones are inserted from the rows the UPDATE returns, and
        # the rows read from it too (a data-modifying WITH runs once, read or not).
        erased = erasing.cte("erased")
        columns = inspect(tombstone).columns
        id_column, *_ = erased.c
        tombstones = (
            insert(tombstone)
            .from_select(
                [names, *left],
                select(id_column, *(literal(value, columns[k].type) for k, value in left.items())),
            )
            .cte("tombstones")
        )
        everything = select(*erased.c).add_cte(tombstones)
        return [tuple(row) for row in await session.execute(everything)]
    # SQLite's WITH takes no UPDATE: two statements, in the transaction of its one writer.
    erased_rows = await session.execute(erasing, execution_options={"synchronize_session": False})
    rows = [tuple(row) for row in erased_rows]
    if rows:
        await session.execute(insert(tombstone), [{names: row[0], **left} for row in rows])
    return rows
