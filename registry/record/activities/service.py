"""Rules for editing the processing activities: their own facts, purposes, legal bases and
data subjects. Every write goes through here, seeds included, and leaves a typed change
(R-INV-4): what a seed made is edited, and shown in the log, like anything else."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from registry import clock
from registry._columns import text_lengths
from registry._edits import edited, refuse_unknown_fields
from registry._text import optional_text, stated
from registry.access.policy import Action
from registry.access.service import Actor, authorize
from registry.errors import Conflict, InvalidInput, NotFound
from registry.record.history import service as history
from registry.record.history.events import link_slug
from registry.record.history.models import ChangeEvent
from registry.record.inventory.models import (
    Activity,
    ActivityDraft,
    ActivitySubject,
    LegalBasis,
    Purpose,
    PurposeBasis,
    SubjectCategory,
)

KEY = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# A notice gives the month it was last updated, sometimes the day: 2022-08, 2022-08-31.
NOTICE_DATE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?$")
ACTIVITY_LIMITS = text_lengths(Activity)
PURPOSE_LIMITS = text_lengths(Purpose)
NOTICE_FIELDS = frozenset({"notice_last_updated", "notice_authoritative_language"})
ONE_LINE_FIELDS = frozenset({"name", "dpia_reference", "lia_reference", *NOTICE_FIELDS})
OPTIONAL_FIELDS = frozenset({"dpia_reference", "lia_reference", "platform", *NOTICE_FIELDS})
LIST_FIELDS = frozenset({"operations", "recipient_categories"})
# The slug names the activity in history and integrations; the recipients have their own
# whole-list edit (``set_recipient_categories``).
FIXED_FIELDS = frozenset({"slug", "recipient_categories"})
EDITABLE_FIELDS = frozenset(ActivityDraft.model_fields) - FIXED_FIELDS
PURPOSE_FIELDS = frozenset({"name", "description"})
LIST_ITEM_LIMIT = 500
MAX_LIST_ITEMS = 100


@dataclass(frozen=True)
class SecurityMeasure:
    key: str
    description: str
    enforced_by_software: bool
    # The contract that binds the party taking the measure to it (a processor's SCCs).
    contract_reference: str | None = None


# ------------------------------------------------------------------------------- lookups


async def activity_by_slug(session: AsyncSession, slug: str) -> Activity:
    activity = await session.scalar(select(Activity).where(col(Activity.slug) == slug))
    if activity is None:
        raise NotFound(f"no activity {slug!r}", field="activity")
    return activity


async def _editable_activity(session: AsyncSession, slug: str) -> Activity:
    """The activity, if it can still be changed: a retired one is kept as it was retired."""
    activity = await activity_by_slug(session, slug)
    if activity.retired_on is not None:
        raise Conflict(f"{slug} was retired on {activity.retired_on}", field="activity")
    return activity


async def _purpose(session: AsyncSession, activity: Activity, key: str) -> Purpose:
    purpose = await session.scalar(
        select(Purpose).where(col(Purpose.activity_id) == activity.id, col(Purpose.key) == key)
    )
    if purpose is None:
        raise NotFound(f"{activity.slug} has no purpose {key!r}", field="purpose")
    return purpose


async def _subject_category(session: AsyncSession, key: str) -> SubjectCategory:
    found = await session.scalar(select(SubjectCategory).where(col(SubjectCategory.key) == key))
    if found is None:
        raise NotFound(f"no subject category {key!r}", field="subject_category")
    return found


async def _activity_subject(
    session: AsyncSession, activity: Activity, subject: SubjectCategory
) -> ActivitySubject | None:
    return await session.scalar(
        select(ActivitySubject).where(
            col(ActivitySubject.activity_id) == activity.id,
            col(ActivitySubject.subject_category_id) == subject.id,
        )
    )


# ------------------------------------------------------------------------ cleaning input


def _key(value: str, field: str) -> str:
    key = stated(value, field, limit=80, one_line=True)
    if not KEY.match(key):
        raise InvalidInput(f"{field} must be lower-case words joined by hyphens", field=field)
    return key


def _clean_field(name: str, value: Any) -> Any:
    """One of the activity's own fields as it is stored: text trimmed and checked, lists of
    one-line items without blanks or repeats."""
    if name in LIST_FIELDS:
        return _clean_list(value, name)
    if name == "dpia_status":
        return value
    limit = ACTIVITY_LIMITS.get(name, 4000)
    one_line = name in ONE_LINE_FIELDS
    if name in OPTIONAL_FIELDS:
        cleaned = optional_text(value, name, limit=limit, one_line=one_line)
        if name == "notice_last_updated" and cleaned and not NOTICE_DATE.match(cleaned):
            raise InvalidInput(f"{name} is a month (2022-08) or a day (2022-08-31)", field=name)
        return cleaned
    return stated(value, name, limit=limit, one_line=one_line)


def _clean_list(values: Iterable[str], field: str) -> list[str]:
    items = list(values)
    if len(items) > MAX_LIST_ITEMS:
        raise InvalidInput(f"{field} holds more than {MAX_LIST_ITEMS} items", field=field)
    cleaned = [stated(item, field, limit=LIST_ITEM_LIMIT, one_line=True) for item in items]
    seen: set[str] = set()
    for item in cleaned:
        if item.casefold() in seen:
            raise InvalidInput(f"{field} names {item!r} twice", field=field)
        seen.add(item.casefold())
    return cleaned


def _clean_measures(measures: Sequence[SecurityMeasure]) -> list[dict[str, Any]]:
    if len(measures) > MAX_LIST_ITEMS:
        raise InvalidInput(
            f"security_measures holds more than {MAX_LIST_ITEMS} items", field="security_measures"
        )
    cleaned: list[dict[str, Any]] = []
    keys: set[str] = set()
    for measure in measures:
        key = _key(measure.key, "security_measures.key")
        if key in keys:
            raise InvalidInput(
                f"security measure {key!r} is given twice", field="security_measures"
            )
        keys.add(key)
        description = stated(
            measure.description, "security_measures.description", limit=LIST_ITEM_LIMIT * 2
        )
        if not isinstance(measure.enforced_by_software, bool):
            raise InvalidInput(
                "security_measures.enforced_by_software must be true or false",
                field="security_measures",
            )
        contract = optional_text(
            measure.contract_reference,
            "security_measures.contract_reference",
            limit=LIST_ITEM_LIMIT,
            one_line=True,
        )
        item: dict[str, Any] = {
            "key": key,
            "description": description,
            "enforced_by_software": measure.enforced_by_software,
        }
        if contract is not None:
            item["contract_reference"] = contract
        cleaned.append(item)
    return cleaned


# ------------------------------------------------------------------- the activity itself


async def create_activity(
    *,
    session: AsyncSession,
    actor: Actor,
    draft: ActivityDraft,
    security_measures: Sequence[SecurityMeasure] = (),
) -> Activity:
    authorize(actor, Action.INVENTORY_WRITE)
    slug = _key(draft.slug, "slug")
    if await session.scalar(select(col(Activity.id)).where(col(Activity.slug) == slug)):
        raise Conflict(f"an activity {slug!r} exists already", field="slug")
    values = {
        name: _clean_field(name, getattr(draft, name))
        for name in ActivityDraft.model_fields
        if name != "slug"
    }
    activity = Activity(slug=slug, security_measures=_clean_measures(security_measures), **values)
    session.add(activity)
    await history.record_row(
        session=session,
        actor=actor,
        event=ChangeEvent.ACTIVITY_CREATED,
        row=activity,
        subject_slug=activity.slug,
    )
    return activity


async def update_activity(
    *,
    session: AsyncSession,
    actor: Actor,
    slug: str,
    changes: Mapping[str, Any],
    reason: str | None = None,
) -> Activity:
    """Applies the given field changes; a change that alters nothing is not recorded."""
    authorize(actor, Action.INVENTORY_WRITE)
    refuse_unknown_fields(changes, EDITABLE_FIELDS)
    why = history.stated_reason(reason)
    activity = await _editable_activity(session, slug)
    draft = edited(ActivityDraft, activity, changes)
    cleaned = {name: _clean_field(name, getattr(draft, name)) for name in changes}
    return await _changed(session, actor, activity, cleaned, why)


async def set_security_measures(
    *,
    session: AsyncSession,
    actor: Actor,
    activity_slug: str,
    measures: Sequence[SecurityMeasure],
    reason: str | None = None,
) -> Activity:
    """Replaces the activity's security measures (Art. 30(1)(g)) with ``measures``."""
    authorize(actor, Action.INVENTORY_WRITE)
    why = history.stated_reason(reason)
    activity = await _editable_activity(session, activity_slug)
    cleaned = {"security_measures": _clean_measures(measures)}
    return await _changed(session, actor, activity, cleaned, why)


