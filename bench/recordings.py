"""Recordings: the audio routes and the retention sweep, each against a baseline in one run.

    .venv/bin/python bench/recordings.py [--admin-url postgresql+asyncpg://...] [--repeat 10]

1. Throughput: 5 MB recordings (and 50 MB ones) uploaded (sealed) and downloaded (opened)
   through the real server (`registry serve` on loopback, over PostgreSQL) against a plain
   Starlette app under uvicorn that streams the same bytes to and from files through the
   same blob store, with no encryption, authorisation or audit; and each one's fixed cost
   per request, the time of a 1,000-byte recording.
2. Memory: the server's peak RSS while it takes in and hands out a 500 MB recording, against
   the same for a 50 MB one: streaming means the two are the same.
3. Sweep: 100,000 expired recordings erased by `registry.recordings.retention.sweep`
   against a bare SQL DELETE of as many rows (and that DELETE plus unlinking the files).

Server logs go to bench/.out/ (git-ignored).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import uvicorn
from _ratios import ratio_line
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from who_processes import (
    bench_databases,
    database_url,
    for_asyncpg,
    free_port,
    registry_command,
    registry_env,
    running,
    seed_registry,
    wait_until_up,
)

from registry import clock, migrate
from registry.access import service as access
from registry.access.policy import Role
from registry.access.service import Actor
from registry.audit.service import AuditLog
from registry.blobs import LocalBlobStore
from registry.crypto import KeyRing
from registry.db import create_engine, session_factory, transaction
from registry.recordings import calls
from registry.recordings.models import Direction, SubjectKind
from registry.recordings.retention import sweep
from registry.sealed_blobs import BLOCK_BYTES, in_blocks

DEFAULT_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
# Each run adds a suffix of its own to these (see who_processes.unique_name).
DB_PREFIXES = ("registry_bench_rec", "registry_bench_rec_audit")
MB = 1_000_000
# The recording the aim is set for, a larger one over which each request's fixed cost
# spreads, and a tiny one that is nearly all fixed cost.
TRANSFER_SIZES = (5 * MB, 50 * MB, 1_000)
MEMORY_MB = (50, 500)
SWEEP_ROWS = 100_000
PARTS = ("throughput", "memory", "sweep")
# What a recorder pushes at a time; the stand-in audio repeats a random block of BLOCK.
PIECE = 64 * 1024
BLOCK = 1 << 20
PURPOSE = "quality-control"
WARMUP = 2
SEED = 20261130
HTTP_TIMEOUT = 600.0
RSS_INTERVAL = 0.002
SYSTEM = Actor.system("bench")

REGISTRY, PLAIN = "registry (sealed, audited)", "plain pass-through"


# ---------------------------------------------------------------- the baseline server


def plain_app(folder: Path) -> Starlette:
    """The same routes, streaming through the same blob store in the same blocks, and no more."""
    store = LocalBlobStore(folder)

    async def upload(request: Request) -> Response:
        key = f"{uuid.uuid4()}.plain"
        size = await store.write(key, in_blocks(request.stream()))
        return JSONResponse({"id": key, "size": size}, status_code=201)

    async def download(request: Request) -> Response:
        audio = store.read(request.path_params["recording_id"], BLOCK_BYTES)
        return StreamingResponse(audio, media_type="application/octet-stream")

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/calls/{call_id}/audio/{segment}", upload, methods=["PUT"]),
            Route("/recordings/{recording_id}/audio", download, methods=["GET"]),
        ]
    )


def serve_plain(folder: Path, port: int) -> None:
    # As `registry serve` runs the registry: uvicorn.run, access log at "info".
    uvicorn.run(plain_app(folder), host="127.0.0.1", port=port, log_level="info")


def plain_command(folder: Path, port: int) -> list[str]:
    return [sys.executable, __file__, "--serve-plain", str(folder), "--port", str(port)]


# ---------------------------------------------------------------- the registry's side


@dataclass(frozen=True)
class Scene:
    main_url: str
    audit_url: str
    call_id: str
    uploader: str
    listener: str


async def prepare(admin_url: str, names: list[str], var_dir: Path) -> Scene:
    """Seeds the fresh databases (main, audit); an uploader, a listener and a consented call."""
    main_url, audit_url = (database_url(admin_url, name) for name in names)
    await asyncio.to_thread(migrate.upgrade, main_url)
    await asyncio.to_thread(migrate.upgrade_audit, audit_url)
    await seed_registry(main_url)
    # The server loads this same ring from its var dir.
    ring = KeyRing.load_or_create(var_dir / "keyring.json")
    engine = create_engine(main_url)
    tokens = {}
    try:
        async with transaction(session_factory(engine)) as session:
            for role in (Role.IT_OPERATOR, Role.QA_SPECIALIST):
                handle = f"bench-{role.value.replace('_', '-')}"
                await access.create_principal(
                    session=session,
                    actor=SYSTEM,
                    handle=handle,
                    display_name=handle,
                    roles=[role],
                    confidentiality_committed_on=clock.today(),
                    trained_on=clock.today(),
                )
                tokens[role], _ = await access.issue_token(
                    session=session, actor=SYSTEM, handle=handle, label="bench"
                )
            customer = await calls.register_subject(
                session=session,
                actor=SYSTEM,
                ring=ring,
                kind=SubjectKind.CUSTOMER,
                identifiers=calls.Identifiers(phone="+44 20 7946 0999"),
                country_code="GB",
            )
            call = await calls.register_call(
                session=session,
                actor=SYSTEM,
                direction=Direction.INBOUND,
                company_slug="mood-media-uk",
                customer_id=customer.id,
                agent_id=None,
                customer_country_code="GB",
            )
            await calls.record_ivr_choice(session=session, actor=SYSTEM, call_id=call.id, digit="1")
    finally:
        await engine.dispose()
    return Scene(main_url, audit_url, call.id, tokens[Role.IT_OPERATOR], tokens[Role.QA_SPECIALIST])


# ---------------------------------------------------------------- one audio server


def audio(size: int) -> Iterator[bytes]:
    """``size`` bytes of incompressible audio stand-in, in pieces, never all in memory."""
    block = random.Random(SEED).randbytes(BLOCK)
    for start in range(0, size, BLOCK):
        whole = block[: min(BLOCK, size - start)]
        for at in range(0, len(whole), PIECE):
            yield whole[at : at + PIECE]


async def streamed(pieces: Iterator[bytes], digest: hashlib.blake2b | None) -> AsyncIterator[bytes]:
    for piece in pieces:
        if digest is not None:
            digest.update(piece)
        yield piece


@dataclass
class Server:
    """Either server: the same two routes, with or without the registry's tokens and purpose."""

    name: str
    client: httpx.AsyncClient
    pid: int
    upload_headers: dict[str, str]
    download_headers: dict[str, str]
    params: dict[str, str]
    # Seconds per (upload or download, size) over the timed rounds.
    timings: dict[tuple[str, int], list[float]] = field(default_factory=dict)
    # Seconds of CPU its event loop took per size, over the timed rounds, up and down.
    loop_cpu: dict[int, float] = field(default_factory=dict)

    async def upload(self, call_id: str, size: int, digest: hashlib.blake2b | None = None) -> str:
        """The new recording's ID; ``digest`` takes in what was sent."""
        response = await self.client.put(
            f"/calls/{call_id}/audio/full",
            content=streamed(audio(size), digest),
            headers=self.upload_headers,
        )
        if response.status_code != 201:
            raise RuntimeError(f"{self.name}: upload answered {response.status_code}")
        return str(response.json()["id"])

    async def download(self, recording_id: str, digest: hashlib.blake2b | None = None) -> int:
        """How many bytes came (the whole body is read); ``digest`` takes them in."""
        size = 0
        async with self.client.stream(
            "GET",
            f"/recordings/{recording_id}/audio",
            params=self.params,
            headers=self.download_headers,
        ) as response:
            if response.status_code != 200:
                raise RuntimeError(f"{self.name}: download answered {response.status_code}")
            async for chunk in response.aiter_raw():
                if digest is not None:
                    digest.update(chunk)
                size += len(chunk)
        return size

    async def round_trip(self, call_id: str, size: int) -> None:
        """Up and down once, checking that the very bytes come back."""
        sent, received = hashlib.blake2b(), hashlib.blake2b()
        recording = await self.upload(call_id, size, sent)
        if (await self.download(recording, received), received.digest()) != (
            size,
            sent.digest(),
        ):
            raise RuntimeError(f"{self.name} gave back other bytes than it took ({size} B)")

    def median(self, operation: str, size: int) -> float:
        return statistics.median(self.timings[operation, size])


