"""Sealed blobs as they stream: the blocks they move in and the length of what they seal.

Recordings and packages are both sealed with Cobblestone-256 (registry.crypto) into the
blob store and read back the same way, so both domains take these from here rather than
one reaching into the other's storage.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

# Audio goes between the network, the crypto and the blob store in blocks of this size. Each
# read or write of the blob store is a hop to a worker thread, which costs about as much as
# sealing one of the sealer's 64 KiB pieces: in 256 KiB blocks a 50 MB blob was written about
# twice as fast, and read two to three times as fast. Memory holds a block per transfer.
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