async def set_recipient_categories(
    *,
    session: AsyncSession,
    actor: Actor,
    activity_slug: str,
    categories: Sequence[str],
    reason: str | None = None,
) -> Activity:
    """Replaces the categories of recipients (Art. 30(1)(d)) with ``categories``."""
    authorize(actor, Action.INVENTORY_WRITE)
    why = history.stated_reason(reason)
    activity = await _editable_activity(session, activity_slug)
    cleaned = {"recipient_categories": _clean_list(categories, "recipient_categories")}
    return await _changed(session, actor, activity, cleaned, why)


async def _changed(
    session: AsyncSession,
    actor: Actor,
    activity: Activity,
    values: Mapping[str, Any],
    reason: str | None,
) -> Activity:
    await history.apply_edit(
        session=session,
        actor=actor,
        event=ChangeEvent.ACTIVITY_UPDATED,
        row=activity,
        subject_slug=activity.slug,
        values=values,
        reason=reason,
    )
    return activity


async def retire_activity(
    *, session: AsyncSession, actor: Actor, slug: str, reason: str
) -> Activity:
    """Ends the activity from today: it is kept with its history, and takes part in no
    answer from then on (``graph``)."""
    authorize(actor, Action.INVENTORY_WRITE)
    activity = await _editable_activity(session, slug)
    before = history.snapshot(activity)
    activity.retired_on = clock.today()
    activity.retirement_reason = stated(reason, "reason", limit=history.REASON_LIMIT)
    await history.record_row(
        session=session,
        actor=actor,
        event=ChangeEvent.ACTIVITY_RETIRED,
        row=activity,
        subject_slug=activity.slug,
        before=before,
        reason=activity.retirement_reason,
    )
    return activity


