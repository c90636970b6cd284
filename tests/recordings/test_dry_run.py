"""`registry sweep --dry-run`: what a sweep would erase and what holds keep (R-RET-1,
R-RET-2), listed for the privacy team without changing anything."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import func, select
from sqlmodel import col
from typer.testing import CliRunner

from registry import clock
from registry.access.service import Actor
from registry.blobs import LocalBlobStore
from registry.cli import app
from registry.crypto import KeyRing
from registry.recordings import retention
from registry.recordings.models import (
    IdentifierTombstone,
    KeptFromErasure,
    Recording,
    Subject,
    Tombstone,
)
from tests.recordings.conftest import Scene
from tests.recordings.test_retention import (
    DAY,
    BlobStoreDown,
    hold,
    pending_blob_keys,
    recorded,
    sweep,
)

runner = CliRunner()


@pytest.fixture
def cli_env(
    database_url: str, audit_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGISTRY_DATABASE_URL", database_url)
    monkeypatch.setenv("REGISTRY_AUDIT_DATABASE_URL", audit_url)
    # The test's folder: its blobs are the ``blobs`` fixture's.
    monkeypatch.setenv("REGISTRY_VAR_DIR", str(tmp_path))


async def invoke(*arguments: str) -> Result:
    # The command runs its own event loop: in a thread of its own, beside the test's.
    return await asyncio.to_thread(runner.invoke, app, list(arguments))


async def everything(scene: Scene, blobs: LocalBlobStore) -> dict[str, object]:
    """What a sweep would change: the rows it writes, and the blobs it deletes."""
    async with scene.sessions() as session:
        counts: dict[str, object] = {
            model.__name__: await session.scalar(select(func.count()).select_from(model))
            for model in (Recording, Tombstone, KeptFromErasure, IdentifierTombstone)
        }
        counts["statuses"] = sorted(
            (r.id, r.status, r.wrapped_key is None)
            for r in await session.scalars(select(Recording))
        )
        counts["erased_subjects"] = await session.scalar(
            select(func.count()).where(col(Subject.identifiers_erased_at).is_not(None))
        )
    counts["blobs"] = sorted(path.name for path in blobs.root.iterdir())
    return counts


async def test_r_ret_2_a_dry_run_lists_the_expired_and_the_held_and_changes_nothing(
    scene: Scene,
    ring: KeyRing,
    blobs: LocalBlobStore,
    frozen_clock: clock.FrozenClock,
    cli_env: None,
) -> None:
    """R-RET-2: a dry run lists the expired and the held, and changes nothing."""
    first, second, kept = await recorded(scene, ring, blobs, count=3)
    await hold(scene, kept, ends_on=clock.today() + 90 * DAY)
    frozen_clock.advance(31 * DAY)
    expired_on = (clock.now() - timedelta(days=1)).date().isoformat()
    before = await everything(scene, blobs)

    listed = await invoke("sweep", "--dry-run")
    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.splitlines()
    assert {line.partition(":")[0] for line in lines[:-1]} == {
        f"erase recording {first}",
        f"erase recording {second}",
        f"keep recording {kept}",
    }
    assert f"keep recording {kept}: hold on legal_claims until" in listed.stdout
    assert f"expired on {expired_on}" in listed.stdout
    assert lines[-1].startswith("registry: dry run, nothing changed: 2 recordings would be")
    # Subjects by ID only: never their names, phone numbers or e-mail addresses.
    assert "Ana Caller" not in listed.stdout and "example.test" not in listed.stdout

    document = json.loads((await invoke("sweep", "--dry-run", "--json")).stdout)
    assert {r["id"] for r in document["recordings"]} == {first, second}
    assert [(h["recording_id"], h["ground"]) for h in document["held"]] == [(kept, "legal_claims")]

    assert await everything(scene, blobs) == before
    looked = await scene.audit_log.events(
        actor=Actor.system("test"), after_seq=0, limit=100, action="sweep.dry_run"
    )
    assert [(e.principal, e.action) for e in looked] == [
        (retention.SWEEPER.handle, "sweep.dry_run")
    ] * 2
    assert looked[0].detail is not None and looked[0].detail["recordings"] == 2

    # What it listed is what a sweep then erases.
    report = await retention.sweep(sessions=scene.sessions, blobs=blobs, audit_log=scene.audit_log)
    assert report.shredded == 2


async def test_r_ret_1_a_dry_run_lists_the_blobs_an_interrupted_sweep_left_to_delete(
    scene: Scene,
    ring: KeyRing,
    blobs: LocalBlobStore,
    frozen_clock: clock.FrozenClock,
    cli_env: None,
) -> None:
    """R-RET-1: recordings a sweep erased but whose blobs it could not delete (the blob
    store was down) are listed as blobs still to delete, and stay until a sweep deletes them."""
    recording_ids = await recorded(scene, ring, blobs, count=2)
    frozen_clock.advance(31 * DAY)
    with pytest.raises(OSError, match="unreachable"):
        await sweep(scene, BlobStoreDown(blobs.root, failures=1))
    erased_on = clock.now().isoformat()
    before = await everything(scene, blobs)
    assert len(before["blobs"]) == 2  # type: ignore[arg-type]

    listed = await invoke("sweep", "--dry-run")
    assert listed.exit_code == 0, listed.output
    for recording_id in recording_ids:
        line = f"delete blob {recording_id}.sealed: its recording was erased on {erased_on}"
        assert line in listed.stdout.splitlines()
    assert "0 recordings would be erased" in listed.stdout
    assert "2 blobs of erased recordings deleted" in listed.stdout
    document = json.loads((await invoke("sweep", "--dry-run", "--json")).stdout)
    assert [sorted(p["blob_keys"]) for p in document["pending_blobs"]] == [
        sorted(f"{r}.sealed" for r in recording_ids)
    ]

    assert await everything(scene, blobs) == before
    assert len(await pending_blob_keys(scene.sessions)) == 2
    # The next sweep deletes them, and a dry run then lists none.
    await sweep(scene, blobs)
    assert await pending_blob_keys(scene.sessions) == []
    after = await invoke("sweep", "--dry-run")
    assert "delete blob" not in after.stdout
    assert "0 blobs of erased recordings deleted" in after.stdout


def test_json_is_only_for_a_dry_run() -> None:
    refused = runner.invoke(app, ["sweep", "--json"])
    assert refused.exit_code == 2
