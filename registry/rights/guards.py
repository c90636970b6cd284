"""What a restriction or an objection stops, checked wherever recordings are used.

Restriction (Art. 18): the subject's recordings are stored, nothing more — no listening,
no monitoring, no training — unless the subject consented to that use after the
restriction began. Objection (Art. 21) by an employee processed on legitimate interest:
evaluation of their calls stops until compelling legitimate grounds are recorded.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ColumnElement, ScalarSelect, exists, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped
from sqlmodel import col

from registry import clock
from registry.errors import RuleBroken
from registry.recordings.models import Call, SeparateConsent
from registry.rights.models import Objection, Restriction


def stopping_restriction(
    customer_id: Mapped[int] | int,
    agent_id: Mapped[int | None] | int | None,
    *,
    purpose: str | ColumnElement[str] | None,
    on: datetime,
) -> ScalarSelect[date]:
    """The end of a restriction in force on ``on`` on the customer or the agent (values, or
    columns of a call in the outer query) that stops the use, as SQL: for listening
    (``purpose`` given), unless the subject consented to that purpose after it began; for
    monitoring (None), any. NULL if none stops it."""
    parties = [col(Restriction.subject_id) == customer_id]
    if agent_id is not None:
        parties.append(col(Restriction.subject_id) == agent_id)
    in_force = select(col(Restriction.ends_on)).where(
        or_(*parties),
        col(Restriction.lifted_at).is_(None),
        col(Restriction.ends_on) >= on.date(),
    )
    if purpose is not None:
        in_force = in_force.where(
            ~exists().where(
                col(SeparateConsent.subject_id) == col(Restriction.subject_id),
                col(SeparateConsent.purpose) == purpose,
                col(SeparateConsent.given_at) >= col(Restriction.starts_at),
                col(SeparateConsent.withdrawn_at).is_(None),
            )
        )
    return in_force.order_by(col(Restriction.id)).limit(1).scalar_subquery()


def objection_standing(agent_id: Mapped[int | None] | int | None) -> ColumnElement[bool]:
    """The agent (a value, or a call's column in the outer query) objected to the evaluation
    of their calls and no compelling legitimate grounds are recorded, as SQL."""
    if agent_id is None:
        return false()
    return exists().where(
        col(Objection.subject_id) == agent_id, col(Objection.compelling_grounds).is_(None)
    )


def refuse_stopped_use(restricted_until: date | None, objected: bool) -> None:
    """The R-DSR-1 refusal, from what ``stopping_restriction`` and ``objection_standing``
    found: a restriction first, then an objection."""
    if restricted_until is not None:
        raise RuleBroken(
            "R-DSR-1",
            f"processing of a party to this call is restricted until {restricted_until}: "
            "the recording is only stored",
        )
    if objected:
        raise RuleBroken(
            "R-DSR-1",
            "the agent objected to the evaluation of their calls and no compelling "
            "legitimate grounds are recorded",
        )


async def require_use_allowed(session: AsyncSession, call: Call, *, purpose: str | None) -> None:
    """Refuses listening to (``purpose`` given) or monitoring (None) a call whose customer
    or agent restricted processing, or whose agent objected to evaluation (R-DSR-1): one
    statement, whatever there is to check."""
    restricted_until, objected = (
        await session.execute(
            select(
                stopping_restriction(
                    call.customer_id, call.agent_id, purpose=purpose, on=clock.now()
                ),
                objection_standing(call.agent_id),
            )
        )
    ).one()
    refuse_stopped_use(restricted_until, bool(objected))
