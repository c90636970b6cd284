"""`registry keys rotate` and `registry sweep`, run as an operator runs them."""

from __future__ import annotations

import asyncio
import io
import json
import os
import secrets
import stat
import time
import zipfile
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from registry import clock
from registry.audit.models import Outcome
from registry.audit.service import AuditLog
from registry.blobs import LocalBlobStore
from registry.cli import app
from registry.crypto import KeyRing, WrappedKey, rewrap
from registry.db import transaction
from registry.recordings import erasure
from registry.recordings.models import Recording, RecordingStatus
from registry.rights import package
from registry.rights.models import Package, PackageKind
from registry.upkeep import keys
from tests.recordings.conftest import SYSTEM, Scene, Sessions, listen
from tests.recordings.test_retention import AUDIO, erased_by_sweep, recorded, state

DAY = timedelta(days=1)


@pytest.fixture
def cli(database_url: str, audit_url: str, tmp_path: Path) -> CliRunner:
    """The `registry` command on the test's databases, its var folder the test's own: so its
    key ring is the ``ring`` fixture's file and its blobs the ``blobs`` fixture's folder."""
    return CliRunner(
        env={
            "REGISTRY_DATABASE_URL": database_url,
            "REGISTRY_AUDIT_DATABASE_URL": audit_url,
            "REGISTRY_VAR_DIR": str(tmp_path),
        }
    )


async def invoke(runner: CliRunner, *arguments: str, env: dict[str, str] | None = None) -> Result:
    # The command runs its own event loop: give it a thread of its own.
    return await asyncio.to_thread(runner.invoke, app, list(arguments), env=env)


async def run(runner: CliRunner, *arguments: str) -> Result:
    result = await invoke(runner, *arguments)
    assert result.exit_code == 0, result.output
    return result


def refused_in_a_line(result: Result) -> str:
    """The one line a command failed with; no traceback, exit code 1."""
    assert result.exit_code == 1, result.output
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), result.exception
    assert "Traceback" not in result.output
    assert result.stderr.startswith("registry: ") and result.stderr.count("\n") == 1
    return result.stderr


async def wrapped_keys(sessions: Sessions) -> dict[str, tuple[str | None, bytes | None]]:
    async with sessions() as session:
        rows = await session.execute(select(Recording.id, Recording.key_id, Recording.wrapped_key))
        return {recording_id: (key_id, wrapped) for recording_id, key_id, wrapped in rows.all()}


def listing(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def blob_files(blobs: LocalBlobStore) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in blobs.root.iterdir()}


async def test_r_enc_1_rotation_rewraps_every_data_key_and_never_touches_the_audio(
    cli: CliRunner,
    scene: Scene,
    ring: KeyRing,
    blobs: LocalBlobStore,
    audit_log: AuditLog,
    tmp_path: Path,
) -> None:
    """R-ENC-1: rotation rewraps every data key and never touches the audio."""
    live = await recorded(scene, ring, blobs, count=3)
    (shredded,) = await recorded(scene, ring, blobs)
    async with transaction(scene.sessions) as session:
        await erasure.erase_recording(session=session, actor=SYSTEM, recording_id=shredded)
    first = ring.primary_id
    before, files = await wrapped_keys(scene.sessions), blob_files(blobs)

    result = await run(cli, "keys", "rotate")

    ring_file = tmp_path / "keyring.json"
    on_disk = KeyRing.load_or_create(ring_file)
    second = on_disk.primary_id
    assert second != first and on_disk.get(first)
    assert stat.S_IMODE(ring_file.stat().st_mode) == 0o600
    assert result.stdout == f"registry: primary key is now {second}; 3 data keys re-wrapped\n"
    after = await wrapped_keys(scene.sessions)
    for recording_id in live:
        assert before[recording_id][0] == first and after[recording_id][0] == second
        assert after[recording_id][1] != before[recording_id][1]
    # A shredded recording stays shredded: rotation has no key of it to wrap again.
    assert after[shredded] == before[shredded] == (None, None)
    assert blob_files(blobs) == files
    for reader in (on_disk, ring):
        for recording_id in live:
            assert await listen(scene.sessions, reader, blobs, recording_id) == AUDIO
    (audited,) = await audit_log.events(actor=SYSTEM, after_seq=0, limit=10, action="keys.rotate")
    assert (audited.principal, audited.outcome) == ("system:cli", Outcome.ALLOWED)
    assert audited.detail == {"primary": second, "rewrapped": 3, "unreadable": []}

    # Again: the first two keys both stay in the ring, and nothing left is under either.
    await run(cli, "keys", "rotate")
    third = KeyRing.load_or_create(ring_file)
    assert third.primary_id not in (first, second) and third.get(first) and third.get(second)
    assert {k for k, _ in (await wrapped_keys(scene.sessions)).values()} == {third.primary_id, None}
    assert blob_files(blobs) == files
    for recording_id in live:
        assert await listen(scene.sessions, third, blobs, recording_id) == AUDIO


