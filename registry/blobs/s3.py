"""Blobs as objects in a bucket of S3-compatible object storage: what production runs on.

Built on obstore, the Python binding of the Rust ``object_store`` crate of the Apache Arrow
project: natively async and typed, it streams an upload from an async iterable as a multipart
upload and a download in chunks, and brings no other Python package with it.

Whole or nothing: an object appears only once its multipart upload completes, and an upload
whose chunks fail is aborted, so an older blob under the same key stays whole. A process
killed in mid-upload leaves an incomplete multipart upload (no object, but its parts are
stored and billed): give the bucket a lifecycle rule that aborts those after a day.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import obstore
from obstore.store import S3Store

from registry.blobs.protocol import CHUNK_BYTES, BlobMissing, checked_chunk_size, checked_key

if TYPE_CHECKING:
    from obstore.store import S3Config

# S3's smallest part (but the last). Two parts in flight and one filling: an upload holds at
# most 15 MiB of the blob, whatever its size.
PART_BYTES = 5 * 1024 * 1024
PARTS_IN_FLIGHT = 2
# A download stays open as long as its slowest listener takes; the client's default is 30 s.
TRANSFER_TIMEOUT = timedelta(hours=1)
# How long a cancelled write waits for its upload to be aborted; past that, the abort goes
# on without it (or the bucket's lifecycle rule clears the parts).
ABORT_WAIT_SECONDS = 10.0


class S3BlobStore:
    """Blobs as objects under the prefix of ``url`` (``s3://bucket/prefix``).

    Credentials not given come from the usual places of the AWS tools (``AWS_*`` variables,
    the instance's or container's role). ``allow_http`` is for a server on a trusted network
    only, such as one on loopback: the audio is sealed, but requests would go unencrypted.
    """

    def __init__(
        self,
        url: str,
        *,
        endpoint: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        allow_http: bool = False,
    ) -> None:
        config: S3Config = {}
        if endpoint is not None:
            config["endpoint"] = endpoint
        if region is not None:
            config["region"] = region
        if access_key_id is not None:
            config["access_key_id"] = access_key_id
        if secret_access_key is not None:
            config["secret_access_key"] = secret_access_key
        self._url = url
        self._store = S3Store.from_url(
            url,
            config=config,
            client_options={"allow_http": allow_http, "timeout": TRANSFER_TIMEOUT},
        )

    def __repr__(self) -> str:
        # The URL only: the store's configuration holds the secret key.
        return f"S3BlobStore({self._url!r})"

    async def write(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        path = checked_key(key)
        feed = _Feed(chunks)
        upload = asyncio.ensure_future(
            obstore.put_async(
                self._store,
                path,
                feed,
                chunk_size=PART_BYTES,
                max_concurrency=PARTS_IN_FLIGHT,
            )
        )
        try:
            # Shielded: a cancelled upload would be dropped half-way, neither completed
            # nor aborted, its parts left in the bucket.
            await asyncio.shield(upload)
        except asyncio.CancelledError:
            # Instead the feed fails, which makes obstore abort the upload.
            feed.abandon()
            await _aborted(upload)
            raise
        return feed.size

    async def read(self, key: str, chunk_size: int = CHUNK_BYTES) -> AsyncIterator[bytes]:
        path = checked_key(key)
        checked_chunk_size(chunk_size)
        try:
            result = await obstore.get_async(self._store, path)
        except FileNotFoundError:
            raise BlobMissing(key) from None
        # The stream hands out at least ``chunk_size`` at a time, at times several times as
        # much: cut to the size promised.
        async for chunk in result.stream(min_chunk_size=chunk_size):
            for start in range(0, len(chunk), chunk_size):
                yield chunk[start : start + chunk_size]

    async def delete(self, key: str) -> bool:
        # S3 deletes a missing object without a word: ask first. Of two deleters at once,
        # both may say True; the object is gone either way.
        if not await self.exists(key):
            return False
        await obstore.delete_async(self._store, checked_key(key))
        return True

    async def delete_many(self, keys: Sequence[str]) -> None:
        # S3's DeleteObjects, up to a thousand keys a request; a missing key is no error.
        paths = [checked_key(key) for key in keys]
        if paths:
            await obstore.delete_async(self._store, paths)

    async def exists(self, key: str) -> bool:
        try:
            await obstore.head_async(self._store, checked_key(key))
        except FileNotFoundError:
            return False
        return True


class _Abandoned(Exception):
    """The write was cancelled: the upload must be aborted."""


class _Feed:
    """The chunks of one upload, counted; after ``abandon`` it fails, so the upload aborts."""

    def __init__(self, chunks: AsyncIterable[bytes]) -> None:
        self._chunks = aiter(chunks)
        self._pulling: asyncio.Task[Any] | None = None
        self._abandoned = False
        self.size = 0

    def __aiter__(self) -> _Feed:
        return self

    async def __anext__(self) -> bytes:
        if self._abandoned:
            raise _Abandoned
        # obstore awaits each chunk in a task of its own, which ``abandon`` may cancel.
        self._pulling = asyncio.current_task()
        try:
            chunk = await anext(self._chunks)
        finally:
            self._pulling = None
        self.size += len(chunk)
        return chunk

    def abandon(self) -> None:
        self._abandoned = True
        # A chunk being awaited may never come (a client gone quiet): stop waiting for it.
        if self._pulling is not None:
            self._pulling.cancel()


async def _aborted(upload: asyncio.Future[Any]) -> None:
    """Waits, for a while, until an abandoned upload has been aborted."""
    # Retrieved, so that an abort finishing after we stop waiting is not reported as lost.
    upload.add_done_callback(lambda done: done.cancelled() or done.exception())
    # Whatever ends the wait (the abort's own error, the time, another cancellation), the
    # write was cancelled and its caller is told so.
    with contextlib.suppress(Exception, asyncio.CancelledError):
        await asyncio.wait_for(asyncio.shield(upload), ABORT_WAIT_SECONDS)
