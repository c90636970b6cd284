"""Packages: the files handed out to data subjects and authorities, sealed like recordings.

A package may hold decrypted audio, so it gets what a recording gets: a fresh data key,
wrapped by the key ring with the package ID bound in, and its content sealed with
Cobblestone-256 into the blob store, so that nothing of it is ever in clear on disk or in
the database. Its content streams from the entries into the sealing: a ZIP archive of a
hundred recordings is never whole in memory, nor is any one of them.

zipfile writes to an unseekable stream as it goes (each member's sizes and CRC follow its
data in a data descriptor), and its writes are memory copies and a CRC, no I/O: so it runs
on the event loop, like the sealing, writing into a sink that is emptied after every step.
Only the blob store's reads and writes leave the loop, as they always do.
"""

from __future__ import annotations

import re
import uuid
import zipfile
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession

from registry import clock
from registry.access.policy import Action
from registry.access.service import Actor, authorize
from registry.blobs import BlobStore
from registry.crypto import (
    KeyRing,
    WrappedKey,
)
from registry.errors import DomainError, NotFound
from registry.recordings.erasure import within_retention
from registry.recordings.models import Recording, RecordingStatus
from registry.rights.models import Package, PackageKind
from registry.sealed_blobs import opened, seal_into

# The name a browser saves the download under: no path, no quoting needed in a header.
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,119}")
_MEDIA_TYPE = re.compile(r"[a-z]+/[a-z0-9.+-]+(; ?[a-z-]+=[a-z0-9.-]+)?", re.IGNORECASE)
# Members are extracted by the owner only: they are personal data.
_MEMBER_MODE = 0o600 << 16


class PackageExpired(DomainError):
    """The package was valid for a while and that while is over: it is not handed out."""

    code = "PACKAGE_EXPIRED"


@dataclass(frozen=True)
class Entry:
    """A file of a package: its path in the archive, and its content, opened when written."""

    name: str
    content: Callable[[], AsyncIterator[bytes]]


async def build_package(
    *,
    session: AsyncSession,
    actor: Actor,
    ring: KeyRing,
    blobs: BlobStore,
    kind: PackageKind,
    file_name: str,
    media_type: str,
    entries: Sequence[Entry],
    zipped: bool = True,
    rights_request_id: int | None = None,
    authority_request_id: int | None = None,
    valid_for: timedelta = timedelta(days=30),
) -> Package:
    """Seals ``entries`` into the blob store as one package: a ZIP archive, or (unzipped)
    the one entry as it is. The content streams through; memory holds a few blocks.

    A recording shredded after ``audio_entries`` was called is still sealed into the package
    if its blob is there (its key was read before); callers lock the recordings they pack.
    """
    authorize(
        actor, Action.AUTHORITY_REVIEW if kind is PackageKind.DISCLOSURE else Action.RIGHTS_MANAGE
    )
    if not _FILE_NAME.fullmatch(file_name):
        raise ValueError(f"not a package file name (1-120 of [A-Za-z0-9._-]): {file_name!r}")
    if not _MEDIA_TYPE.fullmatch(media_type):
        raise ValueError(f"not a media type: {media_type!r}")
    if valid_for <= timedelta(0):
        raise ValueError("a package is valid for some time")
    built_at = clock.now()
    if zipped:
        _check_member_names(entries)
        content = _zip_archive(entries, built_at)
    elif len(entries) == 1:
        content = entries[0].content()
    else:
        raise ValueError(f"an unzipped package is one entry, not {len(entries)}")
    package_id = str(uuid.uuid4())
    blob_key = f"{package_id}.sealed"
    wrapped, size = await seal_into(
        blobs, ring, blob_id=package_id, blob_key=blob_key, content=content
    )
    package = Package(
        id=package_id,
        kind=kind,
        rights_request_id=rights_request_id,
        authority_request_id=authority_request_id,
        file_name=file_name,
        media_type=media_type,
        built_at=built_at,
        built_by=actor.handle,
        expires_at=built_at + valid_for,
        key_id=wrapped.key_id,
        wrapped_key=wrapped.ciphertext,
        blob_key=blob_key,
        size=size,
    )
    session.add(package)
    try:
        await session.flush()
    except BaseException:
        # Inline, so that it also runs when the task is being cancelled.
        await blobs.delete(blob_key)
        raise
    return package


def audio_file_name(recording_id: str, folder: str = "recordings") -> str:
    """Where ``audio_entries`` puts a recording's audio in the archive."""
    return f"{folder}/{recording_id}.audio"


