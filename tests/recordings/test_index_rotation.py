"""`registry keys rotate-index`: the blind index's secret rotated while lookups keep working."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import col
from typer.testing import CliRunner

from registry.audit.models import Outcome
from registry.audit.service import AuditLog
from registry.crypto import KeyRing, blind_index
from registry.db import transaction
from registry.recordings import calls
from registry.recordings.models import ErasureReason, Subject, SubjectKind
from registry.rights import service
from registry.rights.lookup import contact_indexes, subjects_by_indexes
from registry.rights.models import RequestKind, RightsRequest
from registry.upkeep import index_rotation
from tests.recordings.conftest import SYSTEM, Scene, Sessions
from tests.recordings.test_keys import invoke, refused_in_a_line, run

# The scene's customer and agent (tests/recordings/conftest.py).
CUSTOMER_PHONE, CUSTOMER_EMAIL, AGENT_EMAIL = (
    "+44 20 7946 0000",
    "ana@example.test",
    "bo@example.test",
)
# Numbers the customers made here, so that no two share a phone or an e-mail.
NUMBERS = itertools.count()


@pytest.fixture
def cli(database_url: str, audit_url: str, tmp_path: Path) -> CliRunner:
    """The `registry` command on the test's databases, its key ring the ``ring`` fixture's."""
    return CliRunner(
        env={
            "REGISTRY_DATABASE_URL": database_url,
            "REGISTRY_AUDIT_DATABASE_URL": audit_url,
            "REGISTRY_VAR_DIR": str(tmp_path),
        }
    )


def ring_file(tmp_path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((tmp_path / "keyring.json").read_text())
    return document


async def customers(scene: Scene, ring: KeyRing, count: int) -> dict[int, tuple[str, str]]:
    """New customers, each with a phone and an e-mail of their own: by ID."""
    made = {}
    async with transaction(scene.sessions) as session:
        for n in itertools.islice(NUMBERS, count):
            phone, email = f"+44 20 7946 1{n:03d}", f"caller{n}@example.test"
            subject = await calls.register_subject(
                session=session,
                actor=SYSTEM,
                ring=ring,
                kind=SubjectKind.CUSTOMER,
                identifiers=calls.Identifiers(f"Caller {n}", phone, email),
            )
            made[subject.id] = (phone, email)
    return made


async def found(
    sessions: Sessions, ring: KeyRing, *, phone: str | None = None, email: str | None = None
) -> list[int]:
    """The subjects a lookup finds, as `findSubjects` and a rights request's receipt look."""
    async with sessions() as session:
        given = contact_indexes(ring, phone, email)
        return [subject.id for subject in await subjects_by_indexes(session, given)]


async def subject_versions(sessions: Sessions) -> dict[int, int | None]:
    """The index secret version of each subject that has an index."""
    async with sessions() as session:
        rows = await session.execute(
            select(col(Subject.id), col(Subject.index_secret_version)).where(
                col(Subject.phone_index).is_not(None) | col(Subject.email_index).is_not(None)
            )
        )
        return {subject_id: version for subject_id, version in rows.all()}


async def received(
    sessions: Sessions, ring: KeyRing, *, phone: str | None = None, email: str | None = None
) -> RightsRequest:
    async with transaction(sessions) as session:
        return await service.receive(
            session=session,
            actor=SYSTEM,
            ring=ring,
            received=service.Received(
                kind=RequestKind.ACCESS, controller="mood-media-uk", phone=phone, email=email
            ),
        )


async def request_row(sessions: Sessions, request_id: int) -> RightsRequest:
    async with sessions() as session:
        return await session.get_one(RightsRequest, request_id)


async def close(sessions: Sessions, request_id: int) -> None:
    async with transaction(sessions) as session:
        request = await session.get_one(RightsRequest, request_id)
        request.closed_at = request.received_at


async def rotations(audit_log: AuditLog) -> list[tuple[Outcome, dict[str, Any] | None]]:
    events = await audit_log.events(actor=SYSTEM, after_seq=0, limit=10, action="keys.rotate_index")
    return [(event.outcome, event.detail) for event in events]


