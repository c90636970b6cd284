"""Rules of the taxonomy: its data and subject categories listed and extended, and the data
categories an activity keeps, detached or kept for another period (R-INV-1, R-INV-6).

A data category's key is its dotted path (``user.contact.email``): its parent is the key
without its last segment. A parent need not be a row of its own: ``user.contact`` exists as
the parent of ``user.contact.email``. Seeded rows are no different from added ones.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from registry import clock
from registry._columns import text_lengths
from registry._text import optional_text, stated
from registry.access.policy import Action
from registry.access.service import Actor, authorize
from registry.errors import Conflict, InvalidInput, NotFound, RuleBroken
from registry.record.answers import Basis, PurposeWithBases
from registry.record.history import service as history
from registry.record.history.events import link_slug
from registry.record.history.models import ChangeEvent
from registry.record.inventory import service as inventory
from registry.record.inventory.models import (
    Activity,
    ActivityDataCategory,
    DataCategory,
    Purpose,
    PurposeBasis,
    SubjectCategory,
)
from registry.record.inventory.service import activity_by_slug
from registry.record.transfers import service as transfers
from registry.record.transfers.models import Transfer, TransferDataCategory

# One segment of a dotted key: lower-case letters, digits and underscores, a letter first
# (the seeds' ``racial_ethnic_origin``). A dot or a ``>`` never stands in one: the dot
# separates segments, the ``>`` the ends of a link's slug in the change log.
SEGMENT = re.compile(r"^[a-z][a-z0-9_]*$")
CATEGORY_LIMITS = text_lengths(DataCategory)
SUBJECT_LIMITS = text_lengths(SubjectCategory)
DESCRIPTION_LIMIT = 2000


def parent_of(key: str) -> str | None:
    """The key's parent in the dotted taxonomy; None for a top-level key."""
    parent, dot, _ = key.rpartition(".")
    return parent if dot else None


def _is_under(key: str, ancestor: str) -> bool:
    """Whether ``key`` is ``ancestor`` or one of its descendants."""
    return key == ancestor or key.startswith(ancestor + ".")


def _dotted_key(value: str | None, field: str, *, limit: int) -> str:
    key = stated(value, field, limit=limit, one_line=True)
    if not all(SEGMENT.match(segment) for segment in key.split(".")):
        raise InvalidInput(
            f"{key!r} is not a key: lower-case segments (a-z, 0-9, _) joined by dots",
            field=field,
        )
    return key


async def list_data_categories(
    *, session: AsyncSession, actor: Actor, under: str | None = None
) -> Sequence[DataCategory]:
    """The data categories in key order; ``under`` keeps a key and its descendants."""
    authorize(actor, Action.INVENTORY_READ)
    # Sorted here, not by the database: a locale's collation may weigh dots differently.
    rows = sorted((await session.scalars(select(DataCategory))).all(), key=lambda r: r.key)
    if under is None:
        return rows
    found = [row for row in rows if _is_under(row.key, under)]
    if not found:
        raise NotFound(f"no data category {under!r} in the taxonomy", field="under")
    return found


async def list_subject_categories(
    *, session: AsyncSession, actor: Actor
) -> Sequence[SubjectCategory]:
    authorize(actor, Action.INVENTORY_READ)
    return sorted((await session.scalars(select(SubjectCategory))).all(), key=lambda r: r.key)


async def list_purposes(
    *, session: AsyncSession, actor: Actor, activity_slug: str | None = None
) -> list[PurposeWithBases]:
    """The activities' purposes (one activity's if given), each with its legal basis for each
    category of data subjects."""
    authorize(actor, Action.INVENTORY_READ)
    query = select(Purpose).order_by(col(Purpose.activity_id), col(Purpose.id))
    if activity_slug is not None:
        activity = await activity_by_slug(session, activity_slug)
        query = query.where(col(Purpose.activity_id) == activity.id)
    purposes = (await session.scalars(query)).all()
    bases: dict[int, list[Basis]] = defaultdict(list)
    found = await session.execute(
        select(PurposeBasis, SubjectCategory)
        .join(SubjectCategory, col(SubjectCategory.id) == col(PurposeBasis.subject_category_id))
        .where(col(PurposeBasis.purpose_id).in_([p.id for p in purposes]))
        .order_by(col(PurposeBasis.id))
    )
    for basis, subject in found:
        bases[basis.purpose_id].append(Basis(subject, basis.legal_basis, basis.note))
    return [PurposeWithBases(purpose, bases[purpose.id]) for purpose in purposes]