async def test_r_ret_1_the_sweep_command_erases_the_expired_and_says_how_many(
    cli: CliRunner,
    scene: Scene,
    ring: KeyRing,
    blobs: LocalBlobStore,
    audit_log: AuditLog,
    frozen_clock: clock.FrozenClock,
) -> None:
    """R-RET-1: the sweep command erases the expired and says how many."""
    expired = await recorded(scene, ring, blobs, count=2)
    frozen_clock.advance(20 * DAY)
    (kept,) = await recorded(scene, ring, blobs)
    frozen_clock.advance(11 * DAY)

    result = await run(cli, "sweep", "--batch", "1")

    assert result.stdout == (
        "registry: 2 recordings shredded, 2 blobs deleted, 0 expired packages erased, 0 stale temp files removed\n"
    )
    for recording_id in expired:
        assert await state(scene.sessions, blobs, recording_id) == erased_by_sweep(recording_id)
    assert (await state(scene.sessions, blobs, kept)).status is RecordingStatus.ACTIVE
    assert await listen(scene.sessions, ring, blobs, kept) == AUDIO
    (audited,) = await audit_log.events(actor=SYSTEM, after_seq=0, limit=10, action="sweep")
    assert (audited.principal, audited.outcome) == ("system:sweep", Outcome.ALLOWED)
    assert audited.detail == {
        "shredded": 2,
        "blobs_deleted": 2,
        "identifiers_erased": 0,
        "expired_packages_erased": 0,
        "stale_temp_files_removed": 0,
    }
    # Each batch of one is audited as it commits, besides the summary.
    batches = await audit_log.events(actor=SYSTEM, after_seq=0, limit=10, action="sweep.shred")
    assert sorted(r for e in batches for r in (e.detail or {})["recordings"]) == sorted(expired)

    again = await run(cli, "sweep")
    assert again.stdout == (
        "registry: 0 recordings shredded, 0 blobs deleted, 0 expired packages erased, 0 stale temp files removed\n"
    )


async def test_the_sweep_command_removes_temp_files_that_killed_writes_left_behind(
    cli: CliRunner,
    scene: Scene,
    ring: KeyRing,
    blobs: LocalBlobStore,
    audit_log: AuditLog,
) -> None:
    (recording_id,) = await recorded(scene, ring, blobs)
    # A write killed two hours ago (kill -9: its clean-up never ran), and one in flight.
    dead = blobs.root / f".{recording_id}.sealed.{secrets.token_hex(8)}.tmp"
    dead.write_bytes(b"the first half of a sealed recording")
    os.utime(dead, (time.time() - 2 * 3600, time.time() - 2 * 3600))
    in_flight = blobs.root / f".another.sealed.{secrets.token_hex(8)}.tmp"
    in_flight.write_bytes(b"being written now")

    result = await run(cli, "sweep")

    assert result.stdout == (
        "registry: 0 recordings shredded, 0 blobs deleted, 0 expired packages erased, 1 stale temp files removed\n"
    )
    assert not dead.exists() and in_flight.exists()
    assert await listen(scene.sessions, ring, blobs, recording_id) == AUDIO
    (audited,) = await audit_log.events(actor=SYSTEM, after_seq=0, limit=10, action="sweep")
    assert audited.detail == {
        "shredded": 0,
        "blobs_deleted": 0,
        "identifiers_erased": 0,
        "expired_packages_erased": 0,
        "stale_temp_files_removed": 1,
    }


# ---------------------------------------------------------------- rotations that cannot finish


