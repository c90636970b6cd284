"""Where the bytes of sealed recordings live: a blob store.

Blobs are streamed in and out in bounded chunks, so memory does not grow with their size.
The store only ever sees ciphertext: audio is sealed before it gets here (``registry.crypto``).

Only ``LocalBlobStore`` (a directory: the embedded default, ``./var/blobs/``) exists for now.
The S3-compatible store that production needs is out of scope so far; it will implement
the same ``BlobStore`` protocol.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import Protocol

import anyio
import anyio.to_thread

from registry._files import fsync_dir

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

    async def exists(self, key: str) -> bool: ...


class LocalBlobStore:
    """Blobs as files of mode 0600 in one folder, each written to a temp file and renamed."""

    def __init__(self, root: Path) -> None:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.root = root

    def __repr__(self) -> str:
        return f"LocalBlobStore({str(self.root)!r})"

    async def write(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        path = self._path(key)
        temp = path.with_name(f".{key}.{secrets.token_hex(8)}.tmp")
        size = 0
        try:
            async with await anyio.open_file(temp, "wb", opener=_create_private) as file:
                async for chunk in chunks:
                    size += await file.write(chunk)
                await file.flush()
                await anyio.to_thread.run_sync(os.fsync, file.wrapped.fileno())
            await anyio.to_thread.run_sync(_publish, temp, path)
        except BaseException:
            # Inline, not in a thread: it must also run when the task is being cancelled.
            temp.unlink(missing_ok=True)
            raise
        return size

    async def read(self, key: str, chunk_size: int = CHUNK_BYTES) -> AsyncIterator[bytes]:
        path = self._path(key)
        if chunk_size < 1:
            raise ValueError("chunk_size must be positive")
        try:
            file = await anyio.open_file(path, "rb")
        except FileNotFoundError:
            raise BlobMissing(key) from None
        async with file:
            while chunk := await file.read(chunk_size):
                yield chunk

    async def delete(self, key: str) -> bool:
        return await anyio.to_thread.run_sync(_remove, self._path(key))

    async def exists(self, key: str) -> bool:
        return await anyio.to_thread.run_sync(self._path(key).is_file)

    def _path(self, key: str) -> Path:
        if not _KEY.fullmatch(key):
            raise ValueError(f"not a blob key (1-200 of [A-Za-z0-9._-], no leading dot): {key!r}")
        return self.root / key


def _create_private(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_EXCL, 0o600)


def _publish(temp: Path, path: Path) -> None:
    os.replace(temp, path)
    fsync_dir(path.parent)


def _remove(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    # Erasure must hold after a crash too.
    fsync_dir(path.parent)
    return True
