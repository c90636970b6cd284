"""What every blob store does, and the keys they all accept."""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from typing import Protocol

CHUNK_BYTES = 64 * 1024
# Also a safe file name and object key: no separator, no leading dot (temp files start with
# one, and "." and ".." are folders), short enough for any file system once decorated.
_KEY = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}")


class BlobMissing(Exception):
    """No blob under this key."""

    def __init__(self, key: str) -> None:
        super().__init__(f"no blob {key!r}")
        self.key = key


class BlobStore(Protocol):
    async def write(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        """Store ``chunks`` under ``key`` whole or not at all; the number of bytes written."""
        ...

    def read(self, key: str, chunk_size: int = CHUNK_BYTES) -> AsyncIterator[bytes]:
        """The blob's bytes in chunks of at most ``chunk_size``; ``BlobMissing`` if none."""
        ...

    async def delete(self, key: str) -> bool:
        """Remove the blob; False if there was none."""
        ...

    async def delete_many(self, keys: Sequence[str]) -> None:
        """Remove every blob of ``keys`` in one go; one already gone is no error."""
        ...

    async def exists(self, key: str) -> bool: ...


def checked_key(key: str) -> str:
    """``key`` itself if it is a blob key; ``ValueError`` otherwise, whichever the store."""
    if not _KEY.fullmatch(key):
        raise ValueError(f"not a blob key (1-200 of [A-Za-z0-9._-], no leading dot): {key!r}")
    return key


def checked_chunk_size(chunk_size: int) -> int:
    if chunk_size < 1:
        raise ValueError("chunk_size must be positive")
    return chunk_size
