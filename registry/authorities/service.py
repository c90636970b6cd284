"""Disclosures to authorities (R-ACC-5): recorded on request, reviewed, and only then released.

An authority's request is recorded with its legal basis and the authority's reference: a
request that names neither is no explicit legal request. Someone of the privacy team other
than who recorded it reviews it, weighing the necessity of the communication against its
compatibility with the purpose the recordings were made for; only an approved request
releases anything, once, and someone other than the reviewer releases it (four eyes at
each step). The release is a sealed package of the recordings still held and not expired
(R-RET-1), with a manifest of what went out and what was withheld. What each step
recorded stays on the request and its items.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from registry import clock
from registry._text import stated
from registry.access.policy import Action
from registry.access.service import Actor, authorize
from registry.authorities.models import AuthorityRequest, DisclosureItem, DisclosureStatus
from registry.blobs import BlobStore
from registry.crypto import KeyRing
from registry.errors import InvalidInput, NotFound, RuleBroken
from registry.recordings.models import Recording, RecordingStatus, Tombstone
from registry.rights.models import Package, PackageKind
from registry.rights.package import Entry, audio_entries, build_package, servable

# An authority asks for specific calls; a request for more than this is a request for
# bulk data, which needs to be broken down and reviewed in parts.
MAX_RECORDINGS = 50
NAME_LIMIT = 200
MANIFEST = "manifest.json"
NOT_EXPLICIT = "an explicit legal request names its legal basis and the authority's reference"
NOT_WEIGHED = (
    "a review weighs the necessity of the communication against its compatibility with"
    " the original purpose: both are recorded"
)


@dataclass(frozen=True)
class Disclosure:
    """A request with what it asked for, and the package that released it, if any."""

    request: AuthorityRequest
    items: list[DisclosureItem]
    package_id: str | None


def _recording_ids(recording_ids: Sequence[str]) -> list[str]:
    unique = list(dict.fromkeys(r.strip() for r in recording_ids))
    if not unique:
        raise InvalidInput("a request names at least one recording", field="recordings")
    if len(unique) > MAX_RECORDINGS:
        raise InvalidInput(f"at most {MAX_RECORDINGS} recordings a request", field="recordings")
    return unique


async def _disclosures(
    session: AsyncSession, requests: Sequence[AuthorityRequest]
) -> list[Disclosure]:
    """The requests with their items and packages, in two queries whatever their number."""
    ids = [r.id for r in requests]
    items: dict[int, list[DisclosureItem]] = {i: [] for i in ids}
    for item in await _items(session, ids):
        items[item.request_id].append(item)
    built = await session.execute(
        select(col(Package.authority_request_id), col(Package.id)).where(
            col(Package.authority_request_id).in_(ids)
        )
    )
    packages = {request_id: package_id for request_id, package_id in built.all()}
    return [Disclosure(r, items[r.id], packages.get(r.id)) for r in requests]


async def _items(session: AsyncSession, request_ids: Sequence[int]) -> list[DisclosureItem]:
    query = (
        select(DisclosureItem)
        .where(col(DisclosureItem.request_id).in_(request_ids))
        .order_by(col(DisclosureItem.id))
    )
    return list((await session.scalars(query)).all())


async def record_request(
    *,
    session: AsyncSession,
    actor: Actor,
    authority: str,
    reference: str,
    legal_basis: str,
    scope: str,
    recording_ids: Sequence[str],
) -> Disclosure:
    """Records an authority's request as received; nothing is disclosed yet."""
    authorize(actor, Action.AUTHORITY_RECORD)
    request = AuthorityRequest(
        authority=stated(authority, "authority", limit=NAME_LIMIT),
        reference=stated(
            reference, "reference", missing=NOT_EXPLICIT, rule="R-ACC-5", limit=NAME_LIMIT
        ),
        legal_basis=stated(legal_basis, "legal_basis", missing=NOT_EXPLICIT, rule="R-ACC-5"),
        scope=stated(scope, "scope"),
        status=DisclosureStatus.RECEIVED,
        received_at=clock.now(),
        received_by=actor.handle,
    )
    wanted = _recording_ids(recording_ids)
    # Erased recordings keep their row: what was asked for is recorded all the same, and
    # withheld at release.
    known = set(
        (
            await session.scalars(select(col(Recording.id)).where(col(Recording.id).in_(wanted)))
        ).all()
    )
    missing = [r for r in wanted if r not in known]
    if missing:
        raise NotFound(f"no recording {missing[0]!r}", field="recordings")
    session.add(request)
    await session.flush()
    items = [DisclosureItem(request_id=request.id, recording_id=r) for r in wanted]
    session.add_all(items)
    await session.flush()
    return Disclosure(request, items, None)


async def _locked(session: AsyncSession, request_id: int) -> AuthorityRequest:
    # Locked and read afresh: two reviews or releases of one request are decided one after
    # the other, and the second sees what the first did.
    request = await session.get(
        AuthorityRequest, request_id, with_for_update=True, populate_existing=True
    )
    if request is None:
        raise NotFound(f"no authority request {request_id}", field="request")
    return request


