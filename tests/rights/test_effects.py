"""What completing a request does, each effect enforced by the services (R-DSR-1, R-ERA-1,
R-CON-3, R-MIN-1), and the Art. 19 notices to recipients."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Sequence
from datetime import date, timedelta

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from registry import clock
from registry.blobs import LocalBlobStore
from registry.crypto import KeyRing, blind_index
from registry.db import transaction
from registry.errors import InvalidInput, NotFound, RuleBroken
from registry.recordings import calls, monitoring, retention, storage
from registry.recordings.models import (
    Direction,
    HoldGround,
    Recording,
    RecordingStatus,
    Segment,
    SeparateConsent,
    Subject,
    Tombstone,
)
from registry.rights import completion, effects, package, service
from registry.rights.models import (
    Objection,
    Package,
    RecipientNotice,
    RequestKind,
    RequestStatus,
    RightsRequest,
)
from tests.conftest import Api
from tests.recordings.conftest import SYSTEM, Scene, chunks, listen, status_of

AUDIO = b"a recorded call about an invoice " * 300
PHONE = "+44 20 7946 0000"
PURPOSE = "quality-control"
# The group's privacy contact as a deployment configures it: documents given out name it.
CONFIGURED = completion.Terms(privacy_contact="privacy@example.test")


async def recorded(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore, *, country: str = "US"
) -> str:
    """A consented call of the scene's customer and agent, outside the EU, with its audio."""
    return await scene.recorded(ring, blobs, AUDIO, country=country)


async def answered(
    scene: Scene,
    ring: KeyRing,
    blobs: LocalBlobStore,
    kind: RequestKind,
    *,
    subject_id: int | None = None,
    terms: completion.Terms | None = None,
    email: str | None = None,
    by_guardian: bool = False,
    corrections: calls.Identifiers | None = None,
) -> RightsRequest:
    """A request of ``kind`` walked from receipt to its answer; by phone unless by e-mail."""
    received = service.Received(
        kind=kind,
        controller="mood-media-uk",
        phone=None if email else PHONE,
        email=email,
        by_guardian=by_guardian,
        corrections=corrections,
    )
    async with transaction(scene.sessions) as session:
        request = await service.receive(session=session, actor=SYSTEM, ring=ring, received=received)
        await service.establish_identity(
            session=session,
            actor=SYSTEM,
            request_id=request.id,
            evidence="id card",
            subject_id=subject_id,
        )
        await service.register(session=session, actor=SYSTEM, request_id=request.id)
        await service.start(session=session, actor=SYSTEM, request_id=request.id)
        done = await completion.complete(
            session=session,
            actor=SYSTEM,
            ring=ring,
            blobs=blobs,
            request_id=request.id,
            terms=terms or CONFIGURED,
        )
        return done.request


async def test_erasure_shreds_the_subjects_recordings_and_identifiers_R_ERA_1(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore
) -> None:
    first, second = await recorded(scene, ring, blobs), await recorded(scene, ring, blobs)
    request = await answered(scene, ring, blobs, RequestKind.ERASURE)
    assert request.status is RequestStatus.COMPLETED
    assert request.outcome is not None and request.outcome["recordings_erased"] == 2
    async with transaction(scene.sessions) as session:
        for recording_id in (first, second):
            recording = await session.get_one(Recording, recording_id)
            assert recording.status is RecordingStatus.SHREDDED and recording.wrapped_key is None
        tombstones = await session.scalar(select(func.count()).select_from(Tombstone))
        assert tombstones == 2
        customer = await session.get_one(Subject, scene.customer_id)
        assert customer.phone_sealed is None and customer.phone_index is None
        assert customer.identifiers_erased_at is not None