def _in_special_branch(key: str, rows: Sequence[DataCategory]) -> bool:
    """Whether ``key`` would sit in the Art. 9 branch: under a special category, or under
    (or at) an inner node whose every category is special, as ``user.special`` is."""
    for row in rows:
        if row.special_category and _is_under(key, row.key) and key != row.key:
            return True
    node: str | None = key
    while node is not None:
        below = [row for row in rows if _is_under(row.key, node)]
        if below and all(row.special_category for row in below):
            return True
        node = parent_of(node)
    return False


async def add_data_category(
    *,
    session: AsyncSession,
    actor: Actor,
    parent_key: str,
    key: str,
    name: str,
    description: str | None = None,
) -> DataCategory:
    """Adds ``parent_key.key`` under an existing parent; never anything in the Art. 9
    branch (R-INV-1). ``key`` is the new last segment; the category is never special."""
    authorize(actor, Action.INVENTORY_WRITE)
    parent = _dotted_key(parent_key, "parent_key", limit=CATEGORY_LIMITS["key"])
    segment = stated(key, "key", limit=CATEGORY_LIMITS["key"], one_line=True)
    if not SEGMENT.match(segment):
        raise InvalidInput(
            f"{segment!r} is not one segment of a key: lower-case a-z, 0-9 and _", field="key"
        )
    full_key = f"{parent}.{segment}"
    if len(full_key) > CATEGORY_LIMITS["key"]:
        raise InvalidInput(f"a key has at most {CATEGORY_LIMITS['key']} characters", field="key")
    title = stated(name, "name", limit=CATEGORY_LIMITS["name"], one_line=True)
    about = optional_text(description, "description", limit=DESCRIPTION_LIMIT)
    rows = (await session.scalars(select(DataCategory))).all()
    if _in_special_branch(full_key, rows):
        raise RuleBroken(
            "R-INV-1",
            f"{parent} is in the special categories' branch (Art. 9): nothing is added there",
            field="parent_key",
        )
    if not any(_is_under(row.key, parent) for row in rows):
        raise NotFound(f"no data category {parent!r} to add under", field="parent_key")
    if any(row.key == full_key for row in rows):
        raise Conflict(f"a data category {full_key!r} exists already", field="key")
    category = DataCategory(key=full_key, name=title, description=about, special_category=False)
    session.add(category)
    await history.record_row(
        session=session,
        actor=actor,
        event=ChangeEvent.DATA_CATEGORY_ADDED,
        row=category,
        subject_slug=category.key,
    )
    return category


async def add_subject_category(
    *, session: AsyncSession, actor: Actor, key: str, name: str, description: str | None = None
) -> SubjectCategory:
    authorize(actor, Action.INVENTORY_WRITE)
    full_key = _dotted_key(key, "key", limit=SUBJECT_LIMITS["key"])
    title = stated(name, "name", limit=SUBJECT_LIMITS["name"], one_line=True)
    about = optional_text(description, "description", limit=DESCRIPTION_LIMIT)
    existing = await session.scalar(
        select(col(SubjectCategory.id)).where(col(SubjectCategory.key) == full_key)
    )
    if existing is not None:
        raise Conflict(f"a subject category {full_key!r} exists already", field="key")
    subject = SubjectCategory(key=full_key, name=title, description=about)
    session.add(subject)
    await history.record_row(
        session=session,
        actor=actor,
        event=ChangeEvent.SUBJECT_CATEGORY_ADDED,
        row=subject,
        subject_slug=subject.key,
    )
    return subject


async def _kept(
    session: AsyncSession, activity_slug: str, category_key: str
) -> tuple[Activity, DataCategory, ActivityDataCategory]:
    """The activity, the category and the link by which the activity keeps it."""
    activity = await activity_by_slug(session, activity_slug)
    category = await session.scalar(
        select(DataCategory).where(col(DataCategory.key) == category_key)
    )
    if category is None:
        raise NotFound(f"no data category {category_key!r}", field="category")
    link = await session.scalar(
        select(ActivityDataCategory).where(
            col(ActivityDataCategory.activity_id) == activity.id,
            col(ActivityDataCategory.data_category_id) == category.id,
        )
    )
    if link is None:
        raise NotFound(f"{activity_slug} does not process {category_key}", field="category")
    return activity, category, link


