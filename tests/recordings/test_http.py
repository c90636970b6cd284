"""The audio routes through the real app: sealed at rest (R-ENC-1), handed only to the right
people for the right purposes (R-ACC-1, R-ACC-3, R-ACC-4, R-CON-4), audited before a byte
leaves (R-ACC-6), stored only with consent (R-CON-3), and never handed out altered (R-ACC-4).
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import uvicorn
from sqlalchemy import event, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from registry import clock
from registry.access import service as access
from registry.access.policy import Role
from registry.access.service import Actor
from registry.app import build_app
from registry.audit.models import AuditEvent, Outcome
from registry.audit.service import AuditLog
from registry.blobs import LocalBlobStore
from registry.crypto import CiphertextInvalid, KeyRing
from registry.db import transaction
from registry.recordings.models import (
    Call,
    PendingUpload,
    Recording,
    SeparateConsent,
)
from registry.sealed_blobs import BLOCK_BYTES
from registry.settings import Settings
from tests.audit.test_graphql import break_the_log
from tests.conftest import NOW, Api, AppFactory, client_of, issue_role_tokens
from tests.recordings.conftest import chunks

SYSTEM = Actor.system("test")
Sessions = async_sessionmaker[AsyncSession]

# A recognisable pattern: any stretch of the audio kept in clear would show the marker.
MARKER = b"plain-audio-marker:"
# Four blocks or more, so that damage in its middle lies past the first block.
AUDIO = b"".join(MARKER + b"%07d|" % n for n in range(4 * BLOCK_BYTES // 20))
UPLOAD_CHUNK = 50_000
NAME, PHONE, EMAIL = "Sample Caller", "+44 20 7946 0123", "sample.caller@example.test"
# As they were given, and as a careless store might normalise them.
IDENTIFIERS = [
    NAME.encode(),
    NAME.lower().encode(),
    PHONE.encode(),
    b"+442079460123",
    b"442079460123",
    EMAIL.encode(),
]
# R-ACC-1: those who verify and evaluate calls; nobody else hears a recording.
LISTENERS = frozenset({Role.QA_SPECIALIST, Role.SUPERVISOR})
PURPOSES = ("quality-control", "employee-evaluation", "training")

REGISTER_SUBJECT = """mutation ($input: SubjectInput!) {
  registerSubject(input: $input) { subject { id } errors { __typename message } } }"""
REGISTER_CALL = """mutation ($input: CallInput!) {
  registerCall(input: $input) { call { id } errors { __typename message } } }"""
WITHDRAW = """mutation ($call: String!) {
  withdrawConsent(call: $call) { errors { __typename message } } }"""
PLACE_HOLD = """mutation ($recording: String!, $justification: String!, $endsOn: Date!) {
  placeLegalHold(recording: $recording, ground: LEGAL_CLAIMS, justification: $justification,
    endsOn: $endsOn) { errors { __typename message } } }"""
IVR_CHOICE = """mutation ($call: String!, $digit: String!) {
  recordIvrChoice(call: $call, digit: $digit) { call { consent } errors { __typename message } } }"""


# ---------------------------------------------------------------- helpers


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def new_call(api: Api, *, digit: str | None = "1") -> str:
    """An inbound call, registered as call-centre tooling does; ``digit`` is the caller's answer."""
    it = Role.IT_OPERATOR
    subject = {"kind": "CUSTOMER", "name": NAME, "phone": PHONE, "email": EMAIL}
    registered = await api.data(REGISTER_SUBJECT, {"input": subject}, role=it)
    assert registered["registerSubject"]["errors"] == []
    call = {
        "direction": "INBOUND",
        "company": "mood-media-uk",
        "customer": registered["registerSubject"]["subject"]["id"],
        "customerCountry": "GB",
    }
    made = (await api.data(REGISTER_CALL, {"input": call}, role=it))["registerCall"]
    assert made["errors"] == []
    call_id: str = made["call"]["id"]
    if digit is not None:
        answered = await api.data(IVR_CHOICE, {"call": call_id, "digit": digit}, role=it)
        assert answered["recordIvrChoice"]["errors"] == []
    return call_id


async def upload(api: Api, call_id: str, audio: bytes = AUDIO) -> httpx.Response:
    """As call-centre tooling (IT) does, in a streamed body: httpx sends it chunked."""
    headers = {**bearer(api.tokens[Role.IT_OPERATOR]), "Content-Type": "audio/wav"}
    return await api.client.put(
        f"/calls/{call_id}/audio/full", content=chunks(audio, UPLOAD_CHUNK), headers=headers
    )


