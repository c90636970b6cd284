"""Keeping and following the change history of the record (R-INV-4)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    ScalarSelect,
    Select,
    event,
    func,
    inspect,
    literal,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, Session, SessionTransaction
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col

from registry import clock
from registry._text import optional_text
from registry.access.policy import Action
from registry.access.service import Actor, authorize
from registry.db import Base
from registry.errors import InvalidInput
from registry.record.history.events import EVENT_KINDS, SUBJECT_TYPES
from registry.record.history.models import Change, ChangeCounter, ChangeEvent, ImportBatch
from registry.record.history.requests import current_batch_id, current_request_id


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


REASON_LIMIT = 2000


def stated_reason(reason: str | None) -> str | None:
    """Why a person made a change, as they put it: optional prose, kept with the change."""
    return optional_text(reason, "reason", limit=REASON_LIMIT)


async def record_change(
    *,
    session: AsyncSession,
    actor: Actor,
    event: ChangeEvent,
    subject_slug: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    reason: str | None = None,
) -> Change:
    """Records one event; its subject type and action follow from its type, the request that
    made it from the request being served (``requests.on_behalf_of``), and its import batch
    from the import being applied (``requests.in_batch``)."""
    kind = EVENT_KINDS[event]
    change = Change(
        at=clock.now(),
        actor=actor.handle,
        subject_type=kind.subject_type,
        subject_slug=subject_slug,
        action=kind.action,
        event=event,
        before=before,
        after=after,
        reason=reason,
        request_id=current_request_id(),
        import_batch_id=current_batch_id(),
    )
    session.add(change)
    await session.flush()
    # Its sequence is given when the transaction commits (``number_changes``).
    session.info[_UNNUMBERED] = True
    return change


async def record_row(
    *,
    session: AsyncSession,
    actor: Actor,
    event: ChangeEvent,
    row: Base,
    subject_slug: str,
    before: dict[str, Any] | None = None,
    reason: str | None = None,
) -> Change:
    """Records one event whose subject is ``row`` as it now stands (its snapshot after)."""
    await session.flush()
    return await record_change(
        session=session,
        actor=actor,
        event=event,
        subject_slug=subject_slug,
        before=before,
        after=snapshot(row),
        reason=reason,
    )


async def record_if_changed(
    *,
    session: AsyncSession,
    actor: Actor,
    event: ChangeEvent,
    subject_slug: str,
    before: dict[str, Any],
    after: dict[str, Any],
    reason: str | None,
) -> None:
    """Records an update only if it altered something: an edit that changes nothing
    leaves no event in the log."""
    if after != before:
        await session.flush()
        await record_change(
            session=session,
            actor=actor,
            event=event,
            subject_slug=subject_slug,
            before=before,
            after=after,
            reason=reason,
        )


async def apply_edit(
    *,
    session: AsyncSession,
    actor: Actor,
    event: ChangeEvent,
    row: Base,
    subject_slug: str,
    values: Mapping[str, Any],
    reason: str | None,
) -> None:
    """Sets ``values`` on ``row``, and records the update with the row's columns before
    and after, if it changed anything."""
    before = snapshot(row)
    for name, value in values.items():
        setattr(row, name, value)
    await record_if_changed(
        session=session,
        actor=actor,
        event=event,
        subject_slug=subject_slug,
        before=before,
        after=snapshot(row),
        reason=reason,
    )


_UNNUMBERED = "history.unnumbered_changes"


@event.listens_for(Session, "before_commit")
def number_changes(session: Session) -> None:
    """Gives the changes of the committing transaction their sequence numbers, in commit order.

    A number taken when a change is inserted (an autoincrement id) does not follow commit
    order: on PostgreSQL a transaction that inserted first may commit last, after a
    follower's cursor has passed its number, and the change is skipped for good. So the
    number is taken here, as the last writes of the transaction: the one-row counter is
    incremented (``UPDATE ... RETURNING``), which locks its row until COMMIT. The next
    numbering transaction waits on that lock and, once it gets it, reads the value the
    first one committed (PostgreSQL's default READ COMMITTED re-reads the row it waited
    for), so numbers are given in commit order without gaps (a rollback undoes its
    increment too). A reader's snapshot sees the changes of every commit before
    it, hence always a prefix 1..N of the sequence: paging with ``sequence > cursor``
    sees every change once, in order.

    The lock is held from here to COMMIT only, and its holder waits on no other row: its
    own writes are flushed before it is taken, so the transactions never deadlock on it.
    On SQLite only one transaction writes at a time, and the same steps simply run.
    Savepoints are left alone: what a released savepoint recorded is numbered with the
    transaction around it, and what a rolled-back one recorded is gone.
    """
    if session.in_nested_transaction() or not session.info.get(_UNNUMBERED):
        return
    session.flush()
    ids = session.scalars(
        select(col(Change.id)).where(col(Change.sequence).is_(None)).order_by(col(Change.id))
    ).all()
    if not ids:
        return
    last = session.execute(
        update(ChangeCounter)
        .where(col(ChangeCounter.id) == 1)
        .values(last_sequence=col(ChangeCounter.last_sequence) + len(ids))
        .returning(col(ChangeCounter.last_sequence))
    ).scalar_one()
    numbers = dict(zip(ids, range(last - len(ids) + 1, last + 1), strict=True))
    session.execute(update(Change), [{"id": id_, "sequence": n} for id_, n in numbers.items()])
    for row in session.identity_map.values():
        if isinstance(row, Change) and row.id in numbers:
            set_committed_value(row, "sequence", numbers[row.id])


@event.listens_for(Session, "after_transaction_end")
def _forget_unnumbered(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_UNNUMBERED, None)


async def list_changes(
    *,
    session: AsyncSession,
    actor: Actor,
    after_sequence: int = 0,
    limit: int,
    subject_type: str | None = None,
    subject_slug: str | None = None,
    since: datetime | None = None,
    events: frozenset[ChangeEvent] = frozenset(),
) -> Sequence[Change]:
    """Changes in the order they committed, from just after ``after_sequence``: a feed to
    follow. ``since`` keeps those made at or after that time; the order is still that of
    their commits, which a change made earlier may follow. ``events`` keeps those of the
    given types (all when empty)."""
    authorize(actor, Action.HISTORY_READ)
    if subject_type is not None and subject_type not in SUBJECT_TYPES:
        known = ", ".join(sorted(SUBJECT_TYPES))
        raise InvalidInput(
            f"unknown subject type {subject_type!r}: one of {known}", field="subjectType"
        )
    query = (
        select(Change)
        .where(col(Change.sequence) > after_sequence)
        .order_by(col(Change.sequence))
        .limit(limit)
    )
    if since is not None:
        query = query.where(col(Change.at) >= in_utc(since))
    if subject_type is not None:
        query = query.where(col(Change.subject_type) == subject_type)
    if subject_slug is not None:
        query = query.where(col(Change.subject_slug) == subject_slug)
    if events:
        query = query.where(col(Change.event).in_(events))
    return (await session.scalars(query)).all()


def in_utc(moment: datetime) -> datetime:
    """``moment`` in UTC, as change times are kept; a time without a zone is taken as UTC.

    SQLite compares the times as text, so one given in another zone would be compared by
    its local figures."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def refuse_updated_since_as_of(updated_since: datetime | None, as_of: date | None) -> None:
    """``updatedSince`` asks the change log as it is now; a record rebuilt as of a past day
    holds no log to ask, and what changed since a time is a question about now anyway."""
    if updated_since is not None and as_of is not None:
        raise InvalidInput(
            "updatedSince does not go with asOf: ask the changes since a time of the record"
            " as it is now, or use diff between two days",
            field="updatedSince",
        )