async def test_r_era_1_a_subjects_erasure_sends_as_many_statements_for_many_recordings_as_few(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore, engine: AsyncEngine
) -> None:
    """R-ERA-1: erasing a subject works on the set of their recordings, whatever its size:
    neither the statements nor their parameters grow with it."""

    async def statements_to_erase(count: int) -> list[int]:
        """The parameters of each statement that erases the recordings."""
        recording_ids = [await recorded(scene, ring, blobs) for _ in range(count)]
        seen: list[int] = []

        def record(
            _conn: object,
            _cursor: object,
            statement: str,
            parameters: Sequence[object],
            _context: object,
            executemany: bool,
        ) -> None:
            # The recordings' part: the identifiers are erased the first time only. SQLite's
            # tombstones are one executemany, in-process: a statement, its rows not counted.
            if "recording" in statement:
                seen.append(-1 if executemany else len(parameters))

        async with transaction(scene.sessions) as session:
            subject = await session.get_one(Subject, scene.customer_id)
            event.listen(engine.sync_engine, "before_cursor_execute", record)
            try:
                outcome = await effects.erase_subject(
                    session=session, actor=SYSTEM, subject=subject
                )
            finally:
                event.remove(engine.sync_engine, "before_cursor_execute", record)
        assert outcome["recordings_erased"] == count
        for recording_id in recording_ids:
            assert await status_of(scene.sessions, recording_id) is RecordingStatus.SHREDDED
        return seen

    assert await statements_to_erase(2) == await statements_to_erase(6)
    async with scene.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Tombstone)) == 8


async def test_erasure_keeps_what_legal_claims_need_and_records_the_ground_R_ERA_1(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore
) -> None:
    held, free = await recorded(scene, ring, blobs), await recorded(scene, ring, blobs)
    async with transaction(scene.sessions) as session:
        await retention.place_hold(
            session=session,
            actor=SYSTEM,
            recording_id=held,
            ground=HoldGround.LEGAL_CLAIMS,
            justification="complaint 2026-114 before the county court",
            ends_on=date(2027, 6, 30),
        )
    request = await answered(scene, ring, blobs, RequestKind.ERASURE)
    assert request.outcome is not None
    assert request.outcome["kept_for_legal_claims"] == [
        {
            "recording": held,
            "ground": "legal_claims",
            "justification": "complaint 2026-114 before the county court",
            "hold_ends_on": "2027-06-30",
        }
    ]
    assert await status_of(scene.sessions, held) is RecordingStatus.ACTIVE
    assert await status_of(scene.sessions, free) is RecordingStatus.SHREDDED
    # Whose the kept recording is must stay known for the claim.
    async with transaction(scene.sessions) as session:
        assert (await session.get_one(Subject, scene.customer_id)).phone_sealed is not None


async def test_completing_rectification_erasure_or_restriction_owes_every_recipient_a_notice(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore
) -> None:
    request = await answered(scene, ring, blobs, RequestKind.ERASURE)
    async with transaction(scene.sessions) as session:
        notices = (
            await session.scalars(
                select(RecipientNotice).where(RecipientNotice.request_id == request.id)
            )
        ).all()
        recipients = {e.slug for e in await effects.recipients(session)}
        assert len(notices) == len(recipients) == request.outcome["recipients_to_tell"]  # type: ignore[index]
        # The processor and its sub-processors as well as the joint controllers.
        assert {"talkdesk", "mood-media-uk"} <= recipients
        assert len(recipients) > 20
        acknowledged = await effects.acknowledge(
            session=session, actor=SYSTEM, notice_id=notices[0].id, note="confirmed by e-mail"
        )
        assert acknowledged.acknowledged_at is not None
        with pytest.raises(InvalidInput):
            await effects.acknowledge(session=session, actor=SYSTEM, notice_id=notices[0].id)
    access = await answered(scene, ring, blobs, RequestKind.OBJECTION, email="bo@example.test")
    async with transaction(scene.sessions) as session:
        owed = await session.scalar(
            select(func.count())
            .select_from(RecipientNotice)
            .where(RecipientNotice.request_id == access.id)
        )
        assert owed == 0