async def start_registry(stack: contextlib.AsyncExitStack, scene: Scene, var_dir: Path) -> Server:
    port = free_port()
    env = {
        **registry_env(scene.main_url, 100, str(var_dir)),
        "REGISTRY_AUDIT_DATABASE_URL": scene.audit_url,
    }
    process = stack.enter_context(running("registry-recordings", registry_command(port), env))
    client = await stack.enter_async_context(
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=HTTP_TIMEOUT)
    )
    await wait_until_up(lambda: client.get("/healthz"), process)
    return Server(
        REGISTRY,
        client,
        process.pid,
        {"Authorization": f"Bearer {scene.uploader}", "Content-Type": "audio/wav"},
        {"Authorization": f"Bearer {scene.listener}"},
        {"purpose": PURPOSE},
    )


async def start_plain(stack: contextlib.AsyncExitStack, folder: Path) -> Server:
    port = free_port()
    process = stack.enter_context(running("plain-audio", plain_command(folder, port)))
    client = await stack.enter_async_context(
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=HTTP_TIMEOUT)
    )
    await wait_until_up(lambda: client.get("/healthz"), process)
    return Server(PLAIN, client, process.pid, {}, {}, {})


# ---------------------------------------------------------------- 1. throughput


async def throughput(servers: list[Server], call_id: str, repeat: int) -> None:
    """Round after round, each server in turn, so that drift hits them all alike.

    Timed without hashing, which would cost the client as much as a server's work; the
    warm-up round trips check the bytes instead.
    """
    for server in servers:
        for size in TRANSFER_SIZES:
            for _ in range(WARMUP):
                await server.round_trip(call_id, size)
    for _ in range(repeat):
        for server in servers:
            for size in TRANSFER_SIZES:
                cpu = loop_cpu_seconds(server.pid)
                start = time.perf_counter()
                recording = await server.upload(call_id, size)
                middle = time.perf_counter()
                if await server.download(recording) != size:
                    raise RuntimeError(f"{server.name}: a short download")
                end = time.perf_counter()
                server.timings.setdefault(("upload", size), []).append(middle - start)
                server.timings.setdefault(("download", size), []).append(end - middle)
                server.loop_cpu[size] = (
                    server.loop_cpu.get(size, 0.0) + loop_cpu_seconds(server.pid) - cpu
                )