async def test_rotation_without_its_key_ring_refuses_in_a_line_and_makes_no_ring(
    cli: CliRunner, tmp_path: Path
) -> None:
    missing = tmp_path / "elsewhere" / "keyring.json"

    result = await invoke(cli, "keys", "rotate", env={"REGISTRY_KEYRING_FILE": str(missing)})

    assert refused_in_a_line(result) == (
        f"registry: no key ring at {missing}: point REGISTRY_KEYRING_FILE (or REGISTRY_VAR_DIR)"
        " at the ring the server uses\n"
    )
    # A new ring there would wrap nothing that exists, and the server would take it up.
    assert not missing.parent.exists()


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        ("a folder", "cannot read the key ring {path}: Is a directory"),
        ("not JSON", "{path} is not a valid key ring"),
        ("no primary key", "{path} is not a valid key ring"),
    ],
)
async def test_rotation_with_an_unreadable_key_ring_refuses_in_a_line_and_changes_nothing(
    cli: CliRunner, tmp_path: Path, damage: str, said: str
) -> None:
    ring_file = tmp_path / "keyring.json"
    if damage == "a folder":
        ring_file.mkdir()
    elif damage == "not JSON":
        ring_file.write_text('{"format": 1, "keys": {"k1": "c2VjcmV0')
    else:
        ring_file.write_text(json.dumps({"format": 1, "keys": {}}))
    before = listing(tmp_path)

    line = refused_in_a_line(await invoke(cli, "keys", "rotate"))

    assert line.startswith("registry: " + said.format(path=ring_file))
    # The file is all secrets: an error about it shows none of its text.
    assert "c2VjcmV0" not in line
    assert listing(tmp_path) == before


async def test_rotation_without_its_database_refuses_in_a_line_and_keeps_the_primary_key(
    cli: CliRunner, ring: KeyRing, tmp_path: Path
) -> None:
    unreachable = f"sqlite+aiosqlite:///{tmp_path / 'no-such-folder' / 'registry.db'}"

    result = await invoke(cli, "keys", "rotate", env={"REGISTRY_DATABASE_URL": unreachable})

    line = refused_in_a_line(result)
    assert "the database cannot be reached" in line and "the key ring is unchanged" in line
    assert KeyRing.load_or_create(tmp_path / "keyring.json").primary_id == ring.primary_id