async def download(
    api: Api,
    recording_id: str,
    *,
    purpose: str | None = "quality-control",
    role: Role = Role.QA_SPECIALIST,
    token: str | None = None,
) -> httpx.Response:
    params = {} if purpose is None else {"purpose": purpose}
    headers = bearer(token or api.tokens[role])
    return await api.client.get(f"/recordings/{recording_id}/audio", params=params, headers=headers)


def handle_of(role: Role) -> str:
    return f"test-{role.value.replace('_', '-')}"


async def events(log: AuditLog, **match: Any) -> list[AuditEvent]:
    found = await log.events(actor=SYSTEM, after_seq=0, limit=1000)
    return [e for e in found if all(getattr(e, k) == v for k, v in match.items())]


def error_of(response: httpx.Response) -> dict[str, str]:
    error: dict[str, str] = response.json()["error"]
    return error


async def blob_path(sessions: Sessions, blobs: LocalBlobStore, recording_id: str) -> Path:
    async with sessions() as session:
        recording = await session.get_one(Recording, recording_id)
    return blobs.root / recording.blob_key


def stored_files(blobs: LocalBlobStore) -> list[Path]:
    """Everything in the blob folder, temp files included."""
    return sorted(blobs.root.rglob("*"))


@pytest_asyncio.fixture
async def recording_id(api: Api) -> str:
    response = await upload(api, await new_call(api))
    assert response.status_code == 201, response.text
    recording: str = response.json()["id"]
    return recording


# ---------------------------------------------------------------- up and down


async def test_an_upload_streams_in_and_a_download_gives_back_exactly_its_bytes(
    api: Api, seeded: Sessions, blobs: LocalBlobStore, audit_log: AuditLog
) -> None:
    call_id = await new_call(api)
    response = await upload(api, call_id)
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id", "size", "expiresAt"}
    # R-RET-1: thirty days from when the call was made.
    assert body["expiresAt"] == (NOW + timedelta(days=30)).isoformat()
    path = await blob_path(seeded, blobs, body["id"])
    assert body["size"] == path.stat().st_size > len(AUDIO)
    async with seeded() as session:
        recording = await session.get_one(Recording, body["id"])
    assert recording.call_id == call_id

    listened = await download(api, body["id"])
    assert listened.status_code == 200, listened.text
    assert listened.headers["content-type"] == "application/octet-stream"
    assert listened.headers["content-length"] == str(len(AUDIO))
    assert listened.content == AUDIO

    (uploaded,) = await events(audit_log, action="recording.upload")
    assert (uploaded.principal, uploaded.outcome, uploaded.target) == (
        handle_of(Role.IT_OPERATOR),
        Outcome.ALLOWED,
        f"recording:{body['id']}",
    )


async def test_a_download_announces_the_length_of_the_audio_whatever_its_size(api: Api) -> None:
    call_id = await new_call(api)
    # Around the sealing's 16 KiB chunks and the blocks a download opens at a time.
    sizes = [1, 16_383, 16_384, 16_385, 3 * 16_384, BLOCK_BYTES, BLOCK_BYTES + 1]
    for size in sizes:
        audio = AUDIO[:size]
        response = await upload(api, call_id, audio)
        assert response.status_code == 201, response.text
        listened = await download(api, response.json()["id"])
        assert listened.status_code == 200, (size, listened.text)
        assert (listened.headers["content-length"], listened.content) == (str(size), audio)


async def test_r_acc_6_a_download_is_audited_with_who_what_and_its_purpose(
    api: Api, audit_log: AuditLog, recording_id: str
) -> None:
    """R-ACC-6: a download is audited with who what and its purpose."""
    assert (await download(api, recording_id, purpose="training")).status_code == 200
    (event,) = await events(audit_log, action="recording.download")
    assert (event.principal, event.outcome, event.target, event.purpose) == (
        handle_of(Role.QA_SPECIALIST),
        Outcome.ALLOWED,
        f"recording:{recording_id}",
        "training",
    )


async def test_r_acc_6_no_audio_leaves_when_the_download_cannot_be_audited(
    api: Api, audit_log: AuditLog, recording_id: str
) -> None:
    """R-ACC-6: no audio leaves when the download cannot be audited."""
    await break_the_log(audit_log)
    response = await download(api, recording_id)
    assert response.status_code == 503
    assert error_of(response)["code"] == "AUDIT_UNAVAILABLE"
    assert MARKER not in response.content
    assert await events(audit_log, action="recording.download") == []


