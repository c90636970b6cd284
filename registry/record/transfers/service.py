"""Rules of transfer records: who sends the activity's data where, under which safeguard."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from registry import clock
from registry._columns import text_lengths
from registry._edits import drafted, refuse_unknown_fields
from registry._text import optional_text
from registry.access.policy import Action
from registry.access.service import Actor, authorize
from registry.countries import AdequacyDecision, Country
from registry.errors import Conflict, InvalidInput, NotFound, RuleBroken
from registry.record import graph
from registry.record.history import service as history
from registry.record.history.models import ChangeEvent
from registry.record.inventory import service as inventory
from registry.record.inventory.models import (
    Activity,
    ActivityDataCategory,
    DataCategory,
    Entity,
)
from registry.record.transfers import safeguards
from registry.record.transfers.models import (
    Mechanism,
    Transfer,
    TransferDataCategory,
    TransferTerms,
)

MAX_DATA_CATEGORIES = 50
TEXT_LIMITS = text_lengths(Transfer)
# A transfer's free-text terms, and whether each is one line (a reference) or prose.
TEXT_TERMS = {
    "derogation": False,
    "tia_reference": True,
    "supplementary_measures": False,
    "note": False,
}


class TransferDraft(TransferTerms):
    """A transfer as it is given: its terms, and what it names by slug or key (the activity,
    the parties, the adequacy decision, the data categories). The country defaults to the
    importer's, the slug to ``exporter--importer``."""

    activity_slug: str
    exporter_slug: str
    importer_slug: str
    destination_country_code: str | None = None
    adequacy_decision_slug: str | None = None
    data_category_keys: tuple[str, ...] = ()
    slug: str | None = None


# Fixed once recorded: the slug names the transfer, the activity and parties are what it is.
FIXED_FIELDS = frozenset({"slug", "activity_slug", "exporter_slug", "importer_slug"})
EDITABLE_FIELDS = frozenset(TransferDraft.model_fields) - FIXED_FIELDS


@dataclass(frozen=True)
class TransferFilter:
    activity_slug: str | None = None
    exporter_slug: str | None = None
    importer_slug: str | None = None
    destination_country_code: str | None = None
    mechanism: Mechanism | None = None
    include_ended: bool = True
    exporter_ids: frozenset[int] = field(default_factory=frozenset)
    # The day on which a transfer is judged ended; None: today.
    on: date | None = None
    # Only transfers with a change at or after this time (``updatedSince``).
    updated_since: datetime | None = None


@dataclass(frozen=True)
class _Resolved:
    activity: Activity
    exporter: Entity
    importer: Entity
    destination: str
    decision: AdequacyDecision | None
    categories: list[DataCategory]


async def _takes_part(session: AsyncSession, activity: Activity, entity: Entity) -> bool:
    """A party of the activity, or a sub-processor engaged by one of its processors, today:
    as the flow graph alone says."""
    return await graph.takes_part(session, activity.id, entity.id, on=clock.today())


async def _resolve(session: AsyncSession, draft: TransferDraft) -> _Resolved:
    """Checks a draft against the record and the rules; raises on the first problem."""
    activity = await inventory.activity_by_slug(session, draft.activity_slug)
    exporter = await inventory.entity_by_slug(session, draft.exporter_slug)
    importer = await inventory.entity_by_slug(session, draft.importer_slug)
    if exporter.id == importer.id:
        raise InvalidInput("exporter and importer must differ", field="importer")
    for entity, name in ((exporter, "exporter"), (importer, "importer")):
        if entity.retired_on is not None and entity.retired_on <= clock.today():
            raise InvalidInput(f"{entity.slug} is retired", field=name)
        if not await _takes_part(session, activity, entity):
            raise InvalidInput(f"{entity.slug} takes no part in {activity.slug}", field=name)
    destination = (draft.destination_country_code or importer.country_code).strip().upper()
    if await session.get(Country, destination) is None:
        raise InvalidInput(f"unknown country {destination!r}", field="destination_country_code")
    decision = None
    if draft.adequacy_decision_slug is not None:
        decision = await session.scalar(
            select(AdequacyDecision).where(
                col(AdequacyDecision.slug) == draft.adequacy_decision_slug
            )
        )
        if decision is None:
            raise NotFound(f"no adequacy decision {draft.adequacy_decision_slug!r}")
    exporter_country = await session.get_one(Country, exporter.country_code)
    _check_mechanism(draft, exporter, importer, destination, decision, exporter_country.eea)
    if draft.signed_on is not None and draft.signed_on > clock.today():
        raise InvalidInput("signed_on lies in the future", field="signed_on")
    categories = await _categories(session, activity, draft.data_category_keys)
    return _Resolved(activity, exporter, importer, destination, decision, categories)