async def test_a_rotation_stopped_half_way_leaves_every_recording_readable_and_runs_again(
    cli: CliRunner,
    scene: Scene,
    ring: KeyRing,
    blobs: LocalBlobStore,
    audit_log: AuditLog,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    live = await recorded(scene, ring, blobs, count=5)
    first = ring.primary_id
    rewrapped = 0

    def cut_off_after_two(*arguments: Any) -> WrappedKey:
        nonlocal rewrapped
        rewrapped += 1
        if rewrapped > 2:
            raise ConnectionResetError("the database went away")
        return rewrap(*arguments)

    monkeypatch.setattr(keys, "rewrap", cut_off_after_two)

    line = refused_in_a_line(await invoke(cli, "keys", "rotate", "--batch", "2"))

    second = KeyRing.load_or_create(tmp_path / "keyring.json").primary_id
    assert line == (
        f"registry: the rotation stopped after re-wrapping 2 data keys under {second}"
        " (ConnectionResetError: the database went away); every recording stays readable,"
        " since older keys stay in the ring: run `registry keys rotate` again to finish\n"
    )
    # The first batch committed; the second rolled back whole.
    under = Counter(key_id for key_id, _ in (await wrapped_keys(scene.sessions)).values())
    assert under == {second: 2, first: 3}
    for reader in (KeyRing.load_or_create(tmp_path / "keyring.json"), ring):
        for recording_id in live:
            assert await listen(scene.sessions, reader, blobs, recording_id) == AUDIO
    (stopped,) = await audit_log.events(actor=SYSTEM, after_seq=0, limit=10, action="keys.rotate")
    assert (stopped.outcome, stopped.detail) == (
        Outcome.FAILED,
        {"primary": second, "rewrapped": 2, "unreadable": []},
    )

    monkeypatch.undo()
    again = await run(cli, "keys", "rotate", "--batch", "2")

    third = KeyRing.load_or_create(tmp_path / "keyring.json")
    assert (
        again.stdout == f"registry: primary key is now {third.primary_id}; 5 data keys re-wrapped\n"
    )
    assert {key_id for key_id, _ in (await wrapped_keys(scene.sessions)).values()} == {
        third.primary_id
    }
    for recording_id in live:
        assert await listen(scene.sessions, third, blobs, recording_id) == AUDIO


async def test_a_data_key_that_does_not_unwrap_is_named_and_holds_up_no_rotation(
    cli: CliRunner,
    scene: Scene,
    ring: KeyRing,
    blobs: LocalBlobStore,
    audit_log: AuditLog,
    tmp_path: Path,
) -> None:
    live = await recorded(scene, ring, blobs, count=3)
    damaged = live[1]
    async with transaction(scene.sessions) as session:
        recording = await session.get_one(Recording, damaged)
        assert recording.wrapped_key is not None
        recording.wrapped_key = bytes([recording.wrapped_key[0] ^ 1]) + recording.wrapped_key[1:]
    first = ring.primary_id

    # One a batch: the damaged one is passed over, not taken again and again.
    result = await invoke(cli, "keys", "rotate", "--batch", "1")

    second = KeyRing.load_or_create(tmp_path / "keyring.json").primary_id
    assert result.stdout == f"registry: primary key is now {second}; 2 data keys re-wrapped\n"
    assert refused_in_a_line(result) == (
        "registry: 1 data keys do not unwrap and were left as they were, so their audio cannot"
        f" be opened: recordings {damaged}\n"
    )
    after = await wrapped_keys(scene.sessions)
    assert after[damaged][0] == first
    for recording_id in live:
        if recording_id != damaged:
            assert after[recording_id][0] == second
            assert await listen(scene.sessions, ring, blobs, recording_id) == AUDIO
    (audited,) = await audit_log.events(actor=SYSTEM, after_seq=0, limit=10, action="keys.rotate")
    assert (audited.outcome, audited.detail) == (
        Outcome.FAILED,
        {"primary": second, "rewrapped": 2, "unreadable": [damaged]},
    )

    again = await invoke(cli, "keys", "rotate", "--batch", "1")
    assert again.stdout.endswith("; 2 data keys re-wrapped\n")
    assert damaged in refused_in_a_line(again)


async def packaged(scene: Scene, ring: KeyRing, blobs: LocalBlobStore) -> tuple[str, Package]:
    """A recording, and a package of its audio."""
    (recording_id,) = await recorded(scene, ring, blobs)
    async with transaction(scene.sessions) as session:
        recording = await session.get_one(Recording, recording_id)
        built = await package.build_package(
            session=session,
            actor=SYSTEM,
            ring=ring,
            blobs=blobs,
            kind=PackageKind.ACCESS,
            file_name="answer.zip",
            media_type="application/zip",
            entries=package.audio_entries(ring=ring, blobs=blobs, recordings=[recording]),
        )
    return recording_id, built


async def test_rotation_rewraps_the_keys_of_packages_too(
    cli: CliRunner, scene: Scene, ring: KeyRing, blobs: LocalBlobStore, tmp_path: Path
) -> None:
    recording_id, built = await packaged(scene, ring, blobs)
    first = built.key_id

    result = await run(cli, "keys", "rotate")

    rotated = KeyRing.load_or_create(tmp_path / "keyring.json")
    assert result.stdout.endswith("; 2 data keys re-wrapped\n")
    async with transaction(scene.sessions) as session:
        again = await session.get_one(Package, built.id)
        assert first != again.key_id == rotated.primary_id
        _, content = await package.open_package(
            session=session, actor=SYSTEM, ring=rotated, blobs=blobs, package_id=built.id
        )
        archive = b"".join([chunk async for chunk in content])
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        assert opened.read(package.audio_file_name(recording_id)) == AUDIO


async def test_the_sweep_erases_packages_past_their_expiry(
    cli: CliRunner,
    scene: Scene,
    ring: KeyRing,
    blobs: LocalBlobStore,
    frozen_clock: clock.FrozenClock,
) -> None:
    _, built = await packaged(scene, ring, blobs)
    frozen_clock.advance(timedelta(days=29))
    kept = await run(cli, "sweep")
    assert ", 0 expired packages erased," in kept.stdout
    assert await blobs.exists(built.blob_key)

    frozen_clock.advance(timedelta(days=1))
    swept = await run(cli, "sweep")
    assert ", 1 expired packages erased," in swept.stdout
    async with scene.sessions() as session:
        gone = await session.get_one(Package, built.id)
        assert (gone.key_id, gone.wrapped_key) == (None, None)
    assert not await blobs.exists(built.blob_key)
