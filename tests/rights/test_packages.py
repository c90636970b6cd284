"""Packages handed to data subjects: what they hold (R-DSR-1, R-DSR-5), sealed at rest
(R-ENC-1), handed only to the privacy team and audited before a byte leaves (R-ACC-6),
never handed out altered (R-ACC-4), and built in flat memory whatever their size.
"""

from __future__ import annotations

import hashlib
import io
import json
import tracemalloc
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from registry import clock, sealed_blobs
from registry.access.policy import POLICY, Action, Role
from registry.access.service import Actor
from registry.audit.models import Outcome
from registry.audit.service import AuditLog
from registry.blobs import LocalBlobStore
from registry.crypto import CiphertextInvalid, KeyRing
from registry.db import transaction
from registry.errors import Forbidden
from registry.record.inventory.models import (
    Activity,
    ActivityParty,
    Entity,
    PartyRole,
    Purpose,
)
from registry.record.transfers.models import Transfer
from registry.recordings import calls, erasure, storage
from registry.recordings.models import Direction, Recording, Segment, Subject
from registry.rights import answers
from registry.rights.models import Package, PackageKind, RequestKind, RequestStatus, RightsRequest
from registry.rights.package import (
    Entry,
    audio_entries,
    audio_file_name,
    build_package,
    open_package,
)
from tests.audit.test_graphql import break_the_log
from tests.conftest import NOW, Api, AppFactory
from tests.recordings.conftest import Scene, scene
from tests.recordings.test_http import (
    AUDIO,
    FURTHER_ON,
    IN_THE_FIRST_BLOCK,
    MARKER,
    bearer,
    cut,
    error_of,
    events,
    every_file,
    every_value,
    flip,
    get_over_http_1_0,
    handle_of,
    holding,
    served,
    upload,
)

# The recordings' scene (a customer and an agent) is a fixture here, whatever conftest holds.
__all__ = ["scene"]

SYSTEM = Actor.system("test")
Sessions = async_sessionmaker[AsyncSession]
CONTACT = "privacy@example.test"
# The scene's customer, as registered, and as a careless store might normalise them.
NAME, PHONE, EMAIL = "Ana Caller", "+44 20 7946 0000", "ana@example.test"
IDENTIFIERS = [
    NAME.encode(),
    NAME.lower().encode(),
    PHONE.encode(),
    b"+442079460000",
    b"442079460000",
    EMAIL.encode(),
]
SECOND_AUDIO = b"second call|" + AUDIO[: 3 * sealed_blobs.BLOCK_BYTES]
MiB = 1024 * 1024


# ---------------------------------------------------------------- helpers


@dataclass(frozen=True)
class Answered:
    """A customer with two recorded calls and one whose recording was erased."""

    subject_id: int
    agent_id: int
    request_id: int
    audio: dict[str, bytes]
    erased: str


async def consented_call(scene: Scene, direction: Direction = Direction.INBOUND) -> str:
    call_id = await scene.call(direction)
    async with transaction(scene.sessions) as session:
        if direction is Direction.INBOUND:
            await calls.record_ivr_choice(session=session, actor=SYSTEM, call_id=call_id, digit="1")
        else:
            await calls.record_agent_answer(
                session=session, actor=SYSTEM, call_id=call_id, approved=True
            )
    return call_id


async def uploaded(api: Api, call_id: str, audio: bytes) -> str:
    response = await upload(api, call_id, audio)
    assert response.status_code == 201, response.text
    recording_id: str = response.json()["id"]
    return recording_id


async def new_request(sessions: Sessions, kind: RequestKind, subject_id: int | None) -> int:
    async with transaction(sessions) as session:
        controller = await session.scalar(select(Entity).where(Entity.slug == "mood-media-uk"))
        assert controller is not None
        request = RightsRequest(
            kind=kind,
            status=RequestStatus.IN_PROGRESS,
            controller_id=controller.id,
            subject_id=subject_id,
            received_at=NOW,
            received_by="test",
            due_at=NOW + timedelta(days=30),
        )
        session.add(request)
        await session.flush()
    return request.id


