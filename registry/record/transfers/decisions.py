"""The Commission's adequacy decisions (Art. 45) the record relies on, kept by the privacy team.

A decision is recorded with its country, reference, scope, the day it was adopted, the last
day it covers, and where it is published; a renewal or a new decision is entered the same
way as the seeds entered the first ones. Its slug and country are fixed once recorded: they
are what transfers and the log name. Each write is an event of the change log with the
whole row (R-INV-4), so that a transfer's footing can be traced back in time and the record
as of a day judges flows by the decisions as they stood then (R-INV-2, R-INV-7).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from registry._columns import text_lengths
from registry._edits import edited, refuse_unknown_fields
from registry._text import optional_text, stated
from registry.access.policy import Action
from registry.access.service import Actor, authorize
from registry.countries import AdequacyDecision, AdequacyDecisionDraft, Country
from registry.errors import Conflict, InvalidInput, NotFound
from registry.record.history import service as history
from registry.record.history.models import ChangeEvent

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# Notes are prose, kept within what a person reads at once.
NOTE_LIMIT = 2000
TEXT_LIMITS = text_lengths(AdequacyDecision)
ONE_LINE_FIELDS = frozenset({"slug", "reference", "source"})
PROSE_FIELDS = ("scope_note", "note")
# The slug names the decision in transfers and the log; the country is what it decides on.
FIXED_FIELDS = frozenset({"slug", "country_code"})
EDITABLE_FIELDS = frozenset(AdequacyDecisionDraft.model_fields) - FIXED_FIELDS


async def decision_by_slug(session: AsyncSession, slug: str) -> AdequacyDecision:
    decision = await session.scalar(
        select(AdequacyDecision).where(col(AdequacyDecision.slug) == slug)
    )
    if decision is None:
        raise NotFound(f"no adequacy decision {slug!r}")
    return decision


def _cleaned(draft: AdequacyDecisionDraft, names: set[str]) -> dict[str, Any]:
    """The named fields of ``draft``, their text cleaned (blank optional text is missing, so
    that a gap stays visible, R-INV-5) and their dates in order."""
    if (
        draft.valid_until is not None
        and draft.adopted_on is not None
        and draft.valid_until < draft.adopted_on
    ):
        raise InvalidInput(
            f"valid_until may not be before the decision was adopted ({draft.adopted_on})",
            field="valid_until",
        )
    values: dict[str, Any] = {}
    for name in names:
        value = getattr(draft, name)
        if name == "reference":
            value = stated(value, name, limit=TEXT_LIMITS[name], one_line=True)
        elif name in ONE_LINE_FIELDS:
            value = optional_text(value, name, limit=TEXT_LIMITS[name], one_line=True)
        elif name in PROSE_FIELDS:
            value = optional_text(value, name, limit=NOTE_LIMIT)
        values[name] = value
    return values


async def create_adequacy_decision(
    *, session: AsyncSession, actor: Actor, draft: AdequacyDecisionDraft
) -> AdequacyDecision:
    """Records a decision of the Commission for a country on record."""
    authorize(actor, Action.TRANSFERS_WRITE)
    slug = stated(draft.slug, "slug", limit=TEXT_LIMITS["slug"], one_line=True)
    if not SLUG.match(slug):
        raise InvalidInput("slug must be lower-case words joined by hyphens", field="slug")
    existing = select(col(AdequacyDecision.id)).where(col(AdequacyDecision.slug) == slug)
    if await session.scalar(existing) is not None:
        raise Conflict(f"an adequacy decision {slug!r} exists already", field="slug")
    country_code = draft.country_code.strip().upper()
    if await session.get(Country, country_code) is None:
        raise InvalidInput(f"unknown country {country_code!r}", field="country_code")
    values = _cleaned(draft, set(EDITABLE_FIELDS))
    decision = AdequacyDecision(slug=slug, country_code=country_code, **values)
    session.add(decision)
    await history.record_row(
        session=session,
        actor=actor,
        event=ChangeEvent.ADEQUACY_DECISION_CREATED,
        row=decision,
        subject_slug=slug,
    )
    return decision


async def update_adequacy_decision(
    *,
    session: AsyncSession,
    actor: Actor,
    slug: str,
    changes: Mapping[str, Any],
    reason: str | None = None,
) -> AdequacyDecision:
    """Applies the given changes (a renewal moves ``valid_until``); one that alters nothing
    is not recorded."""
    authorize(actor, Action.TRANSFERS_WRITE)
    refuse_unknown_fields(changes, EDITABLE_FIELDS)
    why = history.stated_reason(reason)
    decision = await decision_by_slug(session, slug)
    # Only what is given is cleaned: a decision's other text stays as it was recorded.
    values = _cleaned(edited(AdequacyDecisionDraft, decision, changes), set(changes))
    await history.apply_edit(
        session=session,
        actor=actor,
        event=ChangeEvent.ADEQUACY_DECISION_CHANGED,
        row=decision,
        subject_slug=decision.slug,
        values=values,
        reason=why,
    )
    return decision