# ---------------------------------------------------------------- at rest (R-ENC-1)


async def every_value(engine: AsyncEngine) -> list[bytes]:
    """Every column of every row of every table, as bytes (text as UTF-8, the rest as str())."""
    async with engine.connect() as connection:
        tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        assert tables, "no tables: the scan would prove nothing"
        found = []
        for table in tables:
            quoted = engine.dialect.identifier_preparer.quote(table)
            for row in await connection.execute(text(f"SELECT * FROM {quoted}")):
                found += [as_bytes(value) for value in row if value is not None]
    return found


def as_bytes(value: object) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode()


def every_file(folder: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def holding(haystacks: list[bytes], needles: list[bytes]) -> list[bytes]:
    return [needle for needle in needles if any(needle in hay for hay in haystacks)]


async def test_r_enc_1_neither_the_audio_nor_the_callers_identifiers_are_kept_in_clear(
    api: Api,
    engine: AsyncEngine,
    audit_log: AuditLog,
    seeded: Sessions,
    blobs: LocalBlobStore,
    tmp_path: Path,
    recording_id: str,
) -> None:
    """R-ENC-1: neither the audio nor the callers identifiers are kept in clear."""
    assert (await download(api, recording_id)).status_code == 200
    needles = [MARKER, *IDENTIFIERS]
    record, audit = await every_value(engine), await every_value(audit_log.engine)
    # Every file of the test: the blob folder, and on SQLite the record's and the audit
    # log's database files with their journals.
    files = every_file(tmp_path)
    assert await blob_path(seeded, blobs, recording_id) in files
    # The scans see what is kept in clear, so they would see the audio if it were there.
    assert holding(record, [recording_id.encode()]) == [recording_id.encode()]
    assert holding(audit, [b"recording.download"]) == [b"recording.download"]
    assert holding(record, needles) == []
    assert holding(audit, needles) == []
    assert {path: holding([data], needles) for path, data in files.items()} == {
        path: [] for path in files
    }


# ---------------------------------------------------------------- who and why (R-ACC, R-CON-4)


async def test_r_acc_1_r_acc_4_only_qa_specialists_and_supervisors_download(
    api: Api, audit_log: AuditLog, recording_id: str
) -> None:
    """R-ACC-1: r acc 4 only qa specialists and supervisors download."""
    for role in Role:
        response = await download(api, recording_id, role=role)
        mine = await events(audit_log, principal=handle_of(role), action="recording.download")
        if role in LISTENERS:
            assert response.status_code == 200, (role, response.text)
            assert response.content == AUDIO
            assert [e.outcome for e in mine] == [Outcome.ALLOWED]
        else:
            assert response.status_code == 403, (role, response.text)
            assert error_of(response)["code"] == "FORBIDDEN"
            assert MARKER not in response.content
            assert [(e.outcome, e.target) for e in mine] == [
                (Outcome.DENIED, f"recording:{recording_id}")
            ], role


async def test_r_acc_3_a_qa_specialist_without_training_on_record_is_refused(
    api: Api, seeded: Sessions, audit_log: AuditLog, recording_id: str
) -> None:
    committed = NOW.date() - timedelta(days=30)
    # Not trained at all, and trained only in the future: neither is training done.
    for handle, trained_on in (
        ("qa-untrained", None),
        ("qa-trained-later", NOW.date() + timedelta(days=1)),
    ):
        async with transaction(seeded) as session:
            await access.create_principal(
                session=session,
                actor=SYSTEM,
                handle=handle,
                display_name=handle,
                roles=[Role.QA_SPECIALIST],
                confidentiality_committed_on=committed,
                trained_on=trained_on,
            )
            token, _ = await access.issue_token(
                session=session, actor=SYSTEM, handle=handle, label="test"
            )
        response = await download(api, recording_id, token=token)
        assert response.status_code == 422, response.text
        assert error_of(response)["ruleId"] == "R-ACC-3"
        assert MARKER not in response.content
        mine = await events(audit_log, principal=handle)
        assert [(e.action, e.outcome) for e in mine] == [("recording.download", Outcome.DENIED)]


async def test_r_con_4_a_purpose_outside_the_activity_needs_the_callers_separate_consent(
    api: Api, seeded: Sessions, recording_id: str
) -> None:
    for purpose in PURPOSES:
        response = await download(api, recording_id, purpose=purpose)
        assert (response.status_code, response.content) == (200, AUDIO), purpose
    for outside in ("marketing", "", None):
        response = await download(api, recording_id, purpose=outside)
        assert response.status_code == 422, (outside, response.text)
        assert error_of(response)["ruleId"] == "R-CON-4"
        assert MARKER not in response.content

    async with transaction(seeded) as session:
        recording = await session.get_one(Recording, recording_id)
        call = await session.get_one(Call, recording.call_id)
        consent = SeparateConsent(
            subject_id=call.customer_id, purpose="marketing", given_at=clock.now()
        )
        session.add(consent)
    response = await download(api, recording_id, purpose="marketing")
    assert (response.status_code, response.content) == (200, AUDIO)

    # Withdrawn, it no longer opens the recording to that purpose.
    async with transaction(seeded) as session:
        (await session.get_one(SeparateConsent, consent.id)).withdrawn_at = clock.now()
    response = await download(api, recording_id, purpose="marketing")
    assert response.status_code == 422
    assert error_of(response)["ruleId"] == "R-CON-4"


async def test_r_acc_6_an_unauthenticated_caller_gets_nothing_and_is_audited(
    api: Api, audit_log: AuditLog, blobs: LocalBlobStore, recording_id: str
) -> None:
    """R-ACC-6: an unauthenticated caller gets nothing and is audited."""
    before = stored_files(blobs)
    call_id = await new_call(api)
    refused = [
        await api.client.get(f"/recordings/{recording_id}/audio?purpose=quality-control"),
        await download(api, recording_id, token="rgt_not-a-token"),
        await api.client.put(f"/calls/{call_id}/audio/full", content=chunks(AUDIO)),
    ]
    for response in refused:
        assert response.status_code == 401, response.text
        assert error_of(response)["code"] == "UNAUTHENTICATED"
        assert MARKER not in response.content
    assert stored_files(blobs) == before
    denied = await events(audit_log, principal="anonymous")
    assert [(e.action, e.outcome) for e in denied] == [("authenticate", Outcome.DENIED)] * 3


async def test_a_refused_callers_token_use_is_kept_though_the_route_rolls_back(
    api: Api, seeded: Sessions, frozen_clock: clock.FrozenClock
) -> None:
    call_id = await new_call(api)
    frozen_clock.advance(timedelta(minutes=5))
    # The token is checked in the upload's own transaction, which the refusal rolls back.
    auditor = bearer(api.tokens[Role.SECURITY_AUDITOR])
    response = await api.client.put(
        f"/calls/{call_id}/audio/full", content=chunks(AUDIO), headers=auditor
    )
    assert response.status_code == 403, response.text
    async with seeded() as session:
        (token,) = await access.list_tokens(
            session=session, actor=SYSTEM, handle=handle_of(Role.SECURITY_AUDITOR)
        )
    assert token.last_used_at == NOW + timedelta(minutes=5)


async def test_a_download_is_one_transaction_on_the_record_token_check_included(
    api: Api, engine: AsyncEngine, recording_id: str
) -> None:
    # The first use of the token in a minute is kept at once, in a transaction of its own.
    assert (await download(api, recording_id)).status_code == 200
    begun: list[object] = []

    def count(connection: object) -> None:
        begun.append(connection)

    event.listen(engine.sync_engine, "begin", count)
    try:
        assert (await download(api, recording_id)).status_code == 200
    finally:
        event.remove(engine.sync_engine, "begin", count)
    assert len(begun) == 1


async def test_on_postgresql_the_reads_and_the_pending_row_are_autocommitted(
    api: Api, engine: AsyncEngine, recording_id: str
) -> None:
    # Each one statement: a BEGIN and an end around them would be two more round trips.
    # The upload's recording and its audit stay one transaction (checked apart, above).
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite keeps its transaction, and with it its write lock")
    assert (await download(api, recording_id)).status_code == 200
    call_id = await new_call(api)
    levels: dict[str, set[str]] = {}

    def note(connection: Any, _cursor: object, statement: str, *_args: object) -> None:
        level = connection.get_execution_options().get("isolation_level", "transaction")
        levels.setdefault(statement.split()[0].upper(), set()).add(level)

    event.listen(engine.sync_engine, "before_cursor_execute", note)
    try:
        assert (await download(api, recording_id)).status_code == 200
        assert levels == {"SELECT": {"AUTOCOMMIT"}}
        levels.clear()
        assert (await upload(api, call_id)).status_code == 201
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", note)
    # The token and the rules, then the pending row; then, in one transaction, the call
    # locked, the pending row swapped for the recording.
    assert levels["SELECT"] == {"AUTOCOMMIT", "transaction"}
    assert levels["INSERT"] == {"AUTOCOMMIT", "transaction"}
    assert levels["DELETE"] == {"transaction"}


# ---------------------------------------------------------------- consent to record (R-CON-3)


async def test_r_con_3_an_upload_without_consent_is_refused_and_stores_nothing(
    api: Api, seeded: Sessions, blobs: LocalBlobStore, audit_log: AuditLog
) -> None:
    for digit in (None, "2"):
        call_id = await new_call(api, digit=digit)
        response = await upload(api, call_id)
        assert response.status_code == 422, response.text
        assert error_of(response)["ruleId"] == "R-CON-3"
        async with seeded() as session:
            kept = await session.scalars(select(Recording.id).where(Recording.call_id == call_id))
            assert kept.all() == []
    assert stored_files(blobs) == []
    refusals = await events(audit_log, action="recording.upload")
    # A refusal under a rule is DENIED, as the policy's are (R-ACC-6).
    assert [e.outcome for e in refusals] == [Outcome.DENIED] * 2


# ---------------------------------------------------------------- altered ciphertext (R-ACC-4)


def flip(at: Callable[[int], int]) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        data = bytearray(path.read_bytes())
        data[at(len(data))] ^= 0x01
        path.write_bytes(data)

    return damage


def cut(keep: Callable[[int], int]) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        with path.open("r+b") as file:
            file.truncate(keep(path.stat().st_size))

    return damage


# An altered recording is never handed out as audio: the sealing authenticates every chunk.
# A download opens its first block of audio before it answers, so damage there is an error
# answer; past it, the answer has begun and can only be broken off.
IN_THE_FIRST_BLOCK = {
    "a byte of the header flipped": flip(lambda _: 10),
    "a byte of the first chunk flipped": flip(lambda _: 1_000),
    "cut inside the first chunk": cut(lambda _: 1_000),
    "cut to nothing": cut(lambda _: 0),
    "gone from the store": Path.unlink,
}
FURTHER_ON = {
    "a byte in the middle flipped": flip(lambda size: size // 2),
    "a byte of the last tag flipped": flip(lambda size: size - 1),
    "cut in the middle": cut(lambda size: size // 2),
    "the last byte cut off": cut(lambda size: size - 1),
}


@pytest.mark.parametrize("damage", list(IN_THE_FIRST_BLOCK))
async def test_r_acc_4_an_altered_first_block_is_an_error_answer_and_no_audio(
    api: Api, seeded: Sessions, blobs: LocalBlobStore, recording_id: str, damage: str
) -> None:
    """R-ACC-4: an altered first block is an error answer and no audio."""
    IN_THE_FIRST_BLOCK[damage](await blob_path(seeded, blobs, recording_id))
    response = await download(api, recording_id)
    assert response.status_code == 500
    assert error_of(response)["code"] == "RECORDING_DAMAGED"
    assert MARKER not in response.content


async def test_r_acc_4_a_recorded_size_no_sealing_gives_is_an_error_answer(
    api: Api, seeded: Sessions, recording_id: str
) -> None:
    """R-ACC-4: a recorded size no sealing gives is an error answer."""
    async with transaction(seeded) as session:
        (await session.get_one(Recording, recording_id)).size = 71
    response = await download(api, recording_id)
    assert response.status_code == 500
    assert error_of(response)["code"] == "RECORDING_DAMAGED"
    assert MARKER not in response.content


@pytest.mark.parametrize("damage", list(FURTHER_ON))
async def test_r_acc_4_alteration_further_on_aborts_the_download_instead_of_ending_it(
    api: Api, seeded: Sessions, blobs: LocalBlobStore, recording_id: str, damage: str
) -> None:
    """R-ACC-4: alteration further on aborts the download instead of ending it."""
    FURTHER_ON[damage](await blob_path(seeded, blobs, recording_id))
    # In-process, the aborted answer is the app's error reaching the client; over the wire
    # it is a connection closed mid-body (see the next test). Never a clean, short 200.
    with pytest.raises(CiphertextInvalid):
        await download(api, recording_id)


@asynccontextmanager
async def served(app: Starlette) -> AsyncIterator[str]:
    """The app under uvicorn on a loopback port of its own, as `registry serve` runs it."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, lifespan="off", log_config=None, access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        while not server.started:
            assert not task.done(), "the server did not start"
            await asyncio.sleep(0.01)
        host, port = listener.getsockname()
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        await task
        listener.close()


async def get_over_http_1_0(url: str, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    """The announced Content-Length and the body, read until the server closes."""
    server = httpx.URL(url)
    assert server.port is not None
    reader, writer = await asyncio.open_connection(server.host, server.port)
    lines = [f"GET {path} HTTP/1.0", f"Host: {server.host}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    status, *fields = head.decode().split("\r\n")
    assert status.split()[1] == "200", status
    announced = dict(field.lower().split(": ", 1) for field in fields)
    return int(announced["content-length"]), body


@pytest.mark.parametrize("damage", list(FURTHER_ON))
async def test_r_acc_4_over_http_a_download_cut_off_cannot_pass_for_a_whole_one(
    api: Api,
    make_app: AppFactory,
    seeded: Sessions,
    blobs: LocalBlobStore,
    recording_id: str,
    damage: str,
) -> None:
    """R-ACC-4: over http a download cut off cannot pass for a whole one."""
    FURTHER_ON[damage](await blob_path(seeded, blobs, recording_id))
    received = bytearray()
    async with served(make_app()) as url, httpx.AsyncClient(base_url=url) as client:
        path = f"/recordings/{recording_id}/audio?purpose=quality-control"
        headers = bearer(api.tokens[Role.QA_SPECIALIST])
        async with client.stream("GET", path, headers=headers) as response:
            assert response.status_code == 200
            with pytest.raises(httpx.RemoteProtocolError):
                async for piece in response.aiter_bytes():
                    received += piece
        # An HTTP/1.0 client, or a proxy speaking it upstream (nginx does by default),
        # has no chunked framing: the announced length is what shows the cut.
        length, body = await get_over_http_1_0(url, path, headers)
    # What came before the damage is authentic audio, and visibly not all of it.
    assert len(received) < len(AUDIO)
    assert AUDIO.startswith(received)
    assert length == len(AUDIO) > len(body)
    assert AUDIO.startswith(body)


# ---------------------------------------------------------------- uploads under way


async def nothing_kept_of(seeded: Sessions, blobs: LocalBlobStore, call_id: str) -> None:
    """No recording, no pending upload and no file (temp files included) of the call."""
    async with seeded() as session:
        kept = await session.scalars(select(Recording.id).where(Recording.call_id == call_id))
        assert kept.all() == []
        pending = await session.scalars(
            select(PendingUpload.recording_id).where(PendingUpload.call_id == call_id)
        )
        assert pending.all() == []
    assert stored_files(blobs) == []


async def test_r_con_3_a_withdrawal_committed_during_an_upload_leaves_no_active_recording(
    api: Api, seeded: Sessions, blobs: LocalBlobStore, audit_log: AuditLog
) -> None:
    call_id = await new_call(api)
    halfway, withdrawn = asyncio.Event(), asyncio.Event()

    async def slow_audio() -> AsyncIterator[bytes]:
        yield AUDIO[:UPLOAD_CHUNK]
        halfway.set()
        await withdrawn.wait()
        yield AUDIO[UPLOAD_CHUNK:]

    headers = {**bearer(api.tokens[Role.IT_OPERATOR]), "Content-Type": "audio/wav"}
    sending = asyncio.create_task(
        api.client.put(f"/calls/{call_id}/audio/full", content=slow_audio(), headers=headers)
    )
    await asyncio.wait_for(halfway.wait(), timeout=30)
    body = await api.data(WITHDRAW, {"call": call_id})
    assert body["withdrawConsent"]["errors"] == []
    withdrawn.set()
    response = await sending
    assert response.status_code == 422, response.text
    assert error_of(response)["ruleId"] == "R-CON-3"
    await nothing_kept_of(seeded, blobs, call_id)
    (refusal,) = await events(audit_log, action="recording.upload")
    assert refusal.outcome is Outcome.DENIED


@pytest.mark.parametrize(
    ("content_type", "body", "status", "code"),
    [
        ("text/plain", AUDIO, 415, "UNSUPPORTED_MEDIA_TYPE"),
        ("application/pdf", AUDIO, 415, "UNSUPPORTED_MEDIA_TYPE"),
        ("audio/wav", b"", 400, "INVALID_INPUT"),
        ("audio/wav", AUDIO + AUDIO, 413, "TOO_LARGE"),
    ],
)
@pytest.mark.parametrize("streamed", [True, False])
async def test_upload_limits_a_refused_upload_is_a_typed_4xx_and_stores_nothing(
    make_app: AppFactory,
    seeded: Sessions,
    blobs: LocalBlobStore,
    content_type: str,
    body: bytes,
    status: int,
    code: str,
    streamed: bool,
) -> None:
    tokens = await issue_role_tokens(seeded)
    async with client_of(make_app(max_upload_bytes=len(AUDIO))) as client:
        call_id = await new_call(Api(client, tokens))
        headers = {**bearer(tokens[Role.IT_OPERATOR]), "Content-Type": content_type}
        # Streamed, the size shows as the body comes; sent whole, its Content-Length says it.
        content = chunks(body, UPLOAD_CHUNK) if streamed else body
        response = await client.put(
            f"/calls/{call_id}/audio/full", content=content, headers=headers
        )
    assert response.status_code == status, response.text
    assert error_of(response)["code"] == code
    assert error_of(response)["requestId"] == response.headers["X-Request-ID"]
    await nothing_kept_of(seeded, blobs, call_id)


async def test_an_upload_as_large_as_the_limit_is_kept(
    make_app: AppFactory, seeded: Sessions
) -> None:
    tokens = await issue_role_tokens(seeded)
    async with client_of(make_app(max_upload_bytes=len(AUDIO))) as client:
        api = Api(client, tokens)
        response = await upload(api, await new_call(api))
    assert response.status_code == 201, response.text


async def test_an_upload_that_fails_unexpectedly_is_masked_audited_and_leaves_nothing(
    api: Api, seeded: Sessions, blobs: LocalBlobStore, audit_log: AuditLog
) -> None:
    call_id = await new_call(api)
    # The blob folder gone, as on a disk unmounted under the server.
    blobs.root.rmdir()
    response = await upload(api, call_id)
    blobs.root.mkdir()
    assert response.status_code == 500
    error = error_of(response)
    assert (error["code"], error["message"]) == ("INTERNAL", "Unexpected error.")
    assert error["requestId"] == response.headers["X-Request-ID"]
    await nothing_kept_of(seeded, blobs, call_id)
    (failed,) = await events(audit_log, action="recording.upload")
    assert (failed.outcome, failed.request_id) == (Outcome.FAILED, error["requestId"])
    assert failed.principal == handle_of(Role.IT_OPERATOR)


async def test_a_token_check_that_fails_unexpectedly_is_masked_and_audited_on_every_route(
    api: Api, engine: AsyncEngine, audit_log: AuditLog, recording_id: str
) -> None:
    async with engine.begin() as connection:
        await connection.execute(text("ALTER TABLE api_token RENAME TO api_token_gone"))
    token = bearer(api.tokens[Role.QA_SPECIALIST])
    answers = [
        await download(api, recording_id),
        await api.client.put(f"/calls/{uuid.uuid4()}/audio/full", content=AUDIO, headers=token),
        await api.client.get(f"/packages/{uuid.uuid4()}", headers=token),
    ]
    for response in answers:
        assert response.status_code == 500, response.text
        error = error_of(response)
        assert (error["code"], error["message"]) == ("INTERNAL", "Unexpected error.")
        assert error["requestId"] == response.headers["X-Request-ID"]
    failed = await events(audit_log, principal="anonymous", outcome=Outcome.FAILED)
    assert [e.action for e in failed] == [
        "recording.download",
        "recording.upload",
        "downloadPackage",
    ]
    assert [e.request_id for e in failed] == [r.headers["X-Request-ID"] for r in answers]


# ---------------------------------------------------------------- downloads that fail


async def test_a_download_of_damaged_audio_is_audited_as_failed_with_its_reason(
    api: Api, seeded: Sessions, blobs: LocalBlobStore, audit_log: AuditLog, recording_id: str
) -> None:
    flip(lambda _: 1_000)(await blob_path(seeded, blobs, recording_id))
    response = await download(api, recording_id)
    assert response.status_code == 500
    assert error_of(response)["requestId"] == response.headers["X-Request-ID"]
    (entry,) = await events(audit_log, action="recording.download")
    assert entry.outcome is Outcome.FAILED
    assert entry.detail == {
        "code": "RECORDING_DAMAGED",
        "reason": "the content does not authenticate",
    }
    assert entry.request_id == response.headers["X-Request-ID"]


async def test_a_download_the_key_ring_has_no_key_for_is_a_typed_error_audited_as_failed(
    api: Api,
    database_url: str,
    audit_url: str,
    engine: AsyncEngine,
    audit_log: AuditLog,
    blobs: LocalBlobStore,
    recording_id: str,
    tmp_path: Path,
) -> None:
    # A server given a stale key ring: the recording's key is not in it.
    stale = KeyRing.load_or_create(tmp_path / "stale-keyring.json")
    settings = Settings(
        database_url=database_url,
        audit_database_url=audit_url,
        var_dir=tmp_path,
        privacy_contact="privacy@example.test",
    )
    app = build_app(settings, engine=engine, audit_log=audit_log, ring=stale, blobs=blobs)
    async with client_of(app) as client:
        response = await download(Api(client, api.tokens), recording_id)
    assert response.status_code == 500
    error = error_of(response)
    assert error["code"] == "KEY_UNAVAILABLE"
    assert error["requestId"] == response.headers["X-Request-ID"]
    (entry,) = await events(audit_log, action="recording.download")
    assert (entry.outcome, entry.detail) == (
        Outcome.FAILED,
        {"code": "KEY_UNAVAILABLE", "reason": "the key ring lacks the recording's key"},
    )


async def test_r_acc_6_a_refused_download_is_denied_with_the_purpose_asked_for(
    api: Api, audit_log: AuditLog, recording_id: str
) -> None:
    """R-ACC-6: a refused download is denied with the purpose asked for."""
    response = await download(api, recording_id, purpose="marketing")
    assert error_of(response)["ruleId"] == "R-CON-4"
    (entry,) = await events(audit_log, action="recording.download")
    assert (entry.outcome, entry.purpose) == (Outcome.DENIED, "marketing")


async def test_r_acc_6_a_mutation_refused_under_a_rule_is_audited_as_denied(
    api: Api, audit_log: AuditLog, recording_id: str
) -> None:
    """R-ACC-6: a mutation refused under a rule is audited as denied."""
    variables = {"recording": recording_id, "justification": "a claim", "endsOn": "2020-01-01"}
    body = await api.data(PLACE_HOLD, variables)
    assert [e["__typename"] for e in body["placeLegalHold"]["errors"]] == ["RuleBrokenError"]
    (entry,) = await events(audit_log, action="placeLegalHold")
    assert entry.outcome is Outcome.DENIED


async def test_audio_downloads_are_kept_out_of_caches_and_type_guessing(
    api: Api, recording_id: str
) -> None:
    response = await download(api, recording_id)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    "path",
    [
        "/recordings/%00/audio?purpose=quality-control",
        "/recordings/{recording}/audio?purpose=quality%00control",
        "/calls/%00/audio/full",
        "/calls/{call}/audio/full%00",
        "/packages/%00",
        "/packages/a%01b",
    ],
)
async def test_control_characters_in_a_route_are_invalid_input_never_a_500(
    api: Api, audit_log: AuditLog, recording_id: str, path: str
) -> None:
    call_id = await new_call(api)
    url = path.format(recording=recording_id, call=call_id)
    method = "PUT" if url.startswith("/calls/") else "GET"
    headers = {**bearer(api.tokens[Role.QA_SPECIALIST]), "Content-Type": "audio/wav"}
    if method == "PUT":
        headers = {**headers, **bearer(api.tokens[Role.IT_OPERATOR])}
    elif url.startswith("/packages/"):
        headers = {**headers, **bearer(api.tokens[Role.PRIVACY_OFFICER])}
    response = await api.client.request(method, url, headers=headers, content=AUDIO)
    assert response.status_code == 400, response.text
    assert error_of(response)["code"] == "INVALID_INPUT"
    failed = [e for e in await events(audit_log) if e.outcome is Outcome.FAILED]
    assert [e.detail for e in failed] == [{"code": "INVALID_INPUT"}]


async def test_an_upload_past_its_time_is_cancelled_with_a_typed_error_and_leaves_nothing(
    make_app: AppFactory, seeded: Sessions, blobs: LocalBlobStore
) -> None:
    tokens = await issue_role_tokens(seeded)
    never = asyncio.Event()

    async def stalled_audio() -> AsyncIterator[bytes]:
        yield AUDIO[:UPLOAD_CHUNK]
        await never.wait()
        yield AUDIO[UPLOAD_CHUNK:]

    async with client_of(make_app(upload_timeout_seconds=0.5)) as client:
        call_id = await new_call(Api(client, tokens))
        headers = {**bearer(tokens[Role.IT_OPERATOR]), "Content-Type": "audio/wav"}
        response = await client.put(
            f"/calls/{call_id}/audio/full", content=stalled_audio(), headers=headers
        )
    assert response.status_code == 503, response.text
    assert error_of(response)["code"] == "TIMEOUT"
    await nothing_kept_of(seeded, blobs, call_id)