# ----------------------------------------------------------------------------- purposes


async def add_purpose(
    *,
    session: AsyncSession,
    actor: Actor,
    activity_slug: str,
    key: str,
    name: str,
    description: str | None = None,
) -> Purpose:
    authorize(actor, Action.INVENTORY_WRITE)
    activity = await _editable_activity(session, activity_slug)
    key = _key(key, "key")
    name = stated(name, "name", limit=PURPOSE_LIMITS["name"], one_line=True)
    text = optional_text(description, "description")
    existing = await session.scalar(
        select(col(Purpose.id)).where(
            col(Purpose.activity_id) == activity.id, col(Purpose.key) == key
        )
    )
    if existing is not None:
        raise Conflict(f"{activity_slug} has a purpose {key!r} already", field="key")
    purpose = Purpose(activity_id=activity.id, key=key, name=name, description=text)
    session.add(purpose)
    await session.flush()
    await _record_purpose(session, actor, activity, purpose, ChangeEvent.PURPOSE_ADDED, None)
    return purpose


async def update_purpose(
    *,
    session: AsyncSession,
    actor: Actor,
    activity_slug: str,
    key: str,
    changes: Mapping[str, Any],
    reason: str | None = None,
) -> Purpose:
    """Renames or redescribes a purpose; its key names it in history and stays."""
    authorize(actor, Action.INVENTORY_WRITE)
    refuse_unknown_fields(changes, PURPOSE_FIELDS)
    why = history.stated_reason(reason)
    activity = await _editable_activity(session, activity_slug)
    purpose = await _purpose(session, activity, key)
    before = _purpose_state(activity, purpose)
    if "name" in changes:
        purpose.name = stated(changes["name"], "name", limit=PURPOSE_LIMITS["name"], one_line=True)
    if "description" in changes:
        purpose.description = optional_text(changes["description"], "description")
    if _purpose_state(activity, purpose) != before:
        await session.flush()
        await _record_purpose(
            session, actor, activity, purpose, ChangeEvent.PURPOSE_UPDATED, before, why
        )
    return purpose