async def test_restriction_stops_listening_and_monitoring_but_keeps_the_recording_R_DSR_1(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore
) -> None:
    recording_id = await recorded(scene, ring, blobs)
    live_call = await scene.call(country="US")
    async with transaction(scene.sessions) as session:
        await calls.record_ivr_choice(session=session, actor=SYSTEM, call_id=live_call, digit="1")
    request = await answered(
        scene,
        ring,
        blobs,
        RequestKind.RESTRICTION,
        terms=completion.Terms(date(2027, 1, 31), "the customer contests the recorded address"),
    )
    with pytest.raises(RuleBroken) as refused:
        await listen(scene.sessions, ring, blobs, recording_id)
    assert refused.value.rule_id == "R-DSR-1"
    for purpose in ("training", "employee-evaluation"):
        with pytest.raises(RuleBroken, match="restricted"):
            await listen(scene.sessions, ring, blobs, recording_id, purpose)
    async with transaction(scene.sessions) as session:
        with pytest.raises(RuleBroken) as refused:
            await monitoring.start_monitoring(
                session=session, actor=SYSTEM, call_id=live_call, reason="service_quality"
            )
        assert refused.value.rule_id == "R-DSR-1"
    assert await status_of(scene.sessions, recording_id) is RecordingStatus.ACTIVE
    # With the subject's consent to a use, that use may go on; the others stay stopped.
    async with transaction(scene.sessions) as session:
        session.add(
            SeparateConsent(subject_id=scene.customer_id, purpose="training", given_at=clock.now())
        )
    assert await listen(scene.sessions, ring, blobs, recording_id, "training") == AUDIO
    with pytest.raises(RuleBroken):
        await listen(scene.sessions, ring, blobs, recording_id)
    # Lifted, everything is as before.
    assert request.outcome is not None
    async with transaction(scene.sessions) as session:
        await effects.lift_restriction(
            session=session, actor=SYSTEM, restriction_id=request.outcome["restriction"]
        )
    assert await listen(scene.sessions, ring, blobs, recording_id) == AUDIO


async def test_a_restriction_ends_on_its_date_and_needs_one(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore, frozen_clock: clock.FrozenClock
) -> None:
    recording_id = await recorded(scene, ring, blobs)
    with pytest.raises(InvalidInput):
        await answered(scene, ring, blobs, RequestKind.RESTRICTION)
    await answered(
        scene,
        ring,
        blobs,
        RequestKind.RESTRICTION,
        terms=completion.Terms(clock.today() + timedelta(days=10), "accuracy"),
    )
    with pytest.raises(RuleBroken):
        await listen(scene.sessions, ring, blobs, recording_id)
    frozen_clock.advance(timedelta(days=11))
    assert await listen(scene.sessions, ring, blobs, recording_id) == AUDIO


async def test_an_agents_objection_stops_evaluation_until_compelling_grounds_are_recorded_R_DSR_1(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore
) -> None:
    recording_id = await recorded(scene, ring, blobs)
    request = await answered(scene, ring, blobs, RequestKind.OBJECTION, email="bo@example.test")
    assert request.subject_id == scene.agent_id
    for purpose in ("employee-evaluation", "quality-control", "training"):
        with pytest.raises(RuleBroken, match="objected") as refused:
            await listen(scene.sessions, ring, blobs, recording_id, purpose)
        assert refused.value.rule_id == "R-DSR-1"
    assert request.outcome is not None
    async with transaction(scene.sessions) as session:
        await effects.record_compelling_grounds(
            session=session,
            actor=SYSTEM,
            objection_id=request.outcome["objection"],
            grounds="evaluation is needed to defend a dismissal claim",
        )
    assert await listen(scene.sessions, ring, blobs, recording_id) == AUDIO


async def test_r_dsr_1_a_customers_objection_takes_the_effect_of_a_withdrawal_of_consent(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore
) -> None:
    recording_id = await recorded(scene, ring, blobs)
    later_call = await scene.call(country="US")
    request = await answered(scene, ring, blobs, RequestKind.OBJECTION)
    assert request.subject_id == scene.customer_id
    assert request.status is RequestStatus.COMPLETED and request.outcome is not None
    # Recorded as an objection, with the effect of a withdrawal of consent (R-DSR-1).
    assert request.outcome == {
        "objection": request.outcome["objection"],
        "consent_withdrawn": True,
        "calls_withdrawn": 1,
        "separate_consents_withdrawn": 0,
    }
    async with transaction(scene.sessions) as session:
        objection = await session.get_one(Objection, request.outcome["objection"])
        assert (objection.subject_id, objection.request_id) == (scene.customer_id, request.id)
        customer = await session.get_one(Subject, scene.customer_id)
        assert customer.consent_withdrawn_at is not None
    assert await status_of(scene.sessions, recording_id) is RecordingStatus.SHREDDED
    # Nothing more is recorded of the customer, even after a key press for consent.
    async with transaction(scene.sessions) as session:
        await calls.record_ivr_choice(session=session, actor=SYSTEM, call_id=later_call, digit="1")
    async with transaction(scene.sessions) as session:
        with pytest.raises(RuleBroken) as refused:
            await storage.store(
                session=session,
                actor=SYSTEM,
                ring=ring,
                blobs=blobs,
                call_id=later_call,
                segment=Segment.FULL,
                audio=chunks(AUDIO),
            )
        assert refused.value.rule_id == "R-CON-3"
    # Consent withdrawn stays withdrawn: no compelling grounds override a customer's objection.
    async with transaction(scene.sessions) as session:
        with pytest.raises(RuleBroken) as overridden:
            await effects.record_compelling_grounds(
                session=session,
                actor=SYSTEM,
                objection_id=objection.id,
                grounds="we would rather keep evaluating",
            )
        assert overridden.value.rule_id == "R-DSR-1"
    async with transaction(scene.sessions) as session:
        unchanged = await session.get_one(Objection, objection.id)
        assert unchanged.compelling_grounds is None