async def review(
    *,
    session: AsyncSession,
    actor: Actor,
    request_id: int,
    approve: bool,
    necessity: str,
    compatibility: str,
) -> Disclosure:
    """Approves or rejects a received request, on the assessments R-ACC-5 asks for, by
    someone other than who recorded it (four eyes)."""
    authorize(actor, Action.AUTHORITY_REVIEW)
    request = await _locked(session, request_id)
    if request.status is not DisclosureStatus.RECEIVED:
        raise InvalidInput(
            f"the request was {request.status.value} already; only a received one is reviewed",
            field="request",
        )
    if request.received_by == actor.handle:
        raise RuleBroken(
            "R-ACC-5",
            "four eyes: the request is reviewed by someone other than who recorded it",
            field="request",
        )
    request.necessity = stated(necessity, "necessity", missing=NOT_WEIGHED, rule="R-ACC-5")
    request.compatibility = stated(
        compatibility, "compatibility", missing=NOT_WEIGHED, rule="R-ACC-5"
    )
    request.status = DisclosureStatus.APPROVED if approve else DisclosureStatus.REJECTED
    request.reviewed_by = actor.handle
    request.reviewed_at = clock.now()
    await session.flush()
    return (await _disclosures(session, [request]))[0]


async def _withheld(session: AsyncSession, recordings: Sequence[Recording]) -> dict[str, str]:
    """Why each recording is not released: it was erased, and its tombstone says why, or
    its period is over and the sweep has not come yet (R-RET-1)."""
    tombstones = await session.scalars(
        select(Tombstone).where(col(Tombstone.recording_id).in_([r.id for r in recordings]))
    )
    grounds = {t.recording_id: f" ({t.reason.value})" for t in tombstones.all()}
    return {
        r.id: f"expired before release (kept until {r.expires_at.isoformat()})"
        if r.status is RecordingStatus.ACTIVE
        else "erased before release" + grounds.get(r.id, "")
        for r in recordings
    }


def _manifest(
    request: AuthorityRequest,
    released: dict[Recording, str],
    withheld: dict[str, str],
    at: datetime,
) -> Entry:
    """What went out and what did not: for the authority, inside the package it receives."""
    document = {
        "authority": request.authority,
        "reference": request.reference,
        "legal_basis": request.legal_basis,
        "scope": request.scope,
        "released_at": at.isoformat(),
        "released": [
            {"recording": r.id, "made_at": r.made_at.isoformat(), "file": name}
            for r, name in released.items()
        ],
        "withheld": [{"recording": r, "reason": why} for r, why in withheld.items()],
    }
    body = json.dumps(document, indent=2, sort_keys=True).encode()

    async def content() -> AsyncIterator[bytes]:
        yield body

    return Entry(MANIFEST, content)


async def release(
    *, session: AsyncSession, actor: Actor, ring: KeyRing, blobs: BlobStore, request_id: int
) -> Disclosure:
    """Releases an approved request once: its recordings still held, sealed in one package.

    Someone other than the reviewer releases it: the reviewer's approval alone discloses
    nothing (four eyes, R-ACC-5).

    A recording erased since the request came in is not brought back: it is listed as
    withheld, with why.
    """
    authorize(actor, Action.AUTHORITY_REVIEW)
    request = await _locked(session, request_id)
    if request.status is not DisclosureStatus.APPROVED:
        raise RuleBroken(
            "R-ACC-5",
            f"only an approved disclosure releases data; this request is {request.status.value}",
            field="request",
        )
    if request.reviewed_by == actor.handle:
        raise RuleBroken(
            "R-ACC-5",
            "four eyes: the reviewer does not release alone; someone else releases",
            field="request",
        )
    items = await _items(session, [request.id])
    # Locked as an erasure locks them: none is shredded while its audio is being packed.
    locked = await session.scalars(
        select(Recording)
        .where(col(Recording.id).in_([i.recording_id for i in items]))
        .order_by(col(Recording.id))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    recordings = {r.id: r for r in locked.all()}
    asked = [recordings[i.recording_id] for i in items]
    held = await servable(session, asked)
    withheld = await _withheld(session, [r for r in asked if r not in held])
    audio = audio_entries(ring=ring, blobs=blobs, recordings=held)
    released = {r: entry.name for r, entry in zip(held, audio, strict=True)}
    now = clock.now()
    package = await build_package(
        session=session,
        actor=actor,
        ring=ring,
        blobs=blobs,
        kind=PackageKind.DISCLOSURE,
        file_name=f"disclosure-{request.id}.zip",
        media_type="application/zip",
        entries=[_manifest(request, released, withheld, now), *audio],
        authority_request_id=request.id,
    )
    for item in items:
        if item.recording_id in withheld:
            item.withheld_reason = withheld[item.recording_id]
        else:
            item.released_at = now
    request.status = DisclosureStatus.RELEASED
    request.released_by = actor.handle
    request.released_at = now
    await session.flush()
    return Disclosure(request, items, package.id)


async def list_requests(
    *,
    session: AsyncSession,
    actor: Actor,
    status: DisclosureStatus | None = None,
    after_id: int = 0,
    limit: int | None = None,
) -> list[Disclosure]:
    authorize(actor, Action.AUTHORITY_READ)
    query = select(AuthorityRequest).where(col(AuthorityRequest.id) > after_id)
    if status is not None:
        query = query.where(col(AuthorityRequest.status) == status)
    rows = (await session.scalars(query.order_by(col(AuthorityRequest.id)).limit(limit))).all()
    return await _disclosures(session, rows)


async def get_request(*, session: AsyncSession, actor: Actor, request_id: int) -> Disclosure | None:
    authorize(actor, Action.AUTHORITY_READ)
    request = await session.get(AuthorityRequest, request_id)
    return (await _disclosures(session, [request]))[0] if request is not None else None