async def detach_data_category(
    *,
    session: AsyncSession,
    actor: Actor,
    activity_slug: str,
    category_key: str,
    reason: str | None = None,
) -> None:
    """The activity no longer processes the category, so neither do its running transfers.

    A transfer's data must be data of its activity (``createTransfer``, and every
    ``updateTransfer`` checks again), so the category is taken off each running transfer
    that carries it, with the transfer's own event and the same reason; one that carries
    nothing else is refused: end it first. Ended transfers keep what they carried.
    """
    authorize(actor, Action.INVENTORY_WRITE)
    why = history.stated_reason(reason)
    activity, category, link = await _kept(session, activity_slug, category_key)
    carrying = await _running_transfers_carrying(session, activity, category)
    for transfer, keys in carrying:
        if keys == [category.key]:
            raise Conflict(
                f"transfer {transfer.slug} carries only {category_key}: end it first",
                field="category",
            )
    for transfer, _ in carrying:
        await transfers.drop_data_category(
            session=session,
            actor=actor,
            transfer=transfer,
            category=category,
            reason=why or f"{category_key} detached from {activity.slug}",
        )
    before = inventory.retention_state(link, activity, category)
    await session.delete(link)
    await session.flush()
    await history.record_change(
        session=session,
        actor=actor,
        event=ChangeEvent.DATA_CATEGORY_DETACHED,
        subject_slug=link_slug(activity.slug, category.key),
        before=before,
        after=None,
        reason=why,
    )


async def _running_transfers_carrying(
    session: AsyncSession, activity: Activity, category: DataCategory
) -> list[tuple[Transfer, list[str]]]:
    """The activity's transfers not ended by today that carry ``category``, each with the
    keys of all it carries."""
    carrying = select(col(TransferDataCategory.transfer_id)).where(
        col(TransferDataCategory.data_category_id) == category.id
    )
    found = await session.execute(
        select(Transfer, col(DataCategory.key))
        .join(TransferDataCategory, col(TransferDataCategory.transfer_id) == col(Transfer.id))
        .join(DataCategory, col(DataCategory.id) == col(TransferDataCategory.data_category_id))
        .where(
            col(Transfer.activity_id) == activity.id,
            col(Transfer.id).in_(carrying),
            col(Transfer.ended_on).is_(None) | (col(Transfer.ended_on) > clock.today()),
        )
        .order_by(col(Transfer.slug), col(DataCategory.key))
    )
    keys: dict[str, list[str]] = defaultdict(list)
    rows: dict[str, Transfer] = {}
    for transfer, key in found:
        rows[transfer.slug] = transfer
        keys[transfer.slug].append(key)
    return [(rows[slug], keys[slug]) for slug in rows]


async def update_retention(
    *,
    session: AsyncSession,
    actor: Actor,
    activity_slug: str,
    category_key: str,
    retention_criterion: str | None,
    retention_days: int | None = None,
    reason: str | None = None,
) -> ActivityDataCategory:
    """How long the activity keeps a category: a criterion always, and a number of days if
    there is one (R-INV-6). The retention given is stated, so a category whose retention the
    source did not state stops being a gap. Setting the same values again records nothing."""
    authorize(actor, Action.INVENTORY_WRITE)
    why = history.stated_reason(reason)
    criterion = inventory.checked_retention(retention_criterion, retention_days)
    activity, category, link = await _kept(session, activity_slug, category_key)
    before = inventory.retention_state(link, activity, category)
    link.retention_days = retention_days
    link.retention_criterion = criterion
    link.retention_stated = True
    after = inventory.retention_state(link, activity, category)
    if after != before:
        await session.flush()
        await history.record_change(
            session=session,
            actor=actor,
            event=ChangeEvent.RETENTION_CHANGED,
            subject_slug=link_slug(activity.slug, category.key),
            before=before,
            after=after,
            reason=why,
        )
    return link
