"""Identifiers follow their retention too (R-RET-3): once no recording, open request or
hold needs them, the sweep erases a subject's sealed identifiers and blind indexes, and
leaves a tombstone and an audit entry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from registry import clock
from registry.blobs import LocalBlobStore
from registry.crypto import KeyRing
from registry.db import transaction
from registry.record.inventory.models import Entity
from registry.record.taxonomy import service as taxonomy
from registry.recordings import calls, retention
from registry.recordings.models import ErasureReason, IdentifierTombstone, Subject, SubjectKind
from registry.rights.models import RequestKind, RequestStatus, RightsRequest
from tests.conftest import NOW, OFFICER
from tests.recordings.conftest import SYSTEM, Scene
from tests.recordings.test_retention import hold, recorded

DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
async def identifiers_kept_thirty_days(scene: Scene) -> None:
    """The notice states no period for the identifiers (a gap, R-INV-6), so the sweep erases
    none on a guess: here the privacy team states 30 days for them, as it would."""
    async with transaction(scene.sessions) as session:
        for key in retention.IDENTIFIERS:
            await taxonomy.update_retention(
                session=session,
                actor=OFFICER,
                activity_slug="call-recording-and-monitoring",
                category_key=key,
                retention_criterion="30 days after the subject's last call",
                retention_days=30,
            )


async def register(scene: Scene, ring: KeyRing, name: str) -> int:
    async with transaction(scene.sessions) as session:
        subject = await calls.register_subject(
            session=session,
            actor=SYSTEM,
            ring=ring,
            kind=SubjectKind.CUSTOMER,
            identifiers=calls.Identifiers(name, "+44 20 7946 0999", f"{name[:3]}@example.test"),
        )
    return subject.id


async def identifiers_kept(scene: Scene, subject_id: int) -> bool:
    async with scene.sessions() as session:
        subject = await session.get_one(Subject, subject_id)
    sealed = (subject.name_sealed, subject.phone_sealed, subject.email_sealed)
    indexes = (subject.phone_index, subject.email_index)
    if subject.identifiers_erased_at is None:
        assert subject.name_sealed is not None
        return True
    assert sealed == (None, None, None) and indexes == (None, None), "erased only in part"
    return False


async def tombstones(scene: Scene) -> dict[int, tuple[ErasureReason, str]]:
    async with scene.sessions() as session:
        rows = (await session.scalars(select(IdentifierTombstone))).all()
    return {t.subject_id: (t.reason, t.erased_by) for t in rows}


async def test_r_ret_3_the_sweep_erases_identifiers_nothing_keeps_with_a_tombstone(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore, frozen_clock: clock.FrozenClock
) -> None:
    """R-RET-3: the sweep erases identifiers nothing keeps with a tombstone."""
    await recorded(scene, ring, blobs)
    never_called = await register(scene, ring, "Cy Nocall")
    frozen_clock.advance(20 * DAY)
    newcomer = await register(scene, ring, "Di Newcomer")
    frozen_clock.advance(10 * DAY)
    # Thirty days after the call: the recording goes, and with it what named its parties.
    report = await retention.sweep(sessions=scene.sessions, blobs=blobs, audit_log=scene.audit_log)
    assert (report.shredded, report.identifiers_erased) == (1, 3)
    gone = [scene.customer_id, scene.agent_id, never_called]
    for subject_id in gone:
        assert not await identifiers_kept(scene, subject_id)
    assert await identifiers_kept(scene, newcomer)
    assert await tombstones(scene) == dict.fromkeys(gone, (ErasureReason.EXPIRED, "system:sweep"))
    (audited,) = await scene.audit_log.events(
        actor=SYSTEM, after_seq=0, limit=10, action="sweep.erase_identifiers"
    )
    assert audited.principal == "system:sweep"
    assert audited.detail == {"subjects": sorted(gone)}
    # Nothing twice: the next sweep finds nothing more to erase.
    again = await retention.sweep(sessions=scene.sessions, blobs=blobs, audit_log=scene.audit_log)
    assert again.identifiers_erased == 0


async def test_r_ret_3_a_held_recording_an_open_request_or_a_recent_call_keeps_them(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore, frozen_clock: clock.FrozenClock
) -> None:
    """R-RET-3: a held recording an open request or a recent call keeps them."""
    (held,) = await recorded(scene, ring, blobs)
    await hold(scene, held, (NOW + 90 * DAY).date())
    requester = await register(scene, ring, "Ed Requester")
    async with transaction(scene.sessions) as session:
        controller = await session.scalar(select(Entity.id).where(Entity.slug == "mood-media-uk"))
        assert controller is not None
        session.add(
            RightsRequest(
                kind=RequestKind.ACCESS,
                status=RequestStatus.IN_PROGRESS,
                controller_id=controller,
                subject_id=requester,
                received_at=NOW,
                received_by=SYSTEM.handle,
                due_at=NOW + 30 * DAY,
            )
        )
    frozen_clock.advance(31 * DAY)
    recent = await register(scene, ring, "Flo Recent")
    report = await retention.sweep(sessions=scene.sessions, blobs=blobs, audit_log=scene.audit_log)
    assert report.identifiers_erased == 0
    for subject_id in (scene.customer_id, scene.agent_id, requester, recent):
        assert await identifiers_kept(scene, subject_id)
    assert await tombstones(scene) == {}


async def test_r_ret_3_a_hold_keeps_the_identifiers_of_its_recordings_parties_only(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore, frozen_clock: clock.FrozenClock
) -> None:
    """R-RET-3: a hold keeps the identifiers of its recording's parties, and no one else's."""
    (held,) = await recorded(scene, ring, blobs)
    await hold(scene, held, (NOW + 90 * DAY).date())
    stranger = await register(scene, ring, "Gil Stranger")
    frozen_clock.advance(31 * DAY)
    report = await retention.sweep(sessions=scene.sessions, blobs=blobs, audit_log=scene.audit_log)
    assert report.identifiers_erased == 1
    for subject_id in (scene.customer_id, scene.agent_id):
        assert await identifiers_kept(scene, subject_id)
    assert not await identifiers_kept(scene, stranger)
    assert await tombstones(scene) == {stranger: (ErasureReason.EXPIRED, "system:sweep")}