async def remove_purpose(
    *,
    session: AsyncSession,
    actor: Actor,
    activity_slug: str,
    key: str,
    reason: str | None = None,
) -> Activity:
    """Removes a purpose and its legal bases. An activity is processing for a purpose
    (Art. 5(1)(b), 30(1)(b)): its last purpose is not removed; retire the activity instead."""
    authorize(actor, Action.INVENTORY_WRITE)
    why = history.stated_reason(reason)
    activity = await _editable_activity(session, activity_slug)
    purpose = await _purpose(session, activity, key)
    others = await session.scalar(
        select(col(Purpose.id)).where(
            col(Purpose.activity_id) == activity.id, col(Purpose.id) != purpose.id
        )
    )
    if others is None:
        raise Conflict(
            f"{key} is the last purpose of {activity_slug}: an activity keeps at least one;"
            " retire the activity instead",
            field="purpose",
        )
    bases = (
        await session.scalars(
            select(PurposeBasis)
            .where(col(PurposeBasis.purpose_id) == purpose.id)
            .order_by(col(PurposeBasis.id))
        )
    ).all()
    for basis in bases:
        subject = await session.get_one(SubjectCategory, basis.subject_category_id)
        await _drop_basis(session, actor, activity, purpose, subject, basis, why)
    before = _purpose_state(activity, purpose)
    await session.delete(purpose)
    await session.flush()
    await history.record_change(
        session=session,
        actor=actor,
        event=ChangeEvent.PURPOSE_REMOVED,
        subject_slug=link_slug(activity.slug, key),
        before=before,
        after=None,
        reason=why,
    )
    return activity


def _purpose_state(activity: Activity, purpose: Purpose) -> dict[str, Any]:
    return {**history.snapshot(purpose), "activity": activity.slug}


async def _record_purpose(
    session: AsyncSession,
    actor: Actor,
    activity: Activity,
    purpose: Purpose,
    event: ChangeEvent,
    before: dict[str, Any] | None,
    reason: str | None = None,
) -> None:
    await history.record_change(
        session=session,
        actor=actor,
        event=event,
        subject_slug=link_slug(activity.slug, purpose.key),
        before=before,
        after=_purpose_state(activity, purpose),
        reason=reason,
    )


# --------------------------------------------------------------------------- legal bases


async def set_legal_basis(
    *,
    session: AsyncSession,
    actor: Actor,
    activity_slug: str,
    purpose_key: str,
    subject_key: str,
    legal_basis: LegalBasis,
    note: str | None = None,
    reason: str | None = None,
) -> PurposeBasis:
    """Sets the legal basis (Art. 6(1)) of a purpose for one of the activity's categories of
    data subjects, replacing the one it had."""
    authorize(actor, Action.INVENTORY_WRITE)
    why = history.stated_reason(reason)
    activity = await _editable_activity(session, activity_slug)
    purpose = await _purpose(session, activity, purpose_key)
    subject = await _subject_category(session, subject_key)
    if await _activity_subject(session, activity, subject) is None:
        raise InvalidInput(
            f"{subject_key} is not a category of data subjects of {activity_slug}",
            field="subject_category",
        )
    text = optional_text(note, "note")
    basis = await _basis(session, purpose, subject)
    before = _basis_state(activity, purpose, subject, basis) if basis else None
    if basis is None:
        basis = PurposeBasis(
            purpose_id=purpose.id,
            subject_category_id=subject.id,
            legal_basis=legal_basis,
            note=text,
        )
        session.add(basis)
    else:
        basis.legal_basis, basis.note = legal_basis, text
    after = _basis_state(activity, purpose, subject, basis)
    if after != before:
        await session.flush()
        await history.record_change(
            session=session,
            actor=actor,
            event=ChangeEvent.LEGAL_BASIS_SET,
            subject_slug=link_slug(activity.slug, purpose.key, subject.key),
            before=before,
            after=after,
            reason=why,
        )
    return basis


async def remove_legal_basis(
    *,
    session: AsyncSession,
    actor: Actor,
    activity_slug: str,
    purpose_key: str,
    subject_key: str,
    reason: str | None = None,
) -> Activity:
    authorize(actor, Action.INVENTORY_WRITE)
    why = history.stated_reason(reason)
    activity = await _editable_activity(session, activity_slug)
    purpose = await _purpose(session, activity, purpose_key)
    subject = await _subject_category(session, subject_key)
    basis = await _basis(session, purpose, subject)
    if basis is None:
        raise NotFound(
            f"{purpose_key} has no legal basis for {subject_key}", field="subject_category"
        )
    await _drop_basis(session, actor, activity, purpose, subject, basis, why)
    return activity