def _check_mechanism(
    draft: TransferDraft,
    exporter: Entity,
    importer: Entity,
    destination: str,
    decision: AdequacyDecision | None,
    exporter_in_eea: bool,
) -> None:
    if draft.mechanism in safeguards.UK_MECHANISMS and exporter_in_eea:
        raise InvalidInput(
            f"{draft.mechanism.value} is a UK mechanism; {exporter.slug} exports from the EEA",
            field="mechanism",
        )
    if draft.mechanism in safeguards.MODULED:
        expected = safeguards.expected_scc_module(exporter.kind, importer.kind)
        if draft.scc_module != expected:
            raise RuleBroken(
                "R-INV-3",
                f"{exporter.slug} ({safeguards.role_of(exporter.kind).value}) to "
                f"{importer.slug} ({safeguards.role_of(importer.kind).value}) "
                f"needs SCC module {expected}, not {draft.scc_module}",
                field="scc_module",
            )
    elif draft.scc_module is not None:
        raise InvalidInput(
            "an SCC module goes only with SCCs or the UK Addendum", field="scc_module"
        )
    if draft.mechanism is Mechanism.ADEQUACY_DECISION:
        if decision is None or decision.country_code != destination:
            raise InvalidInput(
                f"an adequacy decision for {destination} is required",
                field="adequacy_decision",
            )
        if not safeguards.decision_covers(
            decision, importer_dpf_certified=importer.dpf_certified, on=clock.today()
        ):
            raise RuleBroken(
                "R-INV-2",
                f"{decision.slug} does not cover {importer.slug} today",
                field="adequacy_decision",
            )
    elif decision is not None:
        raise InvalidInput("an adequacy decision goes only with that mechanism")
    if draft.mechanism is Mechanism.ART49_DEROGATION and not (draft.derogation or "").strip():
        raise InvalidInput("name the Art. 49 derogation relied on", field="derogation")


async def _categories(
    session: AsyncSession, activity: Activity, keys: Sequence[str]
) -> list[DataCategory]:
    if len(keys) > MAX_DATA_CATEGORIES:
        raise InvalidInput(
            f"at most {MAX_DATA_CATEGORIES} data categories", field="data_categories"
        )
    if not keys:
        return []
    rows = (
        await session.scalars(
            select(DataCategory)
            .join(
                ActivityDataCategory,
                col(ActivityDataCategory.data_category_id) == col(DataCategory.id),
            )
            .where(
                col(ActivityDataCategory.activity_id) == activity.id,
                col(DataCategory.key).in_(keys),
            )
        )
    ).all()
    missing = set(keys) - {row.key for row in rows}
    if missing:
        raise InvalidInput(
            f"not data of {activity.slug}: {', '.join(sorted(missing))}", field="data_categories"
        )
    return list(rows)


async def _snapshot(session: AsyncSession, transfer: Transfer) -> dict[str, Any]:
    keys = (
        await session.scalars(
            select(col(DataCategory.key))
            .join(
                TransferDataCategory,
                col(TransferDataCategory.data_category_id) == col(DataCategory.id),
            )
            .where(col(TransferDataCategory.transfer_id) == transfer.id)
            .order_by(col(DataCategory.key))
        )
    ).all()
    activity = await session.get_one(Activity, transfer.activity_id)
    exporter = await session.get_one(Entity, transfer.exporter_id)
    importer = await session.get_one(Entity, transfer.importer_id)
    # The row and its categories, as always; then its ends by name, for followers that
    # have no ids to resolve.
    return {
        **history.snapshot(transfer),
        "data_category_keys": list(keys),
        "activity": activity.slug,
        "exporter": exporter.slug,
        "importer": importer.slug,
    }


def _with_clean_text(draft: TransferDraft) -> TransferDraft:
    """The draft with its free text trimmed and bounded, blank text as missing (R-INV-5)."""
    cleaned = {
        name: optional_text(
            getattr(draft, name), name, limit=TEXT_LIMITS.get(name, 2000), one_line=one_line
        )
        for name, one_line in TEXT_TERMS.items()
    }
    return draft.model_copy(update=cleaned)


def _apply(transfer: Transfer, draft: TransferDraft, resolved: _Resolved) -> None:
    for name in TransferTerms.model_fields:
        setattr(transfer, name, getattr(draft, name))
    transfer.destination_country_code = resolved.destination
    transfer.adequacy_decision_id = resolved.decision.id if resolved.decision else None


async def _replace_categories(
    session: AsyncSession, transfer: Transfer, categories: list[DataCategory]
) -> None:
    await session.execute(
        delete(TransferDataCategory).where(col(TransferDataCategory.transfer_id) == transfer.id)
    )
    session.add_all(
        TransferDataCategory(transfer_id=transfer.id, data_category_id=category.id)
        for category in categories
    )
    await session.flush()


async def create_transfer(*, session: AsyncSession, actor: Actor, draft: TransferDraft) -> Transfer:
    authorize(actor, Action.TRANSFERS_WRITE)
    draft = _with_clean_text(draft)
    resolved = await _resolve(session, draft)
    slug = draft.slug or f"{resolved.exporter.slug}--{resolved.importer.slug}"
    if await session.scalar(select(col(Transfer.id)).where(col(Transfer.slug) == slug)) is not None:
        raise Conflict(f"a transfer {slug!r} exists already", field="slug")
    transfer = Transfer(
        slug=slug,
        activity_id=resolved.activity.id,
        exporter_id=resolved.exporter.id,
        importer_id=resolved.importer.id,
        destination_country_code=resolved.destination,
        mechanism=draft.mechanism,
    )
    _apply(transfer, draft, resolved)
    session.add(transfer)
    await session.flush()
    await _replace_categories(session, transfer, resolved.categories)
    await history.record_change(
        session=session,
        actor=actor,
        event=ChangeEvent.TRANSFER_CREATED,
        subject_slug=slug,
        before=None,
        after=await _snapshot(session, transfer),
    )
    return transfer