def print_throughput(registry: Server, plain: Server, repeat: int) -> None:
    *sizes, tiny = TRANSFER_SIZES
    columns = [(op, size) for size in sizes for op in ("upload", "download")]
    print(f"\n1. audio over HTTP, median of {repeat} rounds, MB/s")
    print(f"{'':<30}" + "".join(f"{f'{size // MB} MB {op}':>16}" for op, size in columns))
    for server in (plain, registry):
        rates = [size / MB / server.median(op, size) for op, size in columns]
        print(f"{server.name:<30}" + "".join(f"{rate:16.0f}" for rate in rates))
    ratios = [registry.median(op, size) / plain.median(op, size) for op, size in columns]
    print(
        f"{'registry / plain (time)':<30}"
        + "".join(f"{ratio:15.2f}x" for ratio in ratios)
        + f"   (aim at {sizes[0] // MB} MB: <= 1.10x)"
    )
    fixed = ", ".join(
        f"{server.name} {server.median('upload', tiny) * 1000:.1f} / "
        f"{server.median('download', tiny) * 1000:.1f}"
        for server in (plain, registry)
    )
    print(f"fixed cost per request ({tiny} B recording, upload / download ms): {fixed}")
    cpu = ", ".join(
        f"{server.name} {server.loop_cpu[tiny] / repeat * 1000:.1f}" for server in (plain, registry)
    )
    print(f"event-loop CPU per upload and download of it (ms): {cpu}")
    aim = sizes[0]
    for op in ("upload", "download"):
        ratio_line(
            f"audio_{op}_{aim // MB}mb_vs_plain",
            registry.median(op, aim) / plain.median(op, aim),
            "<= 1.10x",
        )


def loop_cpu_seconds(pid: int) -> float:
    """CPU time of the process's main thread, where its event loop runs (schedstat, in ns).

    A steadier figure than a request's time on a shared machine: it leaves out the waits.
    """
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9