async def answer(
    sessions: Sessions,
    ring: KeyRing,
    blobs: LocalBlobStore,
    request_id: int,
    subject_id: int | None = None,
) -> str:
    """Builds the package that answers the request, as completing it does; its ID."""
    async with transaction(sessions) as session:
        request = await session.get_one(RightsRequest, request_id)
        common: dict[str, Any] = {
            "session": session,
            "actor": SYSTEM,
            "ring": ring,
            "blobs": blobs,
            "request": request,
        }
        if request.kind is RequestKind.ARRANGEMENT:
            package = await answers.arrangement_package(**common, privacy_contact=CONTACT)
        else:
            subject = await session.get_one(Subject, subject_id)
            if request.kind is RequestKind.ACCESS:
                package = await answers.access_package(
                    **common, subject=subject, privacy_contact=CONTACT
                )
            else:
                package = await answers.portability_package(**common, subject=subject)
    return package.id


async def download(
    api: Api, package_id: str, *, role: Role = Role.PRIVACY_OFFICER
) -> httpx.Response:
    return await api.client.get(f"/packages/{package_id}", headers=bearer(api.tokens[role]))


def archive_of(response: httpx.Response) -> zipfile.ZipFile:
    assert response.status_code == 200, response.text
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    # Every member's CRC checked: the archive is whole.
    assert archive.testzip() is None
    return archive


def json_member(archive: zipfile.ZipFile, name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(archive.read(name))
    return document


async def package_blob(sessions: Sessions, blobs: LocalBlobStore, package_id: str) -> Path:
    async with sessions() as session:
        package = await session.get_one(Package, package_id)
    return blobs.root / package.blob_key


async def downloads_of(sessions: Sessions, package_id: str) -> int:
    async with sessions() as session:
        package = await session.get_one(Package, package_id)
        return package.downloads


@pytest_asyncio.fixture
async def answered(api: Api, scene: Scene, frozen_clock: clock.FrozenClock) -> Answered:
    # A minute apart, so that the calls have an order.
    first = await uploaded(api, await consented_call(scene), AUDIO)
    frozen_clock.advance(timedelta(minutes=1))
    second = await uploaded(api, await consented_call(scene, Direction.OUTBOUND), SECOND_AUDIO)
    frozen_clock.advance(timedelta(minutes=1))
    erased = await uploaded(api, await consented_call(scene), b"erased audio " + MARKER)
    async with transaction(scene.sessions) as session:
        await erasure.erase_recording(session=session, actor=SYSTEM, recording_id=erased)
    request_id = await new_request(scene.sessions, RequestKind.ACCESS, scene.customer_id)
    return Answered(
        scene.customer_id, scene.agent_id, request_id, {first: AUDIO, second: SECOND_AUDIO}, erased
    )


@pytest_asyncio.fixture
async def access_package_id(
    answered: Answered, seeded: Sessions, ring: KeyRing, blobs: LocalBlobStore
) -> str:
    return await answer(seeded, ring, blobs, answered.request_id, answered.subject_id)


# ---------------------------------------------------------------- what an access answer holds


async def test_r_dsr_1_an_access_package_holds_the_answer_the_subjects_data_and_their_audio(
    api: Api, seeded: Sessions, answered: Answered, access_package_id: str
) -> None:
    """R-DSR-1: an access package holds the answer the subjects data and their audio."""
    response = await download(api, access_package_id)
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="access-{answered.request_id}.zip"'
    )
    assert response.headers["cache-control"] == "no-store"
    archive = archive_of(response)
    audio_names = {audio_file_name(r) for r in answered.audio}
    assert set(archive.namelist()) == {"answer.json", "data.json", *audio_names}
    # Byte for byte what was uploaded; the erased recording's audio is not there.
    for recording_id, audio in answered.audio.items():
        assert archive.read(audio_file_name(recording_id)) == audio
    assert audio_file_name(answered.erased) not in archive.namelist()

    data = json_member(archive, "data.json")
    assert (data["format"], data["version"]) == ("registry.subject-data", 1)
    subject = data["subject"]
    assert (subject["kind"], subject["name"], subject["phone"], subject["email"]) == (
        "customer",
        NAME,
        PHONE,
        EMAIL,
    )
    assert [call["direction"] for call in data["calls"]] == ["inbound", "outbound", "inbound"]
    assert {call["as"] for call in data["calls"]} == {"customer"}
    assert [call["consent"] for call in data["calls"]] == ["given"] * 3
    inbound, outbound, _ = data["calls"]
    assert [s["step"] for s in inbound["consent_steps"]] == ["ivr_digit_1"]
    assert [s["step"] for s in outbound["consent_steps"]] == ["agent_recorded_yes"]
    recordings = {r["id"]: r for call in data["calls"] for r in call["recordings"]}
    assert set(recordings) == {*answered.audio, answered.erased}
    for recording_id in answered.audio:
        assert recordings[recording_id]["status"] == "active"
        assert recordings[recording_id]["file"] == audio_file_name(recording_id)
        made = datetime.fromisoformat(recordings[recording_id]["made_at"])
        assert recordings[recording_id]["kept_until"] == (made + timedelta(days=30)).isoformat()
    assert (recordings[answered.erased]["status"], recordings[answered.erased]["file"]) == (
        "shredded",
        None,
    )
    # Who took the consent steps is staff's data, not the subject's.
    assert b"test-it-operator" not in archive.read("data.json")


