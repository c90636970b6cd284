"""What an answered rights request recorded, for its page: the objection, the restriction,
the notices owed to recipients (Art. 19), each with what its side step needs to show.

Read under the request page's own authorisation and audit (``rights.request_page``). The
side steps themselves are the service's (``rights.effects``); here, only the check that
what a form names belongs to the request whose page posted it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from registry.errors import NotFound
from registry.record.inventory.models import Entity
from registry.recordings.models import Subject, SubjectKind
from registry.rights.models import Objection, RecipientNotice, Restriction
from registry.rights.steps import Step

# The side steps, each with the form field naming what it acts on.
ACTS_ON = {
    Step.RECORD_GROUNDS: "objection",
    Step.LIFT_RESTRICTION: "restriction",
    Step.ACKNOWLEDGE_RECIPIENT: "notice",
}


@dataclass(frozen=True)
class Recorded:
    # Each objection with whether its objector is a customer, whose objection withdrew
    # consent and so takes no grounds (R-DSR-1).
    objections: list[tuple[Objection, bool]]
    restrictions: list[Restriction]
    notices: list[tuple[RecipientNotice, Entity]]


async def recorded(db: AsyncSession, request_id: int) -> Recorded:
    objections = await db.execute(
        select(Objection, col(Subject.kind))
        .join(Subject, col(Subject.id) == col(Objection.subject_id))
        .where(col(Objection.request_id) == request_id)
        .order_by(col(Objection.id))
    )
    restrictions = await db.scalars(
        select(Restriction)
        .where(col(Restriction.request_id) == request_id)
        .order_by(col(Restriction.id))
    )
    notices = await db.execute(
        select(RecipientNotice, Entity)
        .join(Entity, col(Entity.id) == col(RecipientNotice.entity_id))
        .where(col(RecipientNotice.request_id) == request_id)
        .order_by(col(Entity.legal_name), col(RecipientNotice.id))
    )
    return Recorded(
        objections=[(row, kind is SubjectKind.CUSTOMER) for row, kind in objections.all()],
        restrictions=list(restrictions.all()),
        notices=[(notice, entity) for notice, entity in notices.all()],
    )


Recordable = TypeVar("Recordable", Objection, Restriction, RecipientNotice)


async def of_request(
    db: AsyncSession, kind: type[Recordable], found_id: int, request_id: int, *, field: str
) -> Recordable:
    """The row ``found_id`` of ``kind`` if it is the request's: another request's objection,
    restriction or notice is not taken from this request's page."""
    found = await db.get(kind, found_id)
    if found is None or found.request_id != request_id:
        raise NotFound(f"no {field} {found_id} on this request")
    return found