# ---------------------------------------------------------------- 2. memory


def proc_status(pid: int) -> dict[str, int]:
    """The kB figures of /proc/PID/status."""
    figures = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if value.strip().endswith(" kB"):
            figures[name] = int(value.split()[0])
    return figures


class PeakRss:
    """The peak RSS of a process over a span: VmHWM reset at the start, VmRSS sampled too."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.sampled = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakRss:
        with contextlib.suppress(OSError):
            # "5" resets the high-water mark to the current RSS (proc(5), clear_refs).
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(RSS_INTERVAL):
            self.sampled = max(self.sampled, proc_status(self.pid)["VmRSS"])

    @property
    def peak_kb(self) -> int:
        return max(self.sampled, proc_status(self.pid)["VmHWM"])


@dataclass
class MemoryRow:
    size: int
    idle_kb: int
    upload_kb: int
    download_kb: int


async def memory(server: Server, call_id: str, sizes_mb: list[int]) -> list[MemoryRow]:
    rows = []
    for size in (mb * MB for mb in sizes_mb):
        sent, received = hashlib.blake2b(), hashlib.blake2b()
        idle = proc_status(server.pid)["VmRSS"]
        with PeakRss(server.pid) as up:
            recording = await server.upload(call_id, size, sent)
        with PeakRss(server.pid) as down:
            came = await server.download(recording, received)
        if (came, received.digest()) != (size, sent.digest()):
            raise RuntimeError(f"the {size // MB} MB recording came back different")
        rows.append(MemoryRow(size, idle, up.peak_kb, down.peak_kb))
    return rows


def print_memory(rows: list[MemoryRow]) -> None:
    print("\n2. RSS of the registry server, MB (peak: VmHWM, and VmRSS sampled every 2 ms)")
    print(f"{'recording':<12} {'idle':>8} {'upload peak':>14} {'download peak':>15}")
    for row in rows:
        print(
            f"{f'{row.size // MB} MB':<12} {row.idle_kb / 1024:8.1f} {row.upload_kb / 1024:14.1f}"
            f" {row.download_kb / 1024:15.1f}"
        )
    small, large = rows[0], rows[-1]
    print(
        f"{'large/small':<12} {'':>8} {large.upload_kb / small.upload_kb:13.2f}x"
        f" {large.download_kb / small.download_kb:14.2f}x   (flat: 1.00x, for"
        f" {large.size // small.size}x the audio)"
    )


# ---------------------------------------------------------------- 3. sweep


async def add_expired(url: str, call_id: str, folder: Path, count: int) -> None:
    """``count`` active recordings past their end, with COPY, and an empty blob file each."""
    expired = datetime.now(UTC) - timedelta(days=1)
    made = expired - timedelta(days=30)
    # Never unwrapped by the sweep: only its absence afterwards matters.
    placeholder = bytes(60)
    ids = [str(uuid.uuid4()) for _ in range(count)]
    records = [
        (i, call_id, "full", made, expired, "active", "bench", placeholder, f"{i}.sealed", 0)
        for i in ids
    ]
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
    await asyncio.to_thread(_touch_all, folder, [f"{i}.sealed" for i in ids])


def _touch_all(folder: Path, names: list[str]) -> None:
    for name in names:
        (folder / name).touch()


def _unlink_all(folder: Path) -> int:
    removed = 0
    for path in folder.iterdir():
        path.unlink()
        removed += 1
    return removed


@dataclass
class SweepFigures:
    delete_s: float
    unlink_s: float
    sweep_s: float


async def sweep_figures(url: str, audit_url: str, call_id: str, count: int) -> SweepFigures:
    with tempfile.TemporaryDirectory(prefix="registry-bench-sweep-") as name:
        folder = Path(name)
        await add_expired(url, call_id, folder, count)
        connection = await asyncpg.connect(for_asyncpg(url))
        try:
            start = time.perf_counter()
            status = await connection.execute(
                "DELETE FROM recording WHERE status = 'active' AND expires_at <= now()"
            )
            delete_s = time.perf_counter() - start
        finally:
            await connection.close()
        if status != f"DELETE {count}":
            raise RuntimeError(f"the baseline deleted {status!r}, not {count} rows")
        start = time.perf_counter()
        unlinked = await asyncio.to_thread(_unlink_all, folder)
        unlink_s = time.perf_counter() - start
        if unlinked != count:
            raise RuntimeError(f"the baseline unlinked {unlinked} files, not {count}")

        # The same again, rebuilt, for the sweep.
        await add_expired(url, call_id, folder, count)
        engine = create_engine(url)
        # Each erasing batch is audited before it commits: part of what the sweep costs.
        audit_log = AuditLog.open(audit_url)
        try:
            start = time.perf_counter()
            report = await sweep(
                sessions=session_factory(engine), blobs=LocalBlobStore(folder), audit_log=audit_log
            )
            sweep_s = time.perf_counter() - start
        finally:
            await engine.dispose()
            await audit_log.close()
        left = await asyncio.to_thread(lambda: sum(1 for _ in folder.iterdir()))
        connection = await asyncpg.connect(for_asyncpg(url))
        try:
            pending = await connection.fetchval("SELECT count(*) FROM pending_blob_deletion")
        finally:
            await connection.close()
        if (report.shredded, report.blobs_deleted, left, pending) != (count, count, 0, 0):
            raise RuntimeError(
                f"the sweep left work undone: {report}, {left} files, {pending} pending rows"
            )
    return SweepFigures(delete_s, unlink_s, sweep_s)


def print_sweep(figures: SweepFigures, count: int) -> None:
    print(f"\n3. erasing {count:,} expired recordings on PostgreSQL")
    lines = [
        ("bare SQL DELETE", figures.delete_s),
        ("DELETE + unlink the files", figures.delete_s + figures.unlink_s),
        ("retention.sweep", figures.sweep_s),
    ]
    for label, seconds in lines:
        print(f"{label:<28} {seconds:8.2f} s {count / seconds:12,.0f} rows/s")
    floor = figures.delete_s + figures.unlink_s
    print(
        f"{'sweep / DELETE':<28} {figures.sweep_s / figures.delete_s:8.1f}x"
        f"   sweep / (DELETE + unlink) {figures.sweep_s / floor:.1f}x"
    )
    # The goal is set on rates: the sweep's rows/s against the DELETE's.
    ratio_line("sweep_rate_vs_bare_delete", figures.delete_s / figures.sweep_s, ">= 0.50x")


# ---------------------------------------------------------------- the run


async def run(args: argparse.Namespace) -> None:
    async with bench_databases(args.admin_url, DB_PREFIXES, keep=args.keep) as names:
        with (
            tempfile.TemporaryDirectory(prefix="registry-bench-rec-") as var_name,
            tempfile.TemporaryDirectory(prefix="registry-bench-plain-") as plain_name,
        ):
            var_dir = Path(var_name)
            scene = await prepare(args.admin_url, names, var_dir)
            print(f"databases {', '.join(names)} ready; call {scene.call_id}")
            async with contextlib.AsyncExitStack() as stack:
                registry = await start_registry(stack, scene, var_dir)
                if "throughput" in args.parts:
                    plain = await start_plain(stack, Path(plain_name))
                    await throughput([registry, plain], scene.call_id, args.repeat)
                    print_throughput(registry, plain, args.repeat)
                if "memory" in args.parts:
                    print_memory(await memory(registry, scene.call_id, args.memory_mb))
            if "sweep" in args.parts:
                figures = await sweep_figures(
                    scene.main_url, scene.audit_url, scene.call_id, args.sweep_rows
                )
                print_sweep(figures, args.sweep_rows)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL, help="a database to connect to")
    parser.add_argument("--repeat", type=int, default=10, help="timed rounds of 5 MB transfers")
    parser.add_argument("--sweep-rows", type=int, default=SWEEP_ROWS, help="expired recordings")
    parser.add_argument(
        "--parts",
        nargs="+",
        choices=PARTS,
        default=list(PARTS),
        help="which parts to run (all by default)",
    )
    parser.add_argument(
        "--memory-mb",
        type=int,
        nargs=2,
        default=list(MEMORY_MB),
        help="the small and the large recording of the memory part, in MB",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the databases at the end (their names are printed)",
    )
    # Internal: how the bench starts its baseline server in a process of its own.
    parser.add_argument("--serve-plain", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.serve_plain is not None:
        serve_plain(arguments.serve_plain, arguments.port)
    else:
        asyncio.run(run(arguments))
