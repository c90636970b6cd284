"""Finding a data subject from what a requester gives: their phone or e-mail.

Identifiers are stored sealed; only their keyed blind indexes can be searched.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from registry.access.policy import Action
from registry.access.service import Actor, authorize
from registry.crypto import KeyRing, blind_index
from registry.errors import InvalidInput
from registry.recordings.models import Call, Recording, RecordingStatus, Subject


@dataclass(frozen=True)
class ContactIndexes:
    """A requester's phone and e-mail as blind indexes: never the values themselves."""

    # Under the current index secret, of version ``version``: what a request keeps.
    phone_index: str | None
    email_index: str | None
    version: int
    # Under every index secret still in use, the current one first: what a search matches,
    # since during a rotation a subject's index may still be under an older secret.
    phone_indexes: tuple[str, ...]
    email_indexes: tuple[str, ...]


def contact_indexes(ring: KeyRing, phone: str | None, email: str | None) -> ContactIndexes:
    """The blind indexes of a phone and an e-mail; at least one must be given."""
    phone, email = (phone or "").strip() or None, (email or "").strip() or None
    if phone is None and email is None:
        raise InvalidInput("a phone number or an e-mail address is needed to find the subject")
    # Read once, so that the current version and the indexes under it agree.
    versions = ring.index_versions
    try:
        phones = tuple(blind_index(ring, "phone", phone, version=v) for v in versions if phone)
        emails = tuple(blind_index(ring, "email", email, version=v) for v in versions if email)
    except ValueError as error:
        raise InvalidInput(str(error)) from error
    return ContactIndexes(
        phone_index=phones[0] if phones else None,
        email_index=emails[0] if emails else None,
        version=versions[0],
        phone_indexes=phones,
        email_indexes=emails,
    )


async def subjects_by_indexes(session: AsyncSession, given: ContactIndexes) -> list[Subject]:
    """Every subject, customer or agent, whose phone or e-mail index matches."""
    matches = [
        col(column).in_(values)
        for column, values in (
            (Subject.phone_index, given.phone_indexes),
            (Subject.email_index, given.email_indexes),
        )
        if values
    ]
    if not matches:
        return []
    rows = await session.scalars(select(Subject).where(or_(*matches)).order_by(col(Subject.id)))
    return list(rows.all())


@dataclass(frozen=True)
class SubjectSummary:
    subject: Subject
    # Every call the subject took part in, as customer or as agent, oldest first.
    calls: list[Call]
    live_recordings: int

    @property
    def calls_as_customer(self) -> int:
        return sum(call.customer_id == self.subject.id for call in self.calls)

    @property
    def calls_as_agent(self) -> int:
        return sum(call.agent_id == self.subject.id for call in self.calls)


async def find_subjects(
    *, session: AsyncSession, actor: Actor, ring: KeyRing, phone: str | None, email: str | None
) -> list[SubjectSummary]:
    """The subjects a phone or e-mail belongs to, with their calls and how much is held."""
    authorize(actor, Action.RIGHTS_READ)
    found = []
    for subject in await subjects_by_indexes(session, contact_indexes(ring, phone, email)):
        involved = or_(col(Call.customer_id) == subject.id, col(Call.agent_id) == subject.id)
        calls = (
            await session.scalars(
                select(Call).where(involved).order_by(col(Call.started_at), col(Call.id))
            )
        ).all()
        live = await session.scalar(
            select(func.count(col(Recording.id))).where(
                col(Recording.call_id).in_(select(col(Call.id)).where(involved)),
                col(Recording.status) == RecordingStatus.ACTIVE,
            )
        )
        found.append(SubjectSummary(subject, list(calls), live or 0))
    return found