async def test_r_dsr_1_the_access_answer_says_what_the_record_holds_for_a_customer(
    api: Api, seeded: Sessions, access_package_id: str
) -> None:
    document = json_member(archive_of(await download(api, access_package_id)), "answer.json")
    async with seeded() as session:
        activity = (await session.scalars(select(Activity))).one()
        purposes = (await session.scalars(select(Purpose).order_by(Purpose.id))).all()
        scc_transfers = (await session.scalars(select(Transfer))).all()
    assert (document["format"], document["version"]) == ("registry.access-answer", 1)
    assert document["confirmation"]["your_data_is_processed"] is True
    assert document["request"]["made_to"]["name"] == "Mood Media Limited"
    assert document["request"]["made_to"]["contact"] == CONTACT
    (processing,) = document["processing"]
    assert processing["activity"] == activity.name
    assert processing["source"] == activity.source
    assert processing["automated_decisions"] == activity.automated_decisions
    # A customer's purposes rest on consent, and only on it (Art. 6(1)(a)).
    assert [p["purpose"] for p in processing["purposes"]] == [p.name for p in purposes]
    assert {b["basis"] for p in processing["purposes"] for b in p["legal_bases"]} == {
        "Art. 6(1)(a) consent"
    }
    voice = next(d for d in processing["personal_data"] if d["key"] == "user.voice.recording")
    assert voice["retention_days"] == 30
    assert not any(d["special_category"] for d in processing["personal_data"])
    recipients = processing["recipients"]
    assert "Mood Media Limited" in {e["name"] for e in recipients["joint_controllers"]}
    assert [e["name"] for e in recipients["processors"]] == ["Talkdesk Inc."]
    assert recipients["categories"] == activity.recipient_categories
    transfers = processing["transfers_outside_the_eea"]
    assert transfers, "the record has transfers to the US: the answer must name them"
    assert {t["destination_country"] for t in transfers} >= {"US"}
    with_scc = [t for t in transfers if t["scc_module"] is not None]
    assert len(scc_transfers) > 0 and with_scc
    assert {t["mechanism"] for t in with_scc} == {"standard contractual clauses (EU) 2021/914"}
    rights = {r["right"]: r for r in document["rights"]}
    assert {"access", "erasure", "complaint", "withdraw_consent", "portability"} <= set(rights)
    assert rights["complaint"]["article"] == "Art. 77"
    assert rights["no_automated_decisions"]["in_this_processing"] == activity.automated_decisions
    # R-DSR-1: customers too may object at any time (as the notice says at the call's start).
    assert "objection" in rights and "withdraws it" in rights["objection"]["description"]


async def test_r_dsr_1_an_agents_access_answer_names_legitimate_interests_and_objection(
    api: Api, seeded: Sessions, ring: KeyRing, blobs: LocalBlobStore, answered: Answered
) -> None:
    """R-DSR-1: an agents access answer names legitimate interests and objection."""
    request_id = await new_request(seeded, RequestKind.ACCESS, answered.agent_id)
    archive = archive_of(
        await download(api, await answer(seeded, ring, blobs, request_id, answered.agent_id))
    )
    document = json_member(archive, "answer.json")
    (processing,) = document["processing"]
    assert {b["basis"] for p in processing["purposes"] for b in p["legal_bases"]} == {
        "Art. 6(1)(f) legitimate interests"
    }
    rights = {r["right"] for r in document["rights"]}
    assert "objection" in rights and "withdraw_consent" not in rights
    data = json_member(archive, "data.json")
    assert {call["as"] for call in data["calls"]} == {"agent"}
    assert data["subject"]["user_id"] == "test-agent"
    for recording_id, audio in answered.audio.items():
        assert archive.read(audio_file_name(recording_id)) == audio