async def test_after_rotation_every_index_is_under_the_new_secret_and_subjects_are_still_found(
    cli: CliRunner, scene: Scene, ring: KeyRing, audit_log: AuditLog, tmp_path: Path
) -> None:
    others = await customers(scene, ring, 3)
    (gone,) = await customers(scene, ring, 1)
    async with transaction(scene.sessions) as session:
        subject = await session.get_one(Subject, gone)
        await calls.erase_identifiers(
            session=session, actor=SYSTEM, subject=subject, reason=ErasureReason.ERASURE_REQUEST
        )
    request = await received(scene.sessions, ring, phone=CUSTOMER_PHONE)
    assert request.subject_id == scene.customer_id and request.index_secret_version == 1
    assert ring_file(tmp_path)["format"] == 1

    result = await run(cli, "keys", "rotate-index")

    assert result.stdout == (
        "registry: index secret 2 is current; indexes of 5 subjects and 1 rights requests"
        " recomputed\nregistry: every index is under the current secret; retired 1\n"
    )
    on_disk = KeyRing.load_or_create(tmp_path / "keyring.json")
    # The server's ring, loaded before, reads the rotated file too.
    for reader in (on_disk, ring):
        assert reader.index_versions == [2]
        with pytest.raises(KeyError):
            blind_index(reader, "phone", CUSTOMER_PHONE, version=1)
    assert ring_file(tmp_path)["format"] == 2
    # Erased identifiers had no index, and have none now.
    assert await subject_versions(scene.sessions) == dict.fromkeys(
        [scene.customer_id, scene.agent_id, *others], 2
    )
    async with scene.sessions() as session:
        customer = await session.get_one(Subject, scene.customer_id)
        assert customer.phone_index == blind_index(on_disk, "phone", CUSTOMER_PHONE)
        assert customer.email_index == blind_index(on_disk, "email", CUSTOMER_EMAIL)
        erased = await session.get_one(Subject, gone)
        assert (erased.phone_index, erased.email_index) == (None, None)
    assert await found(scene.sessions, on_disk, phone="0044 20 7946 0000") == [scene.customer_id]
    assert await found(scene.sessions, on_disk, email="ANA@example.test") == [scene.customer_id]
    assert await found(scene.sessions, ring, email=AGENT_EMAIL) == [scene.agent_id]
    for subject_id, (phone, email) in others.items():
        assert await found(scene.sessions, on_disk, phone=phone) == [subject_id]
        assert await found(scene.sessions, on_disk, email=email) == [subject_id]
    # The requester's index is recomputed from the linked subject's sealed phone.
    linked = await request_row(scene.sessions, request.id)
    assert linked.index_secret_version == 2
    assert linked.phone_index == blind_index(on_disk, "phone", CUSTOMER_PHONE)
    assert await rotations(audit_log) == [
        (
            Outcome.ALLOWED,
            {
                "version": 2,
                "subjects": 5,
                "requests": 1,
                "cleared": [],
                "waiting": [],
                "unreadable": [],
                "retired": [1],
            },
        )
    ]
    # New subjects are indexed under the current secret.
    (late,) = await customers(scene, ring, 1)
    assert (await subject_versions(scene.sessions))[late] == 2


def cut_off(monkeypatch: pytest.MonkeyPatch, after: int) -> list[int]:
    """Makes the rotation stop at the subject after the first ``after``, as if the database
    went away; returns the subjects it recomputed, in order, committed or not."""
    seen: list[int] = []
    recompute = index_rotation._reindex_subject

    def stopping(ring: KeyRing, version: int, subject: Subject) -> index_rotation.Done:
        if len(seen) == after:
            raise ConnectionResetError("the database went away")
        seen.append(subject.id)
        return recompute(ring, version, subject)

    monkeypatch.setattr(index_rotation, "_reindex_subject", stopping)
    return seen


