"""Answering a request: carry out what it asks, then close it with what was done.

Only a request under way (registered, identity established: R-DSR-3) is answered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from registry.access.service import Actor
from registry.blobs import BlobStore
from registry.crypto import KeyRing
from registry.errors import InvalidInput, NotConfigured
from registry.recordings.models import Subject
from registry.rights import answers, effects, minors, service
from registry.rights.models import Package, RequestKind, RightsRequest
from registry.rights.steps import TOLD_TO_RECIPIENTS, Step

# Answers that need nobody's data: the arrangement's essence is the same for everyone.
NEEDS_NO_SUBJECT = frozenset({RequestKind.ARRANGEMENT})


@dataclass(frozen=True)
class Terms:
    """What completing some kinds needs beyond the request itself."""

    # Restriction: until when, and why (e.g. accuracy contested).
    restricted_until: date | None = None
    restriction_reason: str | None = None
    # The group's privacy contact, given in the answers that are documents; None while it is
    # not configured, and then no such document is built.
    privacy_contact: str | None = None


def _contact(terms: Terms) -> str:
    """The contact a document gives the data subject: a placeholder is never sent out."""
    if terms.privacy_contact is None:
        raise NotConfigured(
            "REGISTRY_PRIVACY_CONTACT",
            "the group's privacy contact is not configured, and the answer must give it",
        )
    return terms.privacy_contact


@dataclass(frozen=True)
class Answered:
    request: RightsRequest
    package: Package | None


async def complete(
    *,
    session: AsyncSession,
    actor: Actor,
    ring: KeyRing,
    blobs: BlobStore,
    request_id: int,
    terms: Terms | None = None,
) -> Answered:
    request = await service.guarded(session, actor, request_id, Step.COMPLETE)
    subject = await session.get(Subject, request.subject_id) if request.subject_id else None
    if subject is None and request.kind not in NEEDS_NO_SUBJECT:
        if request.kind in (RequestKind.ACCESS, RequestKind.PORTABILITY):
            # Art. 15(1): the answer may be that no data of the requester is processed.
            return Answered(
                await service.finish(session, actor, request, {"data_held": False}), None
            )
        raise InvalidInput("link the request to its subject first", field="request")
    package, outcome = await _carry_out(
        session, actor, ring, blobs, request, subject, terms or Terms()
    )
    if package is not None:
        outcome["package"] = package.id
    if request.kind in TOLD_TO_RECIPIENTS:
        outcome["recipients_to_tell"] = len(await effects.owe_notices(session, request))
    return Answered(await service.finish(session, actor, request, outcome), package)


async def _carry_out(
    session: AsyncSession,
    actor: Actor,
    ring: KeyRing,
    blobs: BlobStore,
    request: RightsRequest,
    subject: Subject | None,
    terms: Terms,
) -> tuple[Package | None, dict[str, Any]]:
    kind = request.kind
    if kind is RequestKind.ARRANGEMENT:
        package = await answers.arrangement_package(
            session=session,
            actor=actor,
            ring=ring,
            blobs=blobs,
            request=request,
            privacy_contact=_contact(terms),
        )
        return package, {}
    assert subject is not None
    if kind is RequestKind.ACCESS:
        package = await answers.access_package(
            session=session,
            actor=actor,
            ring=ring,
            blobs=blobs,
            request=request,
            subject=subject,
            privacy_contact=_contact(terms),
        )
        return package, {"data_held": True}
    if kind is RequestKind.PORTABILITY:
        package = await answers.portability_package(
            session=session, actor=actor, ring=ring, blobs=blobs, request=request, subject=subject
        )
        return package, {"data_held": True}
    if kind is RequestKind.ERASURE:
        outcome = await effects.erase_subject(session=session, actor=actor, subject=subject)
        return None, outcome
    if kind is RequestKind.RESTRICTION:
        if terms.restricted_until is None:
            raise InvalidInput("a restriction needs its end date", field="restricted_until")
        restriction = await effects.restrict(
            session=session,
            actor=actor,
            subject=subject,
            request=request,
            ends_on=terms.restricted_until,
            reason=terms.restriction_reason or "",
        )
        return None, {"restriction": restriction.id, "until": restriction.ends_on.isoformat()}
    if kind is RequestKind.OBJECTION:
        return None, await effects.object_to_processing(
            session=session, actor=actor, subject=subject, request=request
        )
    if kind is RequestKind.CONSENT_WITHDRAWAL:
        return None, await effects.withdraw_all_consent(
            session=session, actor=actor, subject=subject
        )
    if kind is RequestKind.RECTIFICATION:
        return None, await effects.rectify(
            session=session, ring=ring, subject=subject, request=request
        )
    if kind is RequestKind.CHILD_DELETION:
        erased = await minors.erase_child(session=session, actor=actor, subject_id=subject.id)
        return None, {"child_data_erased": True, "packages_erased": erased.packages_erased}
    raise AssertionError(f"no answer for {kind}")
