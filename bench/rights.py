"""Rights: erasing a subject and answering an access request, each against a baseline in one run.

    .venv/bin/python bench/rights.py [--admin-url postgresql+asyncpg://...] [--repeat 3]
        [--erase-rows 10000] [--recordings 100] [--recording-mb 5]

a. Erasure: a subject with 10,000 recordings erased by
   `registry.rights.effects.erase_subject` (keys shredded, tombstones left, identifiers
   erased), in one transaction, against a bare SQL DELETE of the same rows; the time and
   the SQL statements each sends.
b. Access package: `registry.rights.answers.access_package` for a subject with 100
   recordings of 5 MB (each opened, put in a ZIP archive and sealed again as one package),
   against plainly copying the same 500 MB of sealed blobs into one blob through the same
   blob store; the time, and the bench process's peak RSS over each, for 10 recordings
   and for 100 (streaming means the peaks match).

Both run on PostgreSQL, in a database of their own (`registry_bench_rights_<hex>`, a name
unique to the run, dropped at the end, whatever happens, unless --keep); the blobs and the
key ring live in a temp folder.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import os
import statistics
import tempfile
import time
import uuid
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from _ratios import ratio_line
from recordings import PeakRss, audio, proc_status, streamed
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from who_processes import (
    RoundTrips,
    bench_databases,
    database_url,
    for_asyncpg,
    seed_registry,
)

from registry import clock, migrate
from registry.access.service import Actor
from registry.blobs import LocalBlobStore
from registry.crypto import KeyRing
from registry.db import create_engine, session_factory, transaction
from registry.record.inventory.models import Entity
from registry.recordings import calls, storage
from registry.recordings.models import Direction, Segment, Subject, SubjectKind
from registry.rights import answers
from registry.rights.effects import erase_subject
from registry.rights.models import Package, RequestKind, RequestStatus, RightsRequest
from registry.rights.package import open_package
from registry.sealed_blobs import BLOCK_BYTES

DEFAULT_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
# Each run adds a suffix of its own (see who_processes.unique_name).
DB_PREFIX = "registry_bench_rights"
MB = 1_000_000
ERASE_ROWS = 10_000
# The erased subject's recordings are spread over calls as a busy agent's would be.
RECORDINGS_PER_CALL = 100
PACKAGE_RECORDINGS = 100
SMALL_PACKAGE_RECORDINGS = 10
RECORDING_MB = 5
SYSTEM = Actor.system("bench")
Sessions = async_sessionmaker[AsyncSession]


async def prepare(admin_url: str, name: str) -> str:
    url = database_url(admin_url, name)
    await asyncio.to_thread(migrate.upgrade, url)
    await seed_registry(url)
    return url


async def new_subject(sessions: Sessions, ring: KeyRing, kind: SubjectKind) -> int:
    async with transaction(sessions) as session:
        subject = await calls.register_subject(
            session=session,
            actor=SYSTEM,
            ring=ring,
            kind=kind,
            identifiers=calls.Identifiers("Bench Subject", "+44 20 7946 0998", "b@example.test"),
            country_code="GB",
        )
    return subject.id


async def consented_call(sessions: Sessions, customer_id: int) -> str:
    async with transaction(sessions) as session:
        call = await calls.register_call(
            session=session,
            actor=SYSTEM,
            direction=Direction.INBOUND,
            company_slug="mood-media-uk",
            customer_id=customer_id,
            agent_id=None,
            customer_country_code="GB",
        )
        await calls.record_ivr_choice(session=session, actor=SYSTEM, call_id=call.id, digit="1")
    return call.id


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


# ---------------------------------------------------------------- a. erasure


async def add_recordings(url: str, call_ids: Sequence[str], count: int) -> None:
    """``count`` active recordings spread over ``call_ids``, with COPY: through the services
    it would take minutes and measure nothing the erasure does."""
    made = datetime.now(UTC)
    # Never unwrapped by an erasure: only its absence afterwards matters.
    placeholder = bytes(60)
    records = []
    for number in range(count):
        recording_id = str(uuid.uuid4())
        call_id = call_ids[number % len(call_ids)]
        expires = made + timedelta(days=30)
        blob_key = f"{recording_id}.sealed"
        records.append(
            (
                recording_id,
                call_id,
                "full",
                made,
                expires,
                "active",
                "bench",
                placeholder,
                blob_key,
                0,
            )
        )
    connection = await asyncpg.connect(for_asyncpg(url))
    try:
        await connection.copy_records_to_table(
            "recording",
            columns=[
                "id",
                "call_id",
                "segment",
                "made_at",
                "expires_at",
                "status",
                "key_id",
                "wrapped_key",
                "blob_key",
                "size",
            ],
            records=records,
        )
        # Plan and scan as a long-lived table would, for both contenders alike.
        await connection.execute("VACUUM ANALYZE recording")
    finally:
        await connection.close()


async def delete_recordings_of(url: str, subject_id: int) -> tuple[int, float]:
    """The baseline: one bare DELETE of the subject's recordings; the rows gone, and the
    seconds it took (connecting left out, as erase_subject's pooled connection is)."""
    connection = await asyncpg.connect(for_asyncpg(url))
    try:
        start = time.perf_counter()
        status = await connection.execute(
            "DELETE FROM recording WHERE call_id IN"
            " (SELECT id FROM call WHERE customer_id = $1 OR agent_id = $1)",
            subject_id,
        )
        seconds = time.perf_counter() - start
    finally:
        await connection.close()
    return int(status.split()[-1]), seconds


@dataclass
class ErasureFigures:
    delete_s: list[float]
    erase_s: list[float]
    round_trips: int


async def erasure_figures(url: str, ring: KeyRing, count: int, repeat: int) -> ErasureFigures:
    engine = create_engine(url)
    counter = RoundTrips(engine)
    sessions = session_factory(engine)
    figures = ErasureFigures([], [], 0)
    try:
        subject_id = await new_subject(sessions, ring, SubjectKind.CUSTOMER)
        call_count = max(1, count // RECORDINGS_PER_CALL)
        call_ids = [await consented_call(sessions, subject_id) for _ in range(call_count)]
        for _ in range(repeat):
            await add_recordings(url, call_ids, count)
            deleted, seconds = await delete_recordings_of(url, subject_id)
            figures.delete_s.append(seconds)
            if deleted != count:
                raise RuntimeError(f"the baseline deleted {deleted} rows, not {count}")

            await add_recordings(url, call_ids, count)
            # Warm the pool, as a server's is.
            async with sessions() as session:
                await session.get_one(Subject, subject_id)
            start = time.perf_counter()
            counter.count = 0
            async with transaction(sessions) as session:
                subject = await session.get_one(Subject, subject_id)
                outcome = await erase_subject(session=session, actor=SYSTEM, subject=subject)
            figures.erase_s.append(time.perf_counter() - start)
            # The whole transaction's: BEGIN, the subject, the erasure, COMMIT.
            figures.round_trips = counter.count
            if outcome["recordings_erased"] != count:
                raise RuntimeError(f"erase_subject left work undone: {outcome}")
            # The next round starts from the same rows: none shredded yet.
            await delete_recordings_of(url, subject_id)
    finally:
        await engine.dispose()
    return figures


def print_erasure(figures: ErasureFigures, count: int, repeat: int) -> None:
    print(f"\na. erasing a subject with {count:,} recordings on PostgreSQL, median of {repeat}")
    lines = [
        ("bare SQL DELETE", median(figures.delete_s), 1),
        ("effects.erase_subject", median(figures.erase_s), figures.round_trips),
    ]
    for label, seconds, round_trips in lines:
        print(
            f"{label:<28} {seconds:8.3f} s {count / seconds:12,.0f} rows/s"
            f" {round_trips:6d} round trips"
        )
    ratio = median(figures.erase_s) / median(figures.delete_s)
    print(f"{'erase_subject / DELETE':<28} {ratio:8.1f}x")
    ratio_line(f"erase_subject_{count}_recordings_vs_delete", ratio, "<= 2.00x")


# ---------------------------------------------------------------- b. access package


@dataclass(frozen=True)
class Answerable:
    subject_id: int
    request_id: int
    blob_keys: list[str]


async def recorded_subject(
    sessions: Sessions, ring: KeyRing, blobs: LocalBlobStore, count: int, size: int
) -> Answerable:
    """A customer with ``count`` recordings of ``size`` bytes, stored through the service,
    and an access request of theirs under way."""
    subject_id = await new_subject(sessions, ring, SubjectKind.CUSTOMER)
    blob_keys = []
    for _ in range(count):
        call_id = await consented_call(sessions, subject_id)
        async with transaction(sessions) as session:
            recording = await storage.store(
                session=session,
                actor=SYSTEM,
                ring=ring,
                blobs=blobs,
                call_id=call_id,
                segment=Segment.FULL,
                audio=streamed(audio(size), None),
            )
        blob_keys.append(recording.blob_key)
    async with transaction(sessions) as session:
        controller = await session.scalar(select(Entity).where(Entity.slug == "mood-media-uk"))
        assert controller is not None
        request = RightsRequest(
            kind=RequestKind.ACCESS,
            status=RequestStatus.IN_PROGRESS,
            controller_id=controller.id,
            subject_id=subject_id,
            received_at=clock.now(),
            received_by=SYSTEM.handle,
            due_at=clock.now() + timedelta(days=30),
        )
        session.add(request)
        await session.flush()
    return Answerable(subject_id, request.id, blob_keys)


async def copy_sealed(blobs: LocalBlobStore, subject: Answerable) -> str:
    """The baseline: the same sealed bytes read and written as one blob, nothing more."""

    async def concatenated() -> AsyncIterator[bytes]:
        for key in subject.blob_keys:
            async for block in blobs.read(key, BLOCK_BYTES):
                yield block

    key = f"copy-{uuid.uuid4()}"
    await blobs.write(key, concatenated())
    return key


async def build_access(
    sessions: Sessions, ring: KeyRing, blobs: LocalBlobStore, subject: Answerable
) -> str:
    async with transaction(sessions) as session:
        request = await session.get_one(RightsRequest, subject.request_id)
        package = await answers.access_package(
            session=session,
            actor=SYSTEM,
            ring=ring,
            blobs=blobs,
            request=request,
            subject=await session.get_one(Subject, subject.subject_id),
        )
    return package.blob_key


async def measured(step: Callable[[], Awaitable[str]], blobs: LocalBlobStore) -> tuple[float, int]:
    """Seconds and peak RSS (kB) of ``step``; the blob it leaves is deleted afterwards."""
    with PeakRss(os.getpid()) as peak:
        start = time.perf_counter()
        key = await step()
        seconds = time.perf_counter() - start
    await blobs.delete(key)
    return seconds, peak.peak_kb


async def check_package(
    sessions: Sessions,
    ring: KeyRing,
    blobs: LocalBlobStore,
    subject: Answerable,
    blob_key: str,
    size: int,
) -> None:
    """Opens the package and checks each recording in it against the audio stored."""
    expected = hashlib.sha256()
    for piece in audio(size):
        expected.update(piece)
    async with transaction(sessions) as session:
        package_id = await session.scalar(select(Package.id).where(Package.blob_key == blob_key))
        assert package_id is not None
        _, content = await open_package(
            session=session, actor=SYSTEM, ring=ring, blobs=blobs, package_id=package_id
        )
        with tempfile.TemporaryFile() as opened:
            async for block in content:
                opened.write(block)
            opened.seek(0)
            with zipfile.ZipFile(opened) as archive:
                members = [n for n in archive.namelist() if n.startswith("recordings/")]
                if len(members) != len(subject.blob_keys):
                    raise RuntimeError(f"the package holds {len(members)} recordings")
                for name in members:
                    digest = hashlib.sha256()
                    with archive.open(name) as member:
                        while piece := member.read(io.DEFAULT_BUFFER_SIZE * 64):
                            digest.update(piece)
                    if digest.digest() != expected.digest():
                        raise RuntimeError(f"{name} is not the audio that was stored")


@dataclass
class PackageFigures:
    idle_kb: int
    copy_s: list[float]
    build_s: list[float]
    copy_kb: list[int]
    build_kb: list[int]
    small_build_kb: int


async def package_figures(
    url: str, ring: KeyRing, blobs: LocalBlobStore, count: int, size: int, repeat: int
) -> PackageFigures:
    engine = create_engine(url)
    sessions = session_factory(engine)
    try:
        small = await recorded_subject(sessions, ring, blobs, SMALL_PACKAGE_RECORDINGS, size)
        large = await recorded_subject(sessions, ring, blobs, count, size)
        print(f"stored {count + SMALL_PACKAGE_RECORDINGS} recordings of {size // MB} MB")
        # Warm-up, and the check that the package holds the very audio stored.
        checked = await build_access(sessions, ring, blobs, small)
        await check_package(sessions, ring, blobs, small, checked, size)
        await blobs.delete(checked)
        idle = proc_status(os.getpid())["VmRSS"]
        _, small_kb = await measured(lambda: build_access(sessions, ring, blobs, small), blobs)
        figures = PackageFigures(idle, [], [], [], [], small_kb)
        for _ in range(repeat):
            seconds, kb = await measured(lambda: copy_sealed(blobs, large), blobs)
            figures.copy_s.append(seconds)
            figures.copy_kb.append(kb)
            seconds, kb = await measured(lambda: build_access(sessions, ring, blobs, large), blobs)
            figures.build_s.append(seconds)
            figures.build_kb.append(kb)
    finally:
        await engine.dispose()
    return figures


def print_package(figures: PackageFigures, count: int, size: int, repeat: int) -> None:
    total = count * size
    print(
        f"\nb. an access package of {count} recordings of {size // MB} MB"
        f" ({total // MB} MB of audio), median of {repeat}"
    )
    print(f"{'':<34} {'time s':>8} {'MB/s':>8} {'peak RSS MB':>12}")
    lines = [
        ("copy the sealed blobs (baseline)", figures.copy_s, figures.copy_kb),
        ("answers.access_package", figures.build_s, figures.build_kb),
    ]
    for label, seconds, kb in lines:
        print(
            f"{label:<34} {median(seconds):8.2f} {total / MB / median(seconds):8.0f}"
            f" {median(kb) / 1024:12.1f}"
        )
    ratio = median(figures.build_s) / median(figures.copy_s)
    print(f"{'access_package / copy (time)':<34} {ratio:7.2f}x")
    small_mb = SMALL_PACKAGE_RECORDINGS * size // MB
    print(
        f"peak RSS of the process (idle {figures.idle_kb / 1024:.1f} MB): a package of"
        f" {small_mb} MB {figures.small_build_kb / 1024:.1f} MB, of {total // MB} MB"
        f" {median(figures.build_kb) / 1024:.1f} MB:"
        f" {median(figures.build_kb) / figures.small_build_kb:.2f}x"
        f" (flat: 1.00x, for {count // SMALL_PACKAGE_RECORDINGS}x the audio)"
    )


# ---------------------------------------------------------------- the run


async def run(args: argparse.Namespace) -> None:
    async with bench_databases(args.admin_url, [DB_PREFIX], keep=args.keep) as [name]:
        with tempfile.TemporaryDirectory(prefix="registry-bench-rights-") as folder:
            ring = KeyRing.load_or_create(Path(folder) / "keyring.json")
            blobs = LocalBlobStore(Path(folder) / "blobs")
            url = await prepare(args.admin_url, name)
            print(f"database {name} ready")
            erasure = await erasure_figures(url, ring, args.erase_rows, args.repeat)
            print_erasure(erasure, args.erase_rows, args.repeat)
            size = args.recording_mb * MB
            package = await package_figures(url, ring, blobs, args.recordings, size, args.repeat)
            print_package(package, args.recordings, size, args.repeat)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL, help="a database to connect to")
    parser.add_argument("--repeat", type=int, default=3, help="timed rounds of each part")
    parser.add_argument("--erase-rows", type=int, default=ERASE_ROWS, help="recordings erased")
    parser.add_argument("--recordings", type=int, default=PACKAGE_RECORDINGS)
    parser.add_argument("--recording-mb", type=int, default=RECORDING_MB)
    parser.add_argument(
        "--keep", action="store_true", help="keep the database at the end (its name is printed)"
    )
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(run(parse_args()))