async def test_withdrawal_erases_consented_audio_and_stops_all_further_recording_R_CON_3(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore
) -> None:
    recording_id = await recorded(scene, ring, blobs)
    later_call = await scene.call(country="US")
    request = await answered(scene, ring, blobs, RequestKind.CONSENT_WITHDRAWAL)
    assert request.outcome == {"calls_withdrawn": 1, "separate_consents_withdrawn": 0}
    assert await status_of(scene.sessions, recording_id) is RecordingStatus.SHREDDED
    async with transaction(scene.sessions) as session:
        # A new call of the same customer: even a consent key press records nothing more.
        await calls.record_ivr_choice(session=session, actor=SYSTEM, call_id=later_call, digit="1")
    async with transaction(scene.sessions) as session:
        with pytest.raises(RuleBroken) as refused:
            await storage.store(
                session=session,
                actor=SYSTEM,
                ring=ring,
                blobs=blobs,
                call_id=later_call,
                segment=Segment.FULL,
                audio=chunks(AUDIO),
            )
        assert refused.value.rule_id == "R-CON-3"
        with pytest.raises(RuleBroken) as refused:
            await monitoring.start_monitoring(
                session=session, actor=SYSTEM, call_id=later_call, reason="service_quality"
            )
        assert refused.value.rule_id == "R-CON-3"


async def test_rectification_reseals_and_reindexes_the_identifiers(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore
) -> None:
    corrected = calls.Identifiers(phone="+44 20 7946 0999", email=None, name="Ana Corrected")
    request = await answered(scene, ring, blobs, RequestKind.RECTIFICATION, corrections=corrected)
    assert request.outcome is not None and request.outcome["corrected"] == ["name", "phone"]
    async with transaction(scene.sessions) as session:
        customer = await session.get_one(Subject, scene.customer_id)
        assert customer.phone_index == blind_index(ring, "phone", "+44 20 7946 0999")
        assert customer.email_index == blind_index(ring, "email", "ana@example.test")
        assert request.details_sealed is not None and b"Corrected" not in request.details_sealed
        assert customer.name_sealed is not None and b"Corrected" not in customer.name_sealed


async def test_a_guardian_has_a_childs_data_deleted_R_MIN_1(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore
) -> None:
    recording_id = await recorded(scene, ring, blobs)
    request = await answered(scene, ring, blobs, RequestKind.CHILD_DELETION, by_guardian=True)
    assert request.by_guardian
    assert request.outcome == {"child_data_erased": True, "packages_erased": 0}
    assert await status_of(scene.sessions, recording_id) is RecordingStatus.SHREDDED
    async with transaction(scene.sessions) as session:
        child = await session.get_one(Subject, scene.customer_id)
        assert child.under_16 and child.phone_sealed is None


async def test_an_outbound_call_is_covered_as_well(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore
) -> None:
    call_id = await scene.call(Direction.OUTBOUND, country="US")
    async with transaction(scene.sessions) as session:
        await calls.record_agent_answer(
            session=session, actor=SYSTEM, call_id=call_id, approved=True
        )
        recording = await storage.store(
            session=session,
            actor=SYSTEM,
            ring=ring,
            blobs=blobs,
            call_id=call_id,
            segment=Segment.FULL,
            audio=chunks(AUDIO),
        )
    await answered(scene, ring, blobs, RequestKind.ERASURE)
    assert await status_of(scene.sessions, recording.id) is RecordingStatus.SHREDDED


