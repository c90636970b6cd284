"""Editing the Commission's adequacy decisions (Art. 45) the record relies on.

A decision's reference, country and scope come from the seeds; what the privacy team keeps
up to date is when it lapses, whether it was checked, and notes. Each edit is an event of
the change log (R-INV-4), so that a transfer's footing can be traced back in time.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from registry._edits import drafted, refuse_unknown_fields
from registry._text import optional_text
from registry.access.policy import Action
from registry.access.service import Actor, authorize
from registry.countries import AdequacyDecision
from registry.errors import InvalidInput, NotFound
from registry.record.history import service as history
from registry.record.history.models import ChangeEvent

# Notes are prose, kept within what a person reads at once.
NOTE_LIMIT = 2000


class DecisionEdit(BaseModel):
    """The fields of a decision the privacy team edits, each of its type."""

    valid_until: date | None = None
    verified: bool
    note: str | None = None
    scope_note: str | None = None


EDITABLE_FIELDS = frozenset(DecisionEdit.model_fields)


async def decision_by_slug(session: AsyncSession, slug: str) -> AdequacyDecision:
    decision = await session.scalar(
        select(AdequacyDecision).where(col(AdequacyDecision.slug) == slug)
    )
    if decision is None:
        raise NotFound(f"no adequacy decision {slug!r}")
    return decision


async def update_adequacy_decision(
    *,
    session: AsyncSession,
    actor: Actor,
    slug: str,
    changes: Mapping[str, Any],
    reason: str | None = None,
) -> AdequacyDecision:
    """Applies the given changes; one that alters nothing is not recorded."""
    authorize(actor, Action.TRANSFERS_WRITE)
    refuse_unknown_fields(changes, EDITABLE_FIELDS)
    why = history.stated_reason(reason)
    decision = await decision_by_slug(session, slug)
    current = {name: getattr(decision, name) for name in EDITABLE_FIELDS}
    edit = drafted(DecisionEdit, {**current, **changes})
    adopted_on = decision.adopted_on
    if edit.valid_until is not None and adopted_on is not None and edit.valid_until < adopted_on:
        raise InvalidInput(
            f"valid_until may not be before the decision was adopted ({adopted_on})",
            field="valid_until",
        )
    cleaned: dict[str, Any] = {"valid_until": edit.valid_until, "verified": edit.verified}
    for name in ("note", "scope_note"):
        # Only text given is checked: a decision's seeded text stays as it was loaded.
        # Blank text is stored as missing, so that a gap stays visible (R-INV-5).
        if name in changes:
            cleaned[name] = optional_text(getattr(edit, name), name, limit=NOTE_LIMIT)
    before = history.snapshot(decision)
    for name in changes:
        setattr(decision, name, cleaned[name])
    after = history.snapshot(decision)
    if after != before:
        await session.flush()
        await history.record_change(
            session=session,
            actor=actor,
            event=ChangeEvent.ADEQUACY_DECISION_CHANGED,
            subject_slug=decision.slug,
            before=before,
            after=after,
            reason=why,
        )
    return decision