async def _basis(
    session: AsyncSession, purpose: Purpose, subject: SubjectCategory
) -> PurposeBasis | None:
    return await session.scalar(
        select(PurposeBasis).where(
            col(PurposeBasis.purpose_id) == purpose.id,
            col(PurposeBasis.subject_category_id) == subject.id,
        )
    )


async def _drop_basis(
    session: AsyncSession,
    actor: Actor,
    activity: Activity,
    purpose: Purpose,
    subject: SubjectCategory,
    basis: PurposeBasis,
    reason: str | None,
) -> None:
    before = _basis_state(activity, purpose, subject, basis)
    await session.execute(delete(PurposeBasis).where(col(PurposeBasis.id) == basis.id))
    await history.record_change(
        session=session,
        actor=actor,
        event=ChangeEvent.LEGAL_BASIS_REMOVED,
        subject_slug=link_slug(activity.slug, purpose.key, subject.key),
        before=before,
        after=None,
        reason=reason,
    )


def _basis_state(
    activity: Activity, purpose: Purpose, subject: SubjectCategory, basis: PurposeBasis
) -> dict[str, Any]:
    legal_basis = basis.legal_basis
    return {
        "activity": activity.slug,
        "purpose": purpose.key,
        "subject_category": subject.key,
        "legal_basis": legal_basis.value if isinstance(legal_basis, LegalBasis) else legal_basis,
        "note": basis.note,
    }


# ------------------------------------------------------------------------ data subjects


async def add_activity_subject(
    *, session: AsyncSession, actor: Actor, activity_slug: str, subject_key: str
) -> ActivitySubject:
    """Adds a category of data subjects (Art. 30(1)(c)) to the activity."""
    authorize(actor, Action.INVENTORY_WRITE)
    activity = await _editable_activity(session, activity_slug)
    subject = await _subject_category(session, subject_key)
    if await _activity_subject(session, activity, subject) is not None:
        raise Conflict(
            f"{subject_key} is already a category of data subjects of {activity_slug}",
            field="subject_category",
        )
    link = ActivitySubject(activity_id=activity.id, subject_category_id=subject.id)
    session.add(link)
    await session.flush()
    await history.record_change(
        session=session,
        actor=actor,
        event=ChangeEvent.ACTIVITY_SUBJECT_ADDED,
        subject_slug=link_slug(activity.slug, subject.key),
        before=None,
        after=_subject_state(activity, subject),
    )
    return link


async def remove_activity_subject(
    *,
    session: AsyncSession,
    actor: Actor,
    activity_slug: str,
    subject_key: str,
    reason: str | None = None,
) -> Activity:
    """Removes a category of data subjects; refused while a legal basis names it, which
    would otherwise be left for subjects the activity no longer has."""
    authorize(actor, Action.INVENTORY_WRITE)
    why = history.stated_reason(reason)
    activity = await _editable_activity(session, activity_slug)
    subject = await _subject_category(session, subject_key)
    link = await _activity_subject(session, activity, subject)
    if link is None:
        raise NotFound(
            f"{subject_key} is not a category of data subjects of {activity_slug}",
            field="subject_category",
        )
    naming = await session.scalar(
        select(col(Purpose.key))
        .join(PurposeBasis, col(PurposeBasis.purpose_id) == col(Purpose.id))
        .where(
            col(Purpose.activity_id) == activity.id,
            col(PurposeBasis.subject_category_id) == subject.id,
        )
        .order_by(col(Purpose.key))
    )
    if naming is not None:
        raise Conflict(
            f"the legal basis of purpose {naming} for {subject_key} still names it:"
            " remove that basis first",
            field="subject_category",
        )
    await session.delete(link)
    await session.flush()
    await history.record_change(
        session=session,
        actor=actor,
        event=ChangeEvent.ACTIVITY_SUBJECT_REMOVED,
        subject_slug=link_slug(activity.slug, subject.key),
        before=_subject_state(activity, subject),
        after=None,
        reason=why,
    )
    return activity


def _subject_state(activity: Activity, subject: SubjectCategory) -> dict[str, Any]:
    return {"activity": activity.slug, "subject_category": subject.key}