async def test_r_dsr_1_portability_is_json_of_the_identifiers_calls_and_consent_choices(
    api: Api, seeded: Sessions, ring: KeyRing, blobs: LocalBlobStore, answered: Answered
) -> None:
    """R-DSR-1: portability is json of the identifiers calls and consent choices."""
    request_id = await new_request(seeded, RequestKind.PORTABILITY, answered.subject_id)
    response = await download(
        api, await answer(seeded, ring, blobs, request_id, answered.subject_id)
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="portability-{request_id}.json"'
    )
    document = response.json()
    assert (document["format"], document["version"]) == ("registry.portability", 1)
    subject = document["subject"]
    assert (subject["name"], subject["phone"], subject["email"]) == (NAME, PHONE, EMAIL)
    assert [call["consent_choices"][0]["step"] for call in document["calls"]] == [
        "ivr_digit_1",
        "agent_recorded_yes",
        "ivr_digit_1",
    ]
    assert MARKER not in response.content


# ---------------------------------------------------------------- the arrangement (R-DSR-5)

CONFIDENTIAL_SUMMARY = (
    "The group companies decide together. [confidential]Costs are shared 60/40.[/confidential]"
    " Each answers requests. [CONFIDENTIAL]Liability cap: EUR 1m.\n[confidential]nested"
    "[/confidential] still secret[/Confidential] Talkdesk processes the recordings."
    " [confidential]Renegotiation planned for 2027"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("nothing marked", "nothing marked"),
        ("a [confidential]b[/confidential] c", "a [redacted] c"),
        ("a [ Confidential ]b\nb[/CONFIDENTIAL] c", "a [redacted] c"),
        ("a [confidential]b [confidential]c[/confidential] d[/confidential] e", "a [redacted] e"),
        ("a [confidential]never closed", "a [redacted]"),
        ("a [/confidential] b", "a  b"),
    ],
)
def test_r_dsr_5_each_part_marked_confidential_is_redacted(text: str, expected: str) -> None:
    """R-DSR-5: each part marked confidential is redacted."""
    assert answers.redact_confidential(text) == expected


async def test_r_dsr_5_the_arrangement_is_given_with_its_confidential_parts_redacted(
    api: Api, seeded: Sessions, ring: KeyRing, blobs: LocalBlobStore
) -> None:
    """R-DSR-5: the arrangement is given with its confidential parts redacted."""
    async with transaction(seeded) as session:
        activity = (await session.scalars(select(Activity))).one()
        activity.arrangement_summary = CONFIDENTIAL_SUMMARY
        joint = await session.scalars(
            select(Entity.legal_name)
            .join(ActivityParty, ActivityParty.entity_id == Entity.id)
            .where(ActivityParty.role == PartyRole.JOINT_CONTROLLER, Entity.retired_on.is_(None))
        )
        joint_names = sorted(joint.all())
    request_id = await new_request(seeded, RequestKind.ARRANGEMENT, None)
    response = await download(api, await answer(seeded, ring, blobs, request_id))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    document = response.json()
    (arrangement,) = document["arrangements"]
    assert arrangement["essence"] == (
        "The group companies decide together. [redacted] Each answers requests. [redacted]"
        " Talkdesk processes the recordings. [redacted]"
    )
    for secret in (b"60/40", b"Liability", b"nested", b"still secret", b"Renegotiation"):
        assert secret not in response.content
    assert sorted(e["name"] for e in arrangement["joint_controllers"]) == joint_names
    uk = next(e for e in arrangement["joint_controllers"] if e["name"] == "Mood Media Limited")
    assert (uk["country"], uk["contact"]) == ("GB", CONTACT)
    assert document["contact"] == CONTACT


# ---------------------------------------------------------------- at rest (R-ENC-1)


