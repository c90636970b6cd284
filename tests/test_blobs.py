"""The blob stores, local and S3-compatible, held to the same behaviour; sealed audio
streamed through each in flat memory; and what each has of its own."""

from __future__ import annotations

import asyncio
import os
import resource
import secrets
import stat
import time
import tracemalloc
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from registry.blobs import (
    CHUNK_BYTES,
    BlobMissing,
    BlobStore,
    LocalBlobStore,
    S3BlobStore,
    open_blob_store,
)
from registry.blobs.s3 import PART_BYTES, PARTS_IN_FLIGHT
from registry.crypto import new_data_key, open_sealed, seal
from registry.settings import Settings
from tests.s3 import PREFIX, S3Server, running_s3_server

MiB = 1024 * 1024


async def stream(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def joined(chunks: AsyncIterable[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


def pattern(size: int) -> bytes:
    return (bytes(range(253)) * (size // 253 + 1))[:size]


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with running_s3_server(tmp_path_factory.mktemp("s3")) as server:
        yield server


@dataclass
class Backend:
    """A store, and a look behind its back at everything it keeps, leftovers included."""

    store: BlobStore
    # Temp files in the folder, or multipart uploads left incomplete in the bucket.
    leftovers: Callable[[], list[str]]
    everything: Callable[[], list[str]]


def local_backend(root: Path) -> Backend:
    store = LocalBlobStore(root)

    def leftovers() -> list[str]:
        return sorted(path.name for path in root.iterdir() if path.name.startswith("."))

    def everything() -> list[str]:
        # The folder's parent too: a key must never reach out of the folder.
        return sorted(str(path.relative_to(root.parent)) for path in root.parent.rglob("*"))

    return Backend(store, leftovers, everything)


def s3_backend(s3: S3Server) -> Backend:
    bucket = s3.new_bucket()

    def everything() -> list[str]:
        return sorted([*s3.objects(bucket), *s3.incomplete_uploads(bucket)])

    return Backend(s3.store(bucket), lambda: s3.incomplete_uploads(bucket), everything)


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """Each behaviour that every store owes, tested on each store."""
    if request.param == "local":
        return local_backend(tmp_path / "blobs")
    return s3_backend(request.getfixturevalue("s3"))


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")


# ---------------------------------------------------------------- what every store does


@pytest.mark.parametrize("size", [0, 1, CHUNK_BYTES, CHUNK_BYTES + 1, 3 * CHUNK_BYTES + 12345])
@pytest.mark.parametrize("chunk_size", [1000, CHUNK_BYTES])
async def test_a_blob_reads_back_as_written(backend: Backend, size: int, chunk_size: int) -> None:
    data = pattern(size)
    assert await backend.store.write("rec-1.audio", stream(data, 4096)) == size
    chunks = [chunk async for chunk in backend.store.read("rec-1.audio", chunk_size)]
    assert b"".join(chunks) == data
    assert all(0 < len(chunk) <= chunk_size for chunk in chunks)
    assert await backend.store.exists("rec-1.audio")
    assert backend.leftovers() == []


async def test_a_blob_larger_than_an_upload_part_reads_back_as_written(backend: Backend) -> None:
    # Three parts of a multipart upload on S3, the last one short.
    data = pattern(2 * PART_BYTES + 12345)
    assert await backend.store.write("rec-1", stream(data, 256 * 1024)) == len(data)
    chunks = [chunk async for chunk in backend.store.read("rec-1")]
    assert b"".join(chunks) == data
    assert max(map(len, chunks)) <= CHUNK_BYTES


async def test_a_missing_blob_is_a_typed_error(backend: Backend) -> None:
    with pytest.raises(BlobMissing) as missing:
        await joined(backend.store.read("nothing-here"))
    assert missing.value.key == "nothing-here"
    assert not await backend.store.exists("nothing-here")


async def test_delete_is_idempotent(backend: Backend) -> None:
    store = backend.store
    await store.write("rec-1", stream(b"sealed", 3))
    await store.write("rec-2", stream(b"kept", 3))
    assert await store.exists("rec-1")
    assert await store.delete("rec-1") is True
    assert not await store.exists("rec-1")
    assert await store.delete("rec-1") is False
    with pytest.raises(BlobMissing):
        await joined(store.read("rec-1"))
    assert await joined(store.read("rec-2")) == b"kept"


async def test_many_blobs_are_deleted_in_one_go_and_missing_ones_are_no_error(
    backend: Backend,
) -> None:
    store = backend.store
    for name in ("rec-1", "rec-2", "rec-3"):
        await store.write(name, stream(name.encode(), 2))
    await store.delete_many(["rec-1", "rec-3", "never-written"])
    assert [await store.exists(name) for name in ("rec-1", "rec-2", "rec-3")] == [
        False,
        True,
        False,
    ]
    await store.delete_many([])
    await store.delete_many(["rec-1"])
    with pytest.raises(ValueError):
        await store.delete_many(["../escape"])
    assert await joined(store.read("rec-2")) == b"rec-2"


async def test_a_chunk_size_must_be_positive(backend: Backend) -> None:
    await backend.store.write("rec-1", stream(b"x", 1))
    with pytest.raises(ValueError, match="chunk_size"):
        await joined(backend.store.read("rec-1", 0))


BAD_KEYS = [
    "",
    ".",
    "..",
    "../x",
    "a/b",
    "/etc/passwd",
    ".hidden",
    "a b",
    "a\n",
    "é",
    "a\x00b",
    "x" * 201,
]


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_keys_cannot_leave_the_store(backend: Backend, key: str) -> None:
    store = backend.store
    before = backend.everything()
    with pytest.raises(ValueError, match="not a blob key"):
        await store.write(key, stream(b"x", 1))
    with pytest.raises(ValueError, match="not a blob key"):
        await joined(store.read(key))
    with pytest.raises(ValueError, match="not a blob key"):
        await store.delete(key)
    with pytest.raises(ValueError, match="not a blob key"):
        await store.exists(key)
    assert backend.everything() == before


async def failing(after: bytes) -> AsyncIterator[bytes]:
    yield after
    raise ConnectionResetError("the upload broke off")


async def test_a_broken_write_leaves_no_blob_and_nothing_half_written(backend: Backend) -> None:
    with pytest.raises(ConnectionResetError):
        await backend.store.write("rec-1", failing(b"half"))
    assert not await backend.store.exists("rec-1")
    assert backend.leftovers() == []


async def test_a_broken_rewrite_leaves_the_old_blob_whole(backend: Backend) -> None:
    store = backend.store
    await store.write("rec-1", stream(b"whole", 5))
    with pytest.raises(ConnectionResetError):
        await store.write("rec-1", failing(b"half"))
    assert await joined(store.read("rec-1")) == b"whole"
    await store.write("rec-1", stream(b"replaced", 3))
    assert await joined(store.read("rec-1")) == b"replaced"
    assert backend.leftovers() == []


async def test_a_cancelled_write_leaves_no_blob_and_nothing_half_written(
    backend: Backend,
) -> None:
    started = asyncio.Event()
    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        while True:
            yield b"x" * 100_000
            sent += 100_000
            # Past the first part of a multipart upload, so that parts are in the bucket.
            if sent > PART_BYTES:
                started.set()
            await asyncio.sleep(0)

    task = asyncio.create_task(backend.store.write("rec-1", endless()))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not await backend.store.exists("rec-1")
    assert backend.leftovers() == []


async def test_a_cancelled_write_whose_chunks_never_come_leaves_nothing(backend: Backend) -> None:
    """As when a client stops sending in the middle of an upload and the request times out."""
    sending = asyncio.Event()

    async def stalled() -> AsyncIterator[bytes]:
        yield b"x" * 1000
        sending.set()
        await asyncio.Event().wait()
        yield b"never"

    task = asyncio.create_task(backend.store.write("rec-1", stalled()))
    await sending.wait()
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    assert not await backend.store.exists("rec-1")
    assert backend.leftovers() == []


async def peak_memory_of_a_sealed_round_trip(store: BlobStore, size: int) -> int:
    """Seal ``size`` bytes into the store and open them back; the peak of traced memory."""
    key, recording = new_data_key(), f"rec-{size}"

    async def audio() -> AsyncIterator[bytes]:
        piece = b"\x5a" * CHUNK_BYTES
        for _ in range(size // CHUNK_BYTES):
            yield piece

    tracemalloc.start()
    try:
        await store.write(recording, seal(key, recording, audio()))
        opened = 0
        async for piece in open_sealed(key, recording, store.read(recording)):
            opened += len(piece)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert opened == size
    await store.delete(recording)
    return peak


async def test_sealed_audio_streams_through_the_local_store_in_flat_memory(
    store: LocalBlobStore,
) -> None:
    # The first run also traces one-off costs (worker threads, caches): leave them out.
    await peak_memory_of_a_sealed_round_trip(store, 1 * MiB)
    small = await peak_memory_of_a_sealed_round_trip(store, 16 * MiB)
    large = await peak_memory_of_a_sealed_round_trip(store, 64 * MiB)
    # A few 64 KiB pieces in flight, whatever the size; four times the audio, the same peak.
    assert large < 1 * MiB
    assert large < small + 128 * 1024


def peak_resident_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux counts in KiB


async def test_sealed_audio_streams_through_the_s3_store_in_flat_memory(s3: S3Server) -> None:
    store = s3.store(s3.new_bucket())
    await peak_memory_of_a_sealed_round_trip(store, 1 * MiB)
    small = await peak_memory_of_a_sealed_round_trip(store, 16 * MiB)
    resident = peak_resident_bytes()
    large = await peak_memory_of_a_sealed_round_trip(store, 64 * MiB)
    # The parts being uploaded and the one filling, whatever the size of the blob.
    in_flight = (PARTS_IN_FLIGHT + 1) * PART_BYTES
    assert large < in_flight + 1 * MiB
    assert large < small + 1 * MiB
    # Rust's memory is not traced: the process's peak shows it did not hold the blob either.
    assert peak_resident_bytes() - resident < 48 * MiB


# ---------------------------------------------------------------- the local store's own


async def test_a_local_blob_is_a_file_only_its_owner_reads(store: LocalBlobStore) -> None:
    await store.write("rec-1", stream(b"sealed", 3))
    assert stat.S_IMODE((store.root / "rec-1").stat().st_mode) == 0o600


async def test_the_local_store_keeps_its_folder_private(tmp_path: Path) -> None:
    store: BlobStore = LocalBlobStore(tmp_path / "var" / "blobs")
    await store.write("a", stream(b"x", 1))
    assert stat.S_IMODE((tmp_path / "var" / "blobs").stat().st_mode) == 0o700


def temp_file(store: LocalBlobStore, key: str, age_seconds: float) -> Path:
    """A temp file as a write names it, last written ``age_seconds`` ago."""
    path = store.root / f".{key}.{secrets.token_hex(8)}.tmp"
    path.write_bytes(b"half of a sealed recording")
    then = time.time() - age_seconds
    os.utime(path, (then, then))
    return path


async def test_temp_files_of_writes_killed_an_hour_ago_are_removed(store: LocalBlobStore) -> None:
    await store.write("rec-1", stream(b"whole", 5))
    dead = [temp_file(store, "rec-2", 2 * 3600), temp_file(store, "rec-1", 3601)]
    in_flight = [temp_file(store, "rec-3", 0), temp_file(store, "rec-4", 3500)]
    # Not a temp file of the store's: left alone, whatever its age.
    other = store.root / ".keep"
    other.touch()
    os.utime(other, (0, 0))

    assert await store.remove_stale_temp_files() == 2

    assert not any(path.exists() for path in dead)
    assert all(path.exists() for path in in_flight)
    assert other.exists()
    assert await joined(store.read("rec-1")) == b"whole"
    assert await store.remove_stale_temp_files() == 0


async def test_the_age_of_a_stale_temp_file_can_be_chosen(store: LocalBlobStore) -> None:
    young = temp_file(store, "rec-1", 120)
    assert await store.remove_stale_temp_files(timedelta(minutes=5)) == 0
    assert await store.remove_stale_temp_files(timedelta(minutes=1)) == 1
    assert not young.exists()


async def test_a_write_whose_temp_file_was_swept_stores_nothing(store: LocalBlobStore) -> None:
    """A write stalled past the age loses its temp file: it fails rather than store a part."""
    sent = asyncio.Event()
    resume = asyncio.Event()

    async def stalled() -> AsyncIterator[bytes]:
        yield b"first"
        sent.set()
        await resume.wait()
        yield b"second"

    task = asyncio.create_task(store.write("rec-1", stalled()))
    await sent.wait()
    assert await store.remove_stale_temp_files(timedelta(0)) == 1
    resume.set()
    with pytest.raises(FileNotFoundError):
        await task
    assert not await store.exists("rec-1")
    assert list(store.root.iterdir()) == []


# ---------------------------------------------------------------- the S3 store's own


async def test_an_s3_store_keeps_to_its_prefix(s3: S3Server) -> None:
    bucket = s3.new_bucket()
    ours, theirs = s3.store(bucket, "recordings"), s3.store(bucket, "other")
    await ours.write("rec-1", stream(b"sealed", 3))
    assert s3.objects(bucket) == {"recordings/rec-1": b"sealed"}
    assert not await theirs.exists("rec-1")
    assert await theirs.delete("rec-1") is False
    with pytest.raises(BlobMissing):
        await joined(theirs.read("rec-1"))
    assert await joined(ours.read("rec-1")) == b"sealed"


def test_the_settings_choose_the_store(s3: S3Server, tmp_path: Path) -> None:
    local = open_blob_store(Settings(var_dir=tmp_path))
    assert isinstance(local, LocalBlobStore) and local.root == tmp_path / "blobs"
    bucket = open_blob_store(Settings(var_dir=tmp_path, **s3.settings("records")))
    assert isinstance(bucket, S3BlobStore)
    assert repr(bucket) == f"S3BlobStore('s3://records/{PREFIX}')"


def test_the_secret_key_shows_in_no_repr(s3: S3Server, tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path, **s3.settings("records"))
    secret = s3.settings("records")["blob_s3_secret_access_key"]
    assert secret not in repr(settings)
    assert secret not in repr(open_blob_store(settings))


@pytest.mark.parametrize(
    "overrides",
    [
        {"blob_url": "https://bucket.example/recordings"},
        {"blob_url": "s3://"},
        {"blob_url": "s3://bucket/recordings", "blob_dir": "var/blobs"},
    ],
)
def test_settings_that_name_no_single_store_are_refused(
    tmp_path: Path, overrides: dict[str, str]
) -> None:
    with pytest.raises(ValidationError):
        Settings(var_dir=tmp_path, **overrides)  # type: ignore[arg-type]
