"""A child's data (R-MIN-1): whoever learns the subject is under 16, all of it goes.

Two doors lead here: marking the subject under 16 (``markUnder16``) and a parent's or
guardian's request to delete the child's data. Both erase the same things, so both call
``erase_child``: the recordings and identifiers (the recordings' side), and the answers
already built for the child (packages), which are copies of that data. It lives in rights
because rights uses recordings, never the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from registry.access.service import Actor
from registry.recordings import calls
from registry.recordings.models import Subject
from registry.rights.effects import shred_packages


@dataclass(frozen=True)
class ChildErased:
    subject: Subject
    packages_erased: int


async def erase_child(*, session: AsyncSession, actor: Actor, subject_id: int) -> ChildErased:
    """Marks the subject under 16 and erases their data and every package built for them."""
    subject = await calls.mark_under_16(session=session, actor=actor, subject_id=subject_id)
    return ChildErased(subject, await shred_packages(session, subject.id))
