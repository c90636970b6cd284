"""Sealed blobs: content sealed into the blob store under its own data key, kept wrapped.

Recordings and packages are both stored so: a fresh data key per blob, wrapped by the key
ring with the blob's ID bound in, and the content sealed with Cobblestone-256
(registry.crypto) as it streams. Both domains take the sealing, the opening, the blocks
they move in and the length of what they seal from here, rather than one reaching into
the other's storage.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

from registry.blobs import BlobStore
from registry.crypto import (
    KeyRing,
    WrappedKey,
    new_data_key,
    open_sealed,
    seal,
    unwrap_async,
    wrap_async,
)

# Audio goes between the network, the crypto and the blob store in blocks of this size. Each
# read or write of the blob store is a hop to a worker thread, which costs about as much as
# sealing 64 KiB of audio: in 256 KiB blocks a 50 MB blob was written about twice as fast,
# and read two to three times as fast. Memory holds a block per transfer.
BLOCK_BYTES = 256 * 1024

# The framing of Cobblestone-256 (see registry.crypto): a 56-byte header, then each 16 KiB of
# audio and a last, shorter chunk (empty if the audio fills its chunks), each with a 16-byte tag.
_HEADER_BYTES, _CHUNK_BYTES, _TAG_BYTES = 56, 16 * 1024, 16


def audio_size(sealed_size: int) -> int | None:
    """The length of the audio sealed in ``sealed_size`` bytes; None if no sealing is that long.

    Known before a byte is opened, so that a download can announce its length: a client,
    or a proxy in between, then tells a download cut off by damage from a whole one.
    """
    full, rest = divmod(sealed_size - _HEADER_BYTES - _TAG_BYTES, _CHUNK_BYTES + _TAG_BYTES)
    if full < 0 or rest >= _CHUNK_BYTES:
        return None
    return full * _CHUNK_BYTES + rest


async def in_blocks(chunks: AsyncIterable[bytes], size: int = BLOCK_BYTES) -> AsyncIterator[bytes]:
    """``chunks`` regrouped into blocks of at least ``size`` bytes; the last may be shorter."""
    held: list[bytes] = []
    length = 0
    async for chunk in chunks:
        held.append(chunk)
        length += len(chunk)
        if length >= size:
            yield b"".join(held)
            held.clear()
            length = 0
    if held:
        yield b"".join(held)


async def seal_into(
    blobs: BlobStore, ring: KeyRing, *, blob_id: str, blob_key: str, content: AsyncIterable[bytes]
) -> tuple[WrappedKey, int]:
    """``content`` sealed into ``blob_key`` as it streams, under a fresh data key wrapped by
    the ring's primary key with ``blob_id`` bound in: the wrapped key and the blob's size."""
    data_key = new_data_key()
    wrapped = await wrap_async(ring, blob_id, data_key)
    size = await blobs.write(blob_key, in_blocks(seal(data_key, blob_id, content)))
    return wrapped, size


async def opened(
    blobs: BlobStore, ring: KeyRing, *, blob_id: str, wrapped: WrappedKey, blob_key: str
) -> AsyncIterator[bytes]:
    """The content sealed by ``seal_into``, as a lazy stream. The data key is unwrapped now,
    so that a key the ring cannot open fails here; the blob is read and opened as the stream
    is (``CiphertextInvalid`` where it proves false)."""
    data_key = await unwrap_async(ring, blob_id, wrapped)
    # Not regrouped: each block read opens, in one piece, into about a block of content
    # (crypto.PIECE_BYTES), sent as it comes, without a copy to join it with the next.
    return open_sealed(data_key, blob_id, blobs.read(blob_key, BLOCK_BYTES))