def changed_since(subject_type: str, since: datetime) -> Select[Any]:
    """The slugs of the subjects of ``subject_type`` with a change at or after ``since``:
    a subquery for lists that offer ``updatedSince`` (the index on subject and time finds
    them)."""
    return select(col(Change.subject_slug)).where(
        col(Change.subject_type) == subject_type, col(Change.at) >= in_utc(since)
    )


def entity_changed_since(
    slug: Mapped[str] | ColumnElement[str], since: datetime
) -> ColumnElement[bool]:
    """Whether the entity of ``slug`` has a change at or after ``since``: to itself, or to a
    sub-processor engagement it is an end of (what its ``subProcessors`` and ``engagedBy``
    show). An engagement's slug is ``processor>sub-processor``; entity slugs are lower-case
    words and hyphens, so neither ``>`` nor a LIKE wildcard stands in one."""
    engagement = (
        select(col(Change.id))
        .where(
            col(Change.subject_type) == "engagement",
            col(Change.at) >= in_utc(since),
            col(Change.subject_slug).like(slug.concat(">%"))
            | col(Change.subject_slug).like(literal("%>").concat(slug)),
        )
        .exists()
    )
    return slug.in_(changed_since("entity", since)) | engagement


async def record_version(session: AsyncSession) -> int:
    """A number that grows with every commit that changes the record: the newest change's
    sequence.

    Every write to the record leaves a change (R-INV-4), and sequences follow commit order,
    so an answer computed at one version stays true until the version moves. (The highest
    id would not do: a change that commits after one with a higher id leaves it as it was.)
    """
    return int(await session.scalar(select(record_version_column())) or 0)


def record_version_column() -> ScalarSelect[int | None]:
    """``record_version`` as a column (``None`` before the first change), to be read in the
    same statement as something else: one round trip for both."""
    return select(func.max(col(Change.sequence))).scalar_subquery()


async def open_batch(
    *, session: AsyncSession, actor: Actor, file_name: str, sha256: str
) -> ImportBatch:
    """An import batch for the changes an import is about to record (``requests.in_batch``)."""
    batch = ImportBatch(file_name=file_name, sha256=sha256, actor=actor.handle, at=clock.now())
    session.add(batch)
    await session.flush()
    return batch


async def batches_by_id(session: AsyncSession, ids: Sequence[int]) -> dict[int, ImportBatch]:
    """The import batches of a page of changes, in one statement."""
    if not ids:
        return {}
    rows = await session.scalars(select(ImportBatch).where(col(ImportBatch.id).in_(set(ids))))
    return {row.id: row for row in rows}
