"""Keeping and following the change history of the record (R-INV-4)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from enum import Enum
from typing import Any

from sqlalchemy import func, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from registry import clock
from registry.access.policy import Action
from registry.access.service import Actor, authorize
from registry.db import Base
from registry.history.models import Change, ChangeAction


def snapshot(row: Base) -> dict[str, Any]:
    """The row's columns as JSON-safe values, for the before/after of a change."""
    values: dict[str, Any] = {}
    for column in inspect(type(row)).columns:
        value = getattr(row, column.key)
        if isinstance(value, Enum):
            value = value.value
        elif isinstance(value, date | datetime):
            value = value.isoformat()
        values[column.key] = value
    return values


async def record_change(
    *,
    session: AsyncSession,
    actor: Actor,
    subject_type: str,
    subject_slug: str,
    action: ChangeAction,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> Change:
    change = Change(
        at=clock.now(),
        actor=actor.handle,
        subject_type=subject_type,
        subject_slug=subject_slug,
        action=action,
        before=before,
        after=after,
    )
    session.add(change)
    await session.flush()
    return change


async def list_changes(
    *,
    session: AsyncSession,
    actor: Actor,
    after_id: int = 0,
    limit: int,
    subject_type: str | None = None,
    subject_slug: str | None = None,
) -> Sequence[Change]:
    """Changes in the order they happened, from just after ``after_id``: a feed to follow."""
    authorize(actor, Action.HISTORY_READ)
    query = select(Change).where(col(Change.id) > after_id).order_by(col(Change.id)).limit(limit)
    if subject_type is not None:
        query = query.where(col(Change.subject_type) == subject_type)
    if subject_slug is not None:
        query = query.where(col(Change.subject_slug) == subject_slug)
    return (await session.scalars(query)).all()


async def record_version(session: AsyncSession) -> int:
    """A number that grows with every change to the record: the newest change's id.

    Every write to the record leaves a change (R-INV-4), so an answer computed at one
    version stays true until the version moves.
    """
    return int(await session.scalar(select(func.max(Change.id))) or 0)