async def test_r_enc_1_a_package_keeps_neither_the_audio_nor_the_identifiers_in_clear(
    api: Api,
    engine: AsyncEngine,
    audit_log: AuditLog,
    seeded: Sessions,
    blobs: LocalBlobStore,
    tmp_path: Path,
    answered: Answered,
    access_package_id: str,
) -> None:
    """R-ENC-1: a package keeps neither the audio nor the identifiers in clear."""
    archive = archive_of(await download(api, access_package_id))
    # The package held them in clear, so the scans below would find them if kept so.
    assert MARKER in archive.read(audio_file_name(next(iter(answered.audio))))
    assert NAME.encode() in archive.read("data.json")
    needles = [MARKER, *IDENTIFIERS, b'"answer.json"', b"registry.subject-data"]
    record, audit = await every_value(engine), await every_value(audit_log.engine)
    files = every_file(tmp_path)
    assert await package_blob(seeded, blobs, access_package_id) in files
    assert holding(record, [access_package_id.encode()]) == [access_package_id.encode()]
    assert holding(record, needles) == []
    assert holding(audit, needles) == []
    assert {path: holding([data], needles) for path, data in files.items()} == {
        path: [] for path in files
    }


# ---------------------------------------------------------------- who may download (R-ACC-6)


async def test_r_acc_6_a_package_download_is_audited_and_counted(
    api: Api, audit_log: AuditLog, seeded: Sessions, access_package_id: str
) -> None:
    """R-ACC-6: a package download is audited and counted."""
    assert (await download(api, access_package_id)).status_code == 200
    (event,) = await events(audit_log, action="downloadPackage")
    assert (event.principal, event.outcome, event.target) == (
        handle_of(Role.PRIVACY_OFFICER),
        Outcome.ALLOWED,
        f"package:{access_package_id}",
    )
    assert await downloads_of(seeded, access_package_id) == 1


async def test_r_acc_6_nothing_is_sent_or_counted_when_the_download_cannot_be_audited(
    api: Api, audit_log: AuditLog, seeded: Sessions, access_package_id: str
) -> None:
    """R-ACC-6: nothing is sent or counted when the download cannot be audited."""
    await break_the_log(audit_log)
    response = await download(api, access_package_id)
    assert response.status_code == 503
    assert error_of(response)["code"] == "AUDIT_UNAVAILABLE"
    assert MARKER not in response.content and b"PK" not in response.content
    assert await events(audit_log, action="downloadPackage") == []
    assert await downloads_of(seeded, access_package_id) == 0


async def test_r_acc_6_only_roles_with_package_download_get_a_package(
    api: Api, audit_log: AuditLog, access_package_id: str
) -> None:
    """R-ACC-6: only roles with package download get a package."""
    for role in Role:
        response = await download(api, access_package_id, role=role)
        mine = await events(audit_log, principal=handle_of(role), action="downloadPackage")
        if role in POLICY[Action.PACKAGE_DOWNLOAD]:
            assert response.status_code == 200, (role, response.text)
            assert [e.outcome for e in mine] == [Outcome.ALLOWED]
        else:
            assert response.status_code == 403, (role, response.text)
            assert error_of(response)["code"] == "FORBIDDEN"
            assert MARKER not in response.content
            assert [(e.outcome, e.target) for e in mine] == [
                (Outcome.DENIED, f"package:{access_package_id}")
            ], role


async def test_r_acc_6_without_a_valid_token_nothing_is_sent_and_the_refusal_is_audited(
    api: Api, audit_log: AuditLog, access_package_id: str
) -> None:
    """R-ACC-6: without a valid token nothing is sent and the refusal is audited."""
    refused = [
        await api.client.get(f"/packages/{access_package_id}"),
        await api.client.get(f"/packages/{access_package_id}", headers=bearer("rgt_not-a-token")),
    ]
    for response in refused:
        assert response.status_code == 401, response.text
        assert error_of(response)["code"] == "UNAUTHENTICATED"
        assert MARKER not in response.content
    denied = await events(audit_log, principal="anonymous")
    assert [(e.action, e.outcome) for e in denied] == [("authenticate", Outcome.DENIED)] * 2


async def test_a_missing_package_is_not_found_and_an_expired_one_is_gone(
    api: Api,
    audit_log: AuditLog,
    frozen_clock: clock.FrozenClock,
    access_package_id: str,
) -> None:
    missing = await download(api, "no-such-package")
    assert (missing.status_code, error_of(missing)["code"]) == (404, "NOT_FOUND")
    frozen_clock.advance(timedelta(days=30))
    expired = await download(api, access_package_id)
    assert (expired.status_code, error_of(expired)["code"]) == (410, "PACKAGE_EXPIRED")
    assert MARKER not in expired.content
    outcomes = [e.outcome for e in await events(audit_log, action="downloadPackage")]
    assert outcomes == [Outcome.FAILED, Outcome.FAILED]


