"""The audit chain: append and verify throughput against plain SHA-256, and its cost per request.

    .venv/bin/python bench/audit.py [--admin-url postgresql+asyncpg://...] [--events 5000]

For each backend (the embedded SQLite file, and PostgreSQL) it appends events one per
transaction (as a request does) and a hundred per transaction, then verifies the
chain; the baseline is hashlib.sha256 chaining the very same bytes in this process.
Then it times a request that writes one audit event through the real app in-process,
against the same request's audit append alone: the share of a request the audit costs.
On PostgreSQL, an append of one event is timed against one bare durable INSERT (its own
transaction, committed to disk) interleaved with it, and appends by 16 concurrent writers
against the same appends one at a time: what group commit gains.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import httpx
from _ratios import ratio_line
from who_processes import bench_databases, database_url, for_asyncpg

from registry import migrate
from registry.access import service as access
from registry.access.policy import Role
from registry.access.service import Actor
from registry.app import build_app
from registry.audit import chain
from registry.audit.models import Outcome
from registry.audit.service import AuditLog, Entry
from registry.db import create_engine, session_factory, transaction
from registry.settings import Settings

DEFAULT_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
# Each run adds a suffix of its own to these (see who_processes.unique_name).
DB_PREFIXES = ("registry_bench_main", "registry_bench_audit")
REQUESTS = 200
CONCURRENT_WRITERS = 16


def entry(n: int) -> Entry:
    return Entry(
        principal=f"user-{n % 50}",
        action="updateEntity",
        outcome=Outcome.ALLOWED,
        target=f"slug=entity-{n}",
        request_id=f"{n:032x}",
        detail={"code": "OK"},
    )


def plain_sha256(count: int) -> float:
    """Seconds to chain ``count`` events' canonical bytes with hashlib alone."""
    events = [
        chain.canonical(
            seq=n + 1,
            at="2026-11-30T09:00:00+00:00",
            principal=e.principal,
            action=e.action,
            target=e.target,
            purpose=e.purpose,
            outcome=e.outcome.value,
            request_id=e.request_id,
            detail=e.detail,
        )
        for n, e in ((n, entry(n)) for n in range(count))
    ]
    start = time.perf_counter()
    previous = bytes(32)
    for event in events:
        previous = hashlib.sha256(previous + event).digest()
    return time.perf_counter() - start


async def timed(work: Callable[[], Awaitable[object]]) -> float:
    start = time.perf_counter()
    await work()
    return time.perf_counter() - start


async def chain_figures(url: str, count: int) -> dict[str, float]:
    log = AuditLog.open(url)
    try:
        one_by_one = await timed(lambda: _append_each(log, count))
        batched = await timed(lambda: _append_batches(log, count, 100))
        verified = await timed(log.verify)
        result = await log.verify()
        assert result.intact and result.checked == 2 * count, result
    finally:
        await log.close()
    return {"append 1/txn": one_by_one, "append 100/txn": batched, "verify": verified / 2}


async def _append_each(log: AuditLog, count: int) -> None:
    for n in range(count):
        await log.append([entry(n)])


async def _append_batches(log: AuditLog, count: int, size: int) -> None:
    for start in range(0, count, size):
        await log.append([entry(n) for n in range(start, min(count, start + size))])


async def request_figures(main_url: str, audit_url: str) -> tuple[float, float]:
    """Median ms of a request that audits one event, and of one audit append alone."""
    engine = create_engine(main_url)
    log = AuditLog.open(audit_url)
    system = Actor.system("bench")
    async with transaction(session_factory(engine)) as session:
        await access.create_principal(
            session=session,
            actor=system,
            handle="bench-feed",
            display_name="feed",
            roles=[Role.INTEGRATION],
        )
        token, _ = await access.issue_token(
            session=session, actor=system, handle="bench-feed", label="bench"
        )
    settings = Settings(
        var_dir=Path(tempfile.mkdtemp(prefix="registry-bench-")),
        database_url=main_url,
        audit_database_url=audit_url,
        env="production",
        rate_limit_per_minute=0,
    )
    app = build_app(settings, engine=engine, audit_log=log)
    # Refused for this role: one audit event, and nothing else written anywhere.
    body = {"query": 'mutation { retireEntity(slug: "x", reason: "y") { errors { __typename } } }'}
    requests, appends = [], []
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench"
        ) as client:
            for n in range(REQUESTS):
                start = time.perf_counter()
                response = await client.post(
                    "/graphql", json=body, headers={"Authorization": f"Bearer {token}"}
                )
                requests.append(time.perf_counter() - start)
                assert "ForbiddenError" in response.text, response.text
                appends.append(await timed(lambda n=n: log.append([entry(n)])))
    finally:
        await log.close()
        await engine.dispose()
    return statistics.median(requests) * 1000, statistics.median(appends) * 1000