async def test_erasure_takes_the_answers_already_given_with_it(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore
) -> None:
    await recorded(scene, ring, blobs)
    access = await answered(scene, ring, blobs, RequestKind.ACCESS)
    assert access.outcome is not None
    package_id = access.outcome["package"]
    erased = await answered(scene, ring, blobs, RequestKind.ERASURE)
    assert erased.outcome is not None and erased.outcome["packages_erased"] == 1
    async with transaction(scene.sessions) as session:
        with pytest.raises(NotFound):
            await package.open_package(
                session=session, actor=SYSTEM, ring=ring, blobs=blobs, package_id=package_id
            )


MINOR = """mutation($subject: Int!) {
    markUnder16(subject: $subject) { subject { id under16 } errors { __typename message } } }"""


async def test_r_min_1_marking_a_child_under_16_destroys_the_answers_built_for_them(
    api: Api, scene: Scene, ring: KeyRing, blobs: LocalBlobStore
) -> None:
    recording_id = await recorded(scene, ring, blobs)
    access = await answered(scene, ring, blobs, RequestKind.ACCESS)
    portability = await answered(scene, ring, blobs, RequestKind.PORTABILITY)
    built = [r.outcome["package"] for r in (access, portability) if r.outcome is not None]
    assert len(built) == 2
    marked = (await api.data(MINOR, {"subject": scene.customer_id}))["markUnder16"]
    assert marked == {"subject": {"id": scene.customer_id, "under16": True}, "errors": []}
    # R-MIN-1: the copies of the child's data handed out go with it, as a guardian's request
    # takes them: nothing of the child can be downloaded any more.
    assert await status_of(scene.sessions, recording_id) is RecordingStatus.SHREDDED
    async with transaction(scene.sessions) as session:
        for package_id in built:
            with pytest.raises(NotFound):
                await package.open_package(
                    session=session, actor=SYSTEM, ring=ring, blobs=blobs, package_id=package_id
                )
            shredded = await session.get_one(Package, package_id)
            assert (shredded.key_id, shredded.wrapped_key) == (None, None)


async def test_r_min_1_a_guardians_request_destroys_the_answers_built_for_the_child(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore
) -> None:
    """R-MIN-1: a guardians request destroys the answers built for the child."""
    await recorded(scene, ring, blobs)
    access = await answered(scene, ring, blobs, RequestKind.ACCESS)
    assert access.outcome is not None
    request = await answered(scene, ring, blobs, RequestKind.CHILD_DELETION, by_guardian=True)
    assert request.outcome == {"child_data_erased": True, "packages_erased": 1}
    async with transaction(scene.sessions) as session:
        with pytest.raises(NotFound):
            await package.open_package(
                session=session,
                actor=SYSTEM,
                ring=ring,
                blobs=blobs,
                package_id=access.outcome["package"],
            )


async def test_r_ret_1_an_access_package_leaves_out_audio_past_its_period_even_before_the_sweep(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore, frozen_clock: clock.FrozenClock
) -> None:
    expired = await recorded(scene, ring, blobs)
    held = await recorded(scene, ring, blobs)
    async with transaction(scene.sessions) as session:
        await retention.place_hold(
            session=session,
            actor=SYSTEM,
            recording_id=held,
            ground=HoldGround.LEGAL_CLAIMS,
            justification="the customer sued over this call",
            ends_on=date(2027, 6, 30),
        )
    frozen_clock.advance(timedelta(days=20))
    fresh = await recorded(scene, ring, blobs)
    # The first two are 35 days old: past their 30 days. No sweep has run.
    frozen_clock.advance(timedelta(days=15))
    assert await status_of(scene.sessions, expired) is RecordingStatus.ACTIVE
    access = await answered(scene, ring, blobs, RequestKind.ACCESS)
    assert access.outcome is not None
    async with transaction(scene.sessions) as session:
        _, content = await package.open_package(
            session=session,
            actor=SYSTEM,
            ring=ring,
            blobs=blobs,
            package_id=access.outcome["package"],
        )
        archive = zipfile.ZipFile(io.BytesIO(b"".join([piece async for piece in content])))
    # R-RET-1: expired audio is never served; what a hold keeps longer is (R-RET-2).
    audio = {name for name in archive.namelist() if name.startswith("recordings/")}
    assert audio == {f"recordings/{fresh}.audio", f"recordings/{held}.audio"}
    data = json.loads(archive.read("data.json"))
    files = {r["id"]: r["file"] for call in data["calls"] for r in call["recordings"]}
    assert files == {
        expired: None,
        held: f"recordings/{held}.audio",
        fresh: f"recordings/{fresh}.audio",
    }
