"""What a restriction or an objection stops, checked wherever recordings are used.

Restriction (Art. 18): the subject's recordings are stored, nothing more — no listening,
no monitoring, no training — unless the subject consented to that use after the
restriction began. Objection (Art. 21) by an employee processed on legitimate interest:
evaluation of their calls stops until compelling legitimate grounds are recorded.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from registry import clock
from registry.errors import RuleBroken
from registry.recordings.models import Call, SeparateConsent
from registry.rights.models import Objection, Restriction


async def restrictions_in_force(
    session: AsyncSession, subject_ids: list[int], *, on: datetime
) -> list[Restriction]:
    rows = await session.scalars(
        select(Restriction).where(
            col(Restriction.subject_id).in_(subject_ids),
            col(Restriction.lifted_at).is_(None),
            col(Restriction.ends_on) >= on.date(),
        )
    )
    return list(rows.all())


async def _consented_since(session: AsyncSession, restriction: Restriction, purpose: str) -> bool:
    consent = await session.scalar(
        select(col(SeparateConsent.id)).where(
            col(SeparateConsent.subject_id) == restriction.subject_id,
            col(SeparateConsent.purpose) == purpose,
            col(SeparateConsent.given_at) >= restriction.starts_at,
            col(SeparateConsent.withdrawn_at).is_(None),
        )
    )
    return consent is not None


async def require_use_allowed(session: AsyncSession, call: Call, *, purpose: str | None) -> None:
    """Refuses listening to (``purpose`` given) or monitoring (None) a call whose customer
    or agent restricted processing, or whose agent objected to evaluation (R-DSR-1)."""
    now = clock.now()
    people = [call.customer_id] + ([call.agent_id] if call.agent_id is not None else [])
    for restriction in await restrictions_in_force(session, people, on=now):
        if purpose is not None and await _consented_since(session, restriction, purpose):
            continue
        raise RuleBroken(
            "R-DSR-1",
            f"processing of a party to this call is restricted until {restriction.ends_on}: "
            "the recording is only stored",
        )
    if call.agent_id is None:
        return
    objection = await session.scalar(
        select(col(Objection.id)).where(
            col(Objection.subject_id) == call.agent_id, col(Objection.compelling_grounds).is_(None)
        )
    )
    if objection is not None:
        raise RuleBroken(
            "R-DSR-1",
            "the agent objected to the evaluation of their calls and no compelling "
            "legitimate grounds are recorded",
        )