async def append_against_insert(audit_url: str, count: int) -> tuple[float, float]:
    """Median ms of appending one event, and of one bare INSERT committed on its own (the
    server's default synchronous_commit: durable), taken in turn."""
    log = AuditLog.open(audit_url)
    connection = await asyncpg.connect(for_asyncpg(audit_url))
    appends, inserts = [], []
    try:
        await connection.execute(
            "CREATE TABLE bench_bare_insert (id bigserial PRIMARY KEY, body jsonb NOT NULL)"
        )
        for n in range(count):
            appends.append(await timed(lambda n=n: log.append([entry(n)])))
            inserts.append(
                await timed(
                    lambda n=n: connection.execute(
                        "INSERT INTO bench_bare_insert (body) VALUES ($1::jsonb)",
                        f'{{"n": {n}}}',
                    )
                )
            )
    finally:
        await connection.close()
        await log.close()
    return statistics.median(appends) * 1000, statistics.median(inserts) * 1000


async def concurrent_against_serial(audit_url: str, count: int) -> tuple[float, float]:
    """Events/s appended one at a time, and by CONCURRENT_WRITERS writers at once, one
    event per append as a request makes: alternated, twice each."""
    log = AuditLog.open(audit_url)
    per_writer = max(1, count // CONCURRENT_WRITERS)
    total = per_writer * CONCURRENT_WRITERS

    async def writer(first: int) -> None:
        for n in range(first, first + per_writer):
            await log.append([entry(n)])

    async def together() -> None:
        await asyncio.gather(*(writer(w * per_writer) for w in range(CONCURRENT_WRITERS)))

    serial, concurrent = [], []
    try:
        for _ in range(2):
            serial.append(await timed(lambda: _append_each(log, total)))
            concurrent.append(await timed(together))
    finally:
        await log.close()
    return total / min(serial), total / min(concurrent)


def report(backend: str, count: int, figures: dict[str, float], baseline: float) -> None:
    for name, seconds in figures.items():
        rate, ratio = count / seconds, seconds / baseline
        print(f"{backend:>10}  {name:<15} {rate:>12,.0f} events/s   {ratio:>10,.0f}x sha256")


async def run(args: argparse.Namespace) -> None:
    baseline = plain_sha256(args.events)
    print(f"plain sha256 chain over the same bytes: {args.events / baseline:,.0f} events/s\n")
    with tempfile.TemporaryDirectory() as folder:
        sqlite_url = f"sqlite+aiosqlite:///{Path(folder) / 'audit.db'}"
        await asyncio.to_thread(migrate.upgrade_audit, sqlite_url)
        report("sqlite", args.events, await chain_figures(sqlite_url, args.events), baseline)
    async with bench_databases(args.admin_url, DB_PREFIXES, keep=args.keep) as names:
        main_url, audit_url = (database_url(args.admin_url, name) for name in names)
        await asyncio.to_thread(migrate.upgrade, main_url)
        await asyncio.to_thread(migrate.upgrade_audit, audit_url)
        report("postgresql", args.events, await chain_figures(audit_url, args.events), baseline)
        request_ms, append_ms = await request_figures(main_url, audit_url)
        one_ms, insert_ms = await append_against_insert(audit_url, REQUESTS)
        serial, concurrent = await concurrent_against_serial(audit_url, args.events // 5)
    print(
        f"\nper audited request (PostgreSQL, in-process, median of {REQUESTS}): "
        f"request {request_ms:.2f} ms, its audit append {append_ms:.2f} ms "
        f"({append_ms / request_ms:.0%} of the request)"
    )
    print(
        f"append of one event {one_ms:.2f} ms against one bare durable INSERT {insert_ms:.2f} ms"
        f" (median of {REQUESTS}, in turn)"
    )
    print(
        f"appends of one event: one at a time {serial:,.0f} events/s,"
        f" {CONCURRENT_WRITERS} writers at once {concurrent:,.0f} events/s"
    )
    ratio_line("audit_append_vs_bare_insert", one_ms / insert_ms, "<= 1.30x")
    ratio_line(
        f"audit_{CONCURRENT_WRITERS}_concurrent_vs_one_at_a_time", concurrent / serial, ">= 4.00x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the databases at the end (their names are printed)",
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