# ---------------------------------------------------------------- altered packages (R-ACC-4)


@pytest.mark.parametrize("damage", list(IN_THE_FIRST_BLOCK))
async def test_r_acc_4_a_package_altered_in_its_first_block_is_an_error_answer(
    api: Api, seeded: Sessions, blobs: LocalBlobStore, access_package_id: str, damage: str
) -> None:
    """R-ACC-4: a package altered in its first block is an error answer."""
    IN_THE_FIRST_BLOCK[damage](await package_blob(seeded, blobs, access_package_id))
    response = await download(api, access_package_id)
    assert response.status_code == 500
    assert error_of(response)["code"] == "PACKAGE_DAMAGED"
    assert MARKER not in response.content
    # A download that never started is not counted.
    assert await downloads_of(seeded, access_package_id) == 0


@pytest.mark.parametrize("damage", list(FURTHER_ON))
async def test_r_acc_4_a_package_altered_further_on_aborts_the_download(
    api: Api, seeded: Sessions, blobs: LocalBlobStore, access_package_id: str, damage: str
) -> None:
    """R-ACC-4: a package altered further on aborts the download."""
    FURTHER_ON[damage](await package_blob(seeded, blobs, access_package_id))
    with pytest.raises(CiphertextInvalid):
        await download(api, access_package_id)


async def test_r_acc_4_over_http_a_package_cut_off_cannot_pass_for_a_whole_one(
    api: Api,
    make_app: AppFactory,
    seeded: Sessions,
    blobs: LocalBlobStore,
    access_package_id: str,
) -> None:
    """R-ACC-4: over http a package cut off cannot pass for a whole one."""
    path = await package_blob(seeded, blobs, access_package_id)
    whole = path.stat().st_size
    flip(lambda size: size // 2)(path)
    async with served(make_app()) as url:
        length, body = await get_over_http_1_0(
            url, f"/packages/{access_package_id}", bearer(api.tokens[Role.PRIVACY_OFFICER])
        )
    assert sealed_blobs.audio_size(whole) == length > len(body)
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(body))


async def test_r_acc_4_one_packages_content_cannot_pass_for_anothers(
    api: Api, seeded: Sessions, ring: KeyRing, blobs: LocalBlobStore, answered: Answered
) -> None:
    """R-ACC-4: one packages content cannot pass for anothers."""
    first = await answer(seeded, ring, blobs, answered.request_id, answered.subject_id)
    second = await answer(seeded, ring, blobs, answered.request_id, answered.subject_id)
    (await package_blob(seeded, blobs, second)).write_bytes(
        (await package_blob(seeded, blobs, first)).read_bytes()
    )
    response = await download(api, second)
    assert (response.status_code, error_of(response)["code"]) == (500, "PACKAGE_DAMAGED")


async def test_r_acc_4_open_package_raises_where_the_content_proves_false(
    seeded: Sessions, ring: KeyRing, blobs: LocalBlobStore, access_package_id: str
) -> None:
    """R-ACC-4: open package raises where the content proves false."""
    cut(lambda size: size - 1)(await package_blob(seeded, blobs, access_package_id))
    async with transaction(seeded) as session:
        _, content = await open_package(
            session=session, actor=SYSTEM, ring=ring, blobs=blobs, package_id=access_package_id
        )
        with pytest.raises(CiphertextInvalid):
            async for _ in content:
                pass


# ---------------------------------------------------------------- building


async def single(body: bytes) -> AsyncIterator[bytes]:
    yield body