async def test_a_lookup_during_a_half_done_rotation_finds_subjects_on_either_side(
    cli: CliRunner,
    scene: Scene,
    ring: KeyRing,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = await customers(scene, ring, 4)
    cut_off(monkeypatch, after=3)

    refused_in_a_line(await invoke(cli, "keys", "rotate-index", "--batch", "2"))

    versions = await subject_versions(scene.sessions)
    # The first batch committed, the second rolled back whole.
    assert Counter(versions.values()) == {2: 2, 1: 4}
    assert ring.index_versions == [2, 1]
    for subject_id, (phone, email) in made.items():
        assert await found(scene.sessions, ring, phone=phone) == [subject_id]
        assert await found(scene.sessions, ring, email=email) == [subject_id]
    assert await found(scene.sessions, ring, phone=CUSTOMER_PHONE) == [scene.customer_id]
    assert await found(scene.sessions, ring, email=AGENT_EMAIL) == [scene.agent_id]
    # A subject registered meanwhile is indexed under the new secret, and found; so is a
    # request's subject, on the old side.
    ((late, (_, late_email)),) = (await customers(scene, ring, 1)).items()
    assert (await subject_versions(scene.sessions))[late] == 2
    assert await found(scene.sessions, ring, email=late_email) == [late]
    on_the_old_side = next(s for s, v in versions.items() if v == 1)
    request = await received(scene.sessions, ring, email=made[on_the_old_side][1])
    assert (request.subject_id, request.index_secret_version) == (on_the_old_side, 2)


async def test_an_interrupted_rotation_run_again_finishes_it_with_each_row_done_once(
    cli: CliRunner,
    scene: Scene,
    ring: KeyRing,
    audit_log: AuditLog,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = await customers(scene, ring, 5)
    everyone = {scene.customer_id, scene.agent_id, *made}
    first_run = cut_off(monkeypatch, after=3)

    line = refused_in_a_line(await invoke(cli, "keys", "rotate-index", "--batch", "2"))

    assert line == (
        "registry: the index rotation stopped after recomputing the indexes of 2 subjects and 0"
        " rights requests under index secret 2 (ConnectionResetError: the database went away);"
        " lookups match under the older secrets too, which stay in the ring: run `registry keys"
        " rotate-index` again to finish\n"
    )
    committed = {s for s, v in (await subject_versions(scene.sessions)).items() if v == 2}
    assert committed == set(first_run[:2])
    assert await rotations(audit_log) == [
        (
            Outcome.FAILED,
            {
                "version": 2,
                "subjects": 2,
                "requests": 0,
                "cleared": [],
                "waiting": [],
                "unreadable": [],
                "retired": [],
            },
        )
    ]

    monkeypatch.undo()
    second_run = cut_off(monkeypatch, after=len(everyone))
    result = await run(cli, "keys", "rotate-index", "--batch", "2")

    # The same rotation goes on: no third secret, and no row done twice or passed over.
    assert result.stdout.startswith(
        "registry: index secret 2 is current; indexes of 5 subjects and 0 rights requests"
    )
    assert sorted(second_run) == sorted(everyone - committed)
    assert await subject_versions(scene.sessions) == dict.fromkeys(everyone, 2)
    assert ring.index_versions == [2]
    assert (await rotations(audit_log))[-1][1] == {
        "version": 2,
        "subjects": 5,
        "requests": 0,
        "cleared": [],
        "waiting": [],
        "unreadable": [],
        "retired": [1],
    }
    for subject_id, (phone, email) in made.items():
        assert await found(scene.sessions, ring, phone=phone, email=email) == [subject_id]


async def test_a_requesters_index_no_subject_proves_keeps_the_old_secret_until_the_request_closes(
    cli: CliRunner, scene: Scene, ring: KeyRing, audit_log: AuditLog
) -> None:
    stranger = "+1 202 555 0100"
    waiting = await received(scene.sessions, ring, phone=stranger)
    closed = await received(scene.sessions, ring, email="nobody@example.test")
    await close(scene.sessions, closed.id)
    # Linked to the customer by e-mail, with a phone the customer's row does not hold.
    mixed = await received(scene.sessions, ring, phone=stranger, email=CUSTOMER_EMAIL)
    assert mixed.subject_id == scene.customer_id
    await close(scene.sessions, mixed.id)
    old_phone = waiting.phone_index

    result = await run(cli, "keys", "rotate-index")

    assert result.stdout == (
        "registry: index secret 2 is current; indexes of 2 subjects and 0 rights requests"
        f" recomputed\nregistry: 2 closed rights requests had indexes no linked subject proves,"
        f" which were cleared: requests {closed.id}, {mixed.id}\nregistry: 1 rows are still"
        " under an older secret, which stays in the ring so that they are found (open rights"
        " requests whose subject is not linked, rows busy or written since): run `registry keys"
        " rotate-index` again later\n"
    )
    assert ring.index_versions == [2, 1]
    kept = await request_row(scene.sessions, waiting.id)
    assert (kept.phone_index, kept.index_secret_version) == (old_phone, 1)
    cleared = await request_row(scene.sessions, closed.id)
    assert (cleared.email_index, cleared.index_secret_version) == (None, 2)
    # The e-mail the subject proves is carried over; the phone it does not is cleared.
    half = await request_row(scene.sessions, mixed.id)
    assert (half.phone_index, half.index_secret_version) == (None, 2)
    assert half.email_index == blind_index(ring, "email", CUSTOMER_EMAIL)

    await close(scene.sessions, waiting.id)
    again = await run(cli, "keys", "rotate-index")

    assert again.stdout.endswith("retired 1\n")
    assert ring.index_versions == [2]
    done = await request_row(scene.sessions, waiting.id)
    assert (done.phone_index, done.index_secret_version) == (None, 2)
    audited = [detail for _, detail in await rotations(audit_log)]
    assert [(d["cleared"], d["waiting"], d["retired"]) for d in audited if d] == [
        ([closed.id, mixed.id], [waiting.id], []),
        ([waiting.id], [], [1]),
    ]


async def test_a_subject_whose_sealed_phone_does_not_open_is_named_and_keeps_the_old_secret(
    cli: CliRunner, scene: Scene, ring: KeyRing
) -> None:
    async with transaction(scene.sessions) as session:
        customer = await session.get_one(Subject, scene.customer_id)
        assert customer.phone_sealed is not None
        customer.phone_sealed = customer.phone_sealed[:-1] + bytes([customer.phone_sealed[-1] ^ 1])

    result = await invoke(cli, "keys", "rotate-index")

    assert refused_in_a_line(result) == (
        "registry: 1 subjects' sealed phone or e-mail does not open; their indexes were left"
        f" as they were: subjects {scene.customer_id}\n"
    )
    assert await subject_versions(scene.sessions) == {scene.customer_id: 1, scene.agent_id: 2}
    assert ring.index_versions == [2, 1]
    assert await found(scene.sessions, ring, phone=CUSTOMER_PHONE) == [scene.customer_id]


def test_a_key_ring_file_of_the_first_format_still_loads(tmp_path: Path) -> None:
    def b64(secret: bytes) -> str:
        return base64.b64encode(secret).decode()

    kek, index_secret, field_secret = (os.urandom(32) for _ in range(3))
    path = tmp_path / "keyring.json"
    first_format = {
        "format": 1,
        "primary": "0123456789abcdef",
        "keys": {"0123456789abcdef": b64(kek)},
        "index_secret": b64(index_secret),
        "field_secret": b64(field_secret),
    }
    path.write_text(json.dumps(first_format))

    ring = KeyRing.load_or_create(path)

    assert (ring.index_version, ring.index_versions) == (1, [1])
    # The same index as before the secret had versions: the kind and value, length-prefixed.
    message = b"".join(len(part).to_bytes(4, "big") + part for part in (b"email", b"a@b.com"))
    expected = hmac.new(index_secret, message, hashlib.sha256).hexdigest()
    assert blind_index(ring, "email", " A@B.com") == expected
    # A KEK rotation leaves the file in the first format, for older releases to read.
    ring.add_primary()
    rewritten = json.loads(path.read_text())
    assert (rewritten["format"], rewritten["index_secret"]) == (1, b64(index_secret))

    assert ring.add_index_secret() == 2
    reloaded = KeyRing.load_or_create(path)
    assert reloaded.index_versions == [2, 1]
    assert blind_index(reloaded, "email", "a@b.com", version=1) == expected
    assert blind_index(reloaded, "email", "a@b.com") != expected
    assert reloaded.retire_index_secrets(2) == [1]
    assert KeyRing.load_or_create(path).index_versions == [2]
    assert json.loads(path.read_text())["format"] == 2