async def servable(session: AsyncSession, recordings: Sequence[Recording]) -> list[Recording]:
    """Those of ``recordings`` whose audio may still be handed out, in order.

    Shredded and erased recordings have no audio any more. A recording past its period is
    expired from that moment, whether or not the sweep has erased it yet (R-RET-1), unless a
    hold keeps it longer (R-RET-2): the sweep would keep it too.
    """
    active = [
        r
        for r in recordings
        if r.status is RecordingStatus.ACTIVE and r.key_id is not None and r.wrapped_key is not None
    ]
    return await within_retention(session, active, on=clock.now())


def audio_entries(
    *, ring: KeyRing, blobs: BlobStore, recordings: Sequence[Recording], folder: str = "recordings"
) -> list[Entry]:
    """The audio of each recording, in order, opened only when its entry is written.

    Callers pass what ``servable`` kept; what has no key any more is left out all the same.
    """
    return [
        Entry(
            audio_file_name(recording.id, folder),
            # The key and blob are read now: the ORM row may be expired by the time the
            # entry is written, and must not be loaded again then.
            partial(
                _opened_audio,
                ring,
                blobs,
                recording.id,
                WrappedKey(recording.key_id, recording.wrapped_key),
                recording.blob_key,
            ),
        )
        for recording in recordings
        if recording.status is RecordingStatus.ACTIVE
        and recording.key_id is not None
        and recording.wrapped_key is not None
    ]


async def open_package(
    *, session: AsyncSession, actor: Actor, ring: KeyRing, blobs: BlobStore, package_id: str
) -> tuple[Package, AsyncIterator[bytes]]:
    """Checks the package may be handed out, counts the download, and returns its content
    as a lazy stream; ``CiphertextInvalid`` comes out of the stream where it proves false.
    """
    authorize(actor, Action.PACKAGE_DOWNLOAD)
    package = await session.get(Package, package_id)
    if package is None or package.key_id is None or package.wrapped_key is None:
        raise NotFound(f"no package {package_id!r}")
    if package.expires_at <= clock.now():
        raise PackageExpired(f"package {package_id!r} expired at {package.expires_at.isoformat()}")
    wrapped = WrappedKey(package.key_id, package.wrapped_key)
    content = await opened(
        blobs, ring, blob_id=package.id, wrapped=wrapped, blob_key=package.blob_key
    )
    # In SQL, so that downloads at the same time are all counted.
    package.downloads = Package.downloads + 1
    await session.flush()
    await session.refresh(package, ["downloads"])
    return package, content


async def _opened_audio(
    ring: KeyRing, blobs: BlobStore, recording_id: str, wrapped: WrappedKey, blob_key: str
) -> AsyncIterator[bytes]:
    async for block in await opened(
        blobs, ring, blob_id=recording_id, wrapped=wrapped, blob_key=blob_key
    ):
        yield block


def _check_member_names(entries: Sequence[Entry]) -> None:
    """Relative paths that stay inside the folder they are extracted to, each used once."""
    seen: set[str] = set()
    for entry in entries:
        parts = entry.name.split("/")
        if (
            not entry.name.isprintable()
            or "\\" in entry.name
            or any(part in ("", ".", "..") for part in parts)
        ):
            raise ValueError(f"not a relative path inside the archive: {entry.name!r}")
        if entry.name in seen:
            raise ValueError(f"two entries named {entry.name!r}")
        seen.add(entry.name)


class _Sink:
    """Where zipfile writes; what it wrote is taken out after each step, so nothing piles up.

    Neither ``tell`` nor ``seek``: zipfile then counts offsets itself and writes each
    member's sizes after its data, as it must for a stream.
    """

    def __init__(self) -> None:
        self._written: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._written.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> bytes:
        # One piece is handed on as it is: join copies only when there are several.
        taken = b"".join(self._written)
        self._written.clear()
        return taken


async def _zip_archive(entries: Sequence[Entry], built_at: datetime) -> AsyncIterator[bytes]:
    sink = _Sink()
    # Stored, not deflated: audio is compressed already, and deflating hundreds of
    # megabytes on the event loop would stall every other request for little gain.
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as archive:
        for entry in entries:
            member = zipfile.ZipInfo(entry.name, date_time=built_at.timetuple()[:6])
            member.external_attr = _MEMBER_MODE
            # Sizes are unknown until the end; zip64 lets a member pass 4 GiB.
            with archive.open(member, "w", force_zip64=True) as writing:
                chunks = entry.content()
                try:
                    async for chunk in chunks:
                        writing.write(chunk)
                        if written := sink.take():
                            yield written
                finally:
                    # A recording's blob stays open until its reader is closed.
                    if isinstance(chunks, AsyncGenerator):
                        await chunks.aclose()
            if written := sink.take():
                yield written
    if written := sink.take():
        yield written