async def test_a_package_is_built_whole_or_not_at_all(
    seeded: Sessions, ring: KeyRing, blobs: LocalBlobStore, answered: Answered
) -> None:
    before = sorted(blobs.root.iterdir())
    damaged = next(iter(answered.audio))
    async with seeded() as session:
        recordings = list((await session.scalars(select(Recording))).all())
    flip(lambda size: size // 2)(blobs.root / f"{damaged}.sealed")
    with pytest.raises(CiphertextInvalid):
        async with transaction(seeded) as session:
            await build_package(
                session=session,
                actor=SYSTEM,
                ring=ring,
                blobs=blobs,
                kind=PackageKind.ACCESS,
                file_name="broken.zip",
                media_type="application/zip",
                entries=audio_entries(ring=ring, blobs=blobs, recordings=recordings),
            )
    assert sorted(blobs.root.iterdir()) == before
    async with seeded() as session:
        assert (await session.scalars(select(Package))).all() == []


@pytest.mark.parametrize(
    ("names", "zipped"),
    [
        (["../escape.json"], True),
        (["/absolute.json"], True),
        (["a//b.json"], True),
        (["twice.json", "twice.json"], True),
        (["one.json", "two.json"], False),
        ([], False),
    ],
)
async def test_a_package_refuses_entries_that_would_not_unpack_safely(
    seeded: Sessions, ring: KeyRing, blobs: LocalBlobStore, names: list[str], zipped: bool
) -> None:
    entries = [Entry(name, lambda: single(b"{}")) for name in names]
    async with seeded() as session:
        with pytest.raises(ValueError):
            await build_package(
                session=session,
                actor=SYSTEM,
                ring=ring,
                blobs=blobs,
                kind=PackageKind.PORTABILITY,
                file_name="answer.json",
                media_type="application/json",
                entries=entries,
                zipped=zipped,
            )
    assert list(blobs.root.iterdir()) == []


async def test_only_the_privacy_team_builds_a_package(
    seeded: Sessions, ring: KeyRing, blobs: LocalBlobStore
) -> None:
    qa = Actor(handle="qa", roles=frozenset({Role.QA_SPECIALIST}))
    async with seeded() as session:
        for kind in PackageKind:
            with pytest.raises(Forbidden):
                await build_package(
                    session=session,
                    actor=qa,
                    ring=ring,
                    blobs=blobs,
                    kind=kind,
                    file_name="x.json",
                    media_type="application/json",
                    entries=[Entry("x.json", lambda: single(b"{}"))],
                    zipped=False,
                )


async def store_recordings(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore, count: int, size: int
) -> list[Recording]:
    """``count`` recordings of ``size`` bytes each, never whole in memory."""

    async def audio() -> AsyncIterator[bytes]:
        piece = b"\x5a" * (64 * 1024)
        for _ in range(size // len(piece)):
            yield piece

    made = []
    call_id = await consented_call(scene)
    for _ in range(count):
        async with transaction(scene.sessions) as session:
            made.append(
                await storage.store(
                    session=session,
                    actor=SYSTEM,
                    ring=ring,
                    blobs=blobs,
                    call_id=call_id,
                    segment=Segment.FULL,
                    audio=audio(),
                )
            )
    return made


async def peak_memory_of_a_package(
    sessions: Sessions, ring: KeyRing, blobs: LocalBlobStore, recordings: list[Recording]
) -> tuple[int, str]:
    entries = audio_entries(ring=ring, blobs=blobs, recordings=recordings)
    tracemalloc.start()
    try:
        async with transaction(sessions) as session:
            package = await build_package(
                session=session,
                actor=SYSTEM,
                ring=ring,
                blobs=blobs,
                kind=PackageKind.DISCLOSURE,
                file_name="many.zip",
                media_type="application/zip",
                entries=entries,
            )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak, package.id


async def test_a_package_of_many_recordings_is_built_in_flat_memory(
    seeded: Sessions, scene: Scene, ring: KeyRing, blobs: LocalBlobStore
) -> None:
    recordings = await store_recordings(scene, ring, blobs, 16, 1 * MiB)
    # The first run also traces one-off costs (worker threads, caches): leave them out.
    await peak_memory_of_a_package(seeded, ring, blobs, recordings[:1])
    small, _ = await peak_memory_of_a_package(seeded, ring, blobs, recordings[:4])
    large, package_id = await peak_memory_of_a_package(seeded, ring, blobs, recordings)
    # Four times the audio (16 MiB), the same peak: a few 256 KiB blocks in flight.
    assert large < 4 * MiB, large
    assert large < small + 256 * 1024, (small, large)

    # And the archive holds every recording whole.
    digest = hashlib.sha256()
    async with transaction(seeded) as session:
        _, content = await open_package(
            session=session, actor=SYSTEM, ring=ring, blobs=blobs, package_id=package_id
        )
        archive = io.BytesIO()
        async for block in content:
            archive.write(block)
    with zipfile.ZipFile(archive) as unpacked:
        assert len(unpacked.namelist()) == 16
        for name in unpacked.namelist():
            with unpacked.open(name) as member:
                while piece := member.read(MiB):
                    digest.update(piece)
    expected = hashlib.sha256(b"\x5a" * (16 * MiB)).hexdigest()
    assert digest.hexdigest() == expected