async def transfer_by_slug(session: AsyncSession, slug: str) -> Transfer:
    transfer = await session.scalar(select(Transfer).where(col(Transfer.slug) == slug))
    if transfer is None:
        raise NotFound(f"no transfer {slug!r}")
    return transfer


async def update_transfer(
    *,
    session: AsyncSession,
    actor: Actor,
    slug: str,
    changes: Mapping[str, Any],
    reason: str | None = None,
) -> Transfer:
    """Applies changes, then checks the whole transfer again as if it were new."""
    authorize(actor, Action.TRANSFERS_WRITE)
    refuse_unknown_fields(changes, EDITABLE_FIELDS)
    why = history.stated_reason(reason)
    transfer = await transfer_by_slug(session, slug)
    before = await _snapshot(session, transfer)
    current = await _draft_of(session, transfer, before["data_category_keys"])
    draft = drafted(TransferDraft, {**current.model_dump(), **changes})
    draft = _with_clean_text(draft)
    resolved = await _resolve(session, draft)
    _apply(transfer, draft, resolved)
    await session.flush()
    await _replace_categories(session, transfer, resolved.categories)
    await history.record_if_changed(
        session=session,
        actor=actor,
        event=ChangeEvent.TRANSFER_UPDATED,
        subject_slug=slug,
        before=before,
        after=await _snapshot(session, transfer),
        reason=why,
    )
    return transfer


async def drop_data_category(
    *,
    session: AsyncSession,
    actor: Actor,
    transfer: Transfer,
    category: DataCategory,
    reason: str | None,
) -> None:
    """Takes one data category off a transfer, when its activity no longer processes it.

    Only the category goes: the rest of the transfer is not checked again as an update
    would, so a transfer with a party retired since still loses it.
    """
    authorize(actor, Action.TRANSFERS_WRITE)
    before = await _snapshot(session, transfer)
    await session.execute(
        delete(TransferDataCategory).where(
            col(TransferDataCategory.transfer_id) == transfer.id,
            col(TransferDataCategory.data_category_id) == category.id,
        )
    )
    after = await _snapshot(session, transfer)
    if after != before:
        await history.record_change(
            session=session,
            actor=actor,
            event=ChangeEvent.TRANSFER_UPDATED,
            subject_slug=transfer.slug,
            before=before,
            after=after,
            reason=reason,
        )


async def _draft_of(session: AsyncSession, transfer: Transfer, keys: list[str]) -> TransferDraft:
    activity = await session.get_one(Activity, transfer.activity_id)
    exporter = await session.get_one(Entity, transfer.exporter_id)
    importer = await session.get_one(Entity, transfer.importer_id)
    decision = (
        await session.get_one(AdequacyDecision, transfer.adequacy_decision_id)
        if transfer.adequacy_decision_id is not None
        else None
    )
    return TransferDraft(
        **{name: getattr(transfer, name) for name in TransferTerms.model_fields},
        slug=transfer.slug,
        activity_slug=activity.slug,
        exporter_slug=exporter.slug,
        importer_slug=importer.slug,
        destination_country_code=transfer.destination_country_code,
        adequacy_decision_slug=decision.slug if decision else None,
        data_category_keys=tuple(keys),
    )


async def list_transfers(
    *, session: AsyncSession, actor: Actor, flt: TransferFilter, after_id: int, limit: int
) -> Sequence[Transfer]:
    authorize(actor, Action.TRANSFERS_READ)
    query = (
        select(Transfer).where(col(Transfer.id) > after_id).order_by(col(Transfer.id)).limit(limit)
    )
    if flt.activity_slug is not None:
        query = query.join(Activity, col(Activity.id) == col(Transfer.activity_id)).where(
            col(Activity.slug) == flt.activity_slug
        )
    for slug, column in (
        (flt.exporter_slug, col(Transfer.exporter_id)),
        (flt.importer_slug, col(Transfer.importer_id)),
    ):
        if slug is not None:
            query = query.where(column.in_(select(col(Entity.id)).where(col(Entity.slug) == slug)))
    if flt.destination_country_code is not None:
        query = query.where(
            col(Transfer.destination_country_code) == flt.destination_country_code.upper()
        )
    if flt.mechanism is not None:
        query = query.where(col(Transfer.mechanism) == flt.mechanism)
    if not flt.include_ended:
        query = query.where(graph.transfer_in_force(flt.on or clock.today()))
    if flt.updated_since is not None:
        changed = history.changed_since("transfer", flt.updated_since)
        query = query.where(col(Transfer.slug).in_(changed))
    return (await session.scalars(query)).all()
