"""The local blob store, and sealed audio streamed through it in flat memory."""

from __future__ import annotations

import asyncio
import stat
import tracemalloc
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path

import pytest

from registry.blobs import CHUNK_BYTES, BlobMissing, BlobStore, LocalBlobStore
from registry.crypto import new_data_key, open_sealed, seal

MiB = 1024 * 1024


async def stream(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def joined(chunks: AsyncIterable[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")


def leftovers(store: LocalBlobStore) -> list[str]:
    return sorted(path.name for path in store.root.iterdir() if path.name.startswith("."))


@pytest.mark.parametrize("size", [0, 1, CHUNK_BYTES, CHUNK_BYTES + 1, 3 * CHUNK_BYTES + 12345])
@pytest.mark.parametrize("chunk_size", [1000, CHUNK_BYTES])
async def test_a_blob_reads_back_as_written(
    store: LocalBlobStore, size: int, chunk_size: int
) -> None:
    data = bytes(i % 253 for i in range(size))
    assert await store.write("rec-1.audio", stream(data, 4096)) == size
    chunks = [chunk async for chunk in store.read("rec-1.audio", chunk_size)]
    assert b"".join(chunks) == data
    assert all(0 < len(chunk) <= chunk_size for chunk in chunks)
    assert stat.S_IMODE((store.root / "rec-1.audio").stat().st_mode) == 0o600
    assert leftovers(store) == []


async def test_the_store_keeps_its_folder_private(tmp_path: Path) -> None:
    store: BlobStore = LocalBlobStore(tmp_path / "var" / "blobs")
    await store.write("a", stream(b"x", 1))
    assert stat.S_IMODE((tmp_path / "var" / "blobs").stat().st_mode) == 0o700


async def test_a_missing_blob_is_a_typed_error(store: LocalBlobStore) -> None:
    with pytest.raises(BlobMissing) as missing:
        await joined(store.read("nothing-here"))
    assert missing.value.key == "nothing-here"


async def test_delete_is_idempotent(store: LocalBlobStore) -> None:
    await store.write("rec-1", stream(b"sealed", 3))
    assert await store.exists("rec-1")
    assert await store.delete("rec-1") is True
    assert not await store.exists("rec-1")
    assert await store.delete("rec-1") is False
    with pytest.raises(BlobMissing):
        await joined(store.read("rec-1"))


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
async def test_keys_cannot_leave_the_store(store: LocalBlobStore, key: str) -> None:
    with pytest.raises(ValueError, match="not a blob key"):
        await store.write(key, stream(b"x", 1))
    with pytest.raises(ValueError, match="not a blob key"):
        await joined(store.read(key))
    with pytest.raises(ValueError, match="not a blob key"):
        await store.delete(key)
    with pytest.raises(ValueError, match="not a blob key"):
        await store.exists(key)
    assert list(store.root.parent.iterdir()) == [store.root]
    assert list(store.root.iterdir()) == []


async def failing(after: bytes) -> AsyncIterator[bytes]:
    yield after
    raise ConnectionResetError("the upload broke off")


async def test_a_broken_write_leaves_no_blob_and_no_temp_file(store: LocalBlobStore) -> None:
    with pytest.raises(ConnectionResetError):
        await store.write("rec-1", failing(b"half"))
    assert not await store.exists("rec-1")
    assert leftovers(store) == []


async def test_a_broken_rewrite_leaves_the_old_blob_whole(store: LocalBlobStore) -> None:
    await store.write("rec-1", stream(b"whole", 5))
    with pytest.raises(ConnectionResetError):
        await store.write("rec-1", failing(b"half"))
    assert await joined(store.read("rec-1")) == b"whole"
    await store.write("rec-1", stream(b"replaced", 3))
    assert await joined(store.read("rec-1")) == b"replaced"
    assert leftovers(store) == []


async def test_a_cancelled_write_leaves_no_blob_and_no_temp_file(store: LocalBlobStore) -> None:
    started = asyncio.Event()

    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield b"x" * 1000
            started.set()
            await asyncio.sleep(0)

    task = asyncio.create_task(store.write("rec-1", endless()))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not await store.exists("rec-1")
    assert leftovers(store) == []


async def peak_memory_of_a_sealed_round_trip(store: LocalBlobStore, size: int) -> int:
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


async def test_sealed_audio_streams_through_the_store_in_flat_memory(
    store: LocalBlobStore,
) -> None:
    # The first run also traces one-off costs (worker threads, caches): leave them out.
    await peak_memory_of_a_sealed_round_trip(store, 1 * MiB)
    small = await peak_memory_of_a_sealed_round_trip(store, 16 * MiB)
    large = await peak_memory_of_a_sealed_round_trip(store, 64 * MiB)
    # A few 64 KiB pieces in flight, whatever the size; four times the audio, the same peak.
    assert large < 1 * MiB
    assert large < small + 128 * 1024
