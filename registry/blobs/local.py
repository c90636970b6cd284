"""Blobs as files in one folder: the embedded default, ``./var/blobs/``."""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from datetime import timedelta
from pathlib import Path

import anyio
import anyio.to_thread

from registry._files import fsync_dir
from registry.blobs.protocol import CHUNK_BYTES, BlobMissing, checked_chunk_size, checked_key

# A write in flight touches its temp file with every chunk: one untouched for an hour belongs
# to a process that died (a crash, kill -9), or to a write stalled so long that it has failed.
STALE_TEMP_AGE = timedelta(hours=1)
# What ``write`` names its temp files; a blob key never starts with a dot, so no blob matches.
_TEMP = re.compile(r"\..+\.[0-9a-f]{16}\.tmp")


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
        checked_chunk_size(chunk_size)
        try:
            file = await anyio.open_file(path, "rb")
        except FileNotFoundError:
            raise BlobMissing(key) from None
        async with file:
            while chunk := await file.read(chunk_size):
                yield chunk

    async def delete(self, key: str) -> bool:
        return await anyio.to_thread.run_sync(_remove, self._path(key))

    async def delete_many(self, keys: Sequence[str]) -> None:
        # One worker thread and one directory fsync for the lot: per blob, those two are
        # what a deletion costs.
        paths = [self._path(key) for key in keys]
        await anyio.to_thread.run_sync(_remove_all, self.root, paths)

    async def exists(self, key: str) -> bool:
        return await anyio.to_thread.run_sync(self._path(key).is_file)

    async def remove_stale_temp_files(self, older_than: timedelta = STALE_TEMP_AGE) -> int:
        """Removes the temp files of writes untouched for ``older_than``; how many it removed.

        A write that dies without its ``except`` running (the process killed) leaves its temp
        file behind. Were its write only stalled, the rename then fails: nothing is stored.
        """
        # File times come from the system's clock, so the age does too (not registry.clock).
        cutoff = time.time() - older_than.total_seconds()
        return await anyio.to_thread.run_sync(_remove_temp_files_before, self.root, cutoff)

    def _path(self, key: str) -> Path:
        return self.root / checked_key(key)


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


def _remove_all(root: Path, paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
    if paths:
        fsync_dir(root)


def _remove_temp_files_before(root: Path, cutoff: float) -> int:
    removed = 0
    with os.scandir(root) as entries:
        for entry in entries:
            if not _TEMP.fullmatch(entry.name):
                continue
            try:
                if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                    os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:
                # Its write finished or failed meanwhile, or another sweeper took it.
                continue
    if removed:
        fsync_dir(root)
    return removed
