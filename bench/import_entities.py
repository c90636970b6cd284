"""Importing a 2,000-entity list: the dry run's plan and the apply, against the export.

Builds one database (a temporary SQLite file by default; with ``--backend postgresql`` a
PostgreSQL database under a unique name, dropped at the end), migrates and seeds it, then
writes a csv entity list of the seeded entities plus ``--entities`` new ones (processors,
and sub-processors engaged by them and by the seeded processor). It times, in-process:

- plan (new): the dry run of that file: every row created, each cell checked;
- apply: the same file written, as one batch;
- plan (unchanged): the dry run of the list exported again, every row unchanged;
- baseline: the export of the same list (csv, ``--part entities``), in the same run.

Figures are medians of ``--repeat`` runs (the apply runs once: it writes), and are given as
ratios against the baseline.

    .venv/bin/python bench/import_entities.py [--entities 2000] [--repeat 3]
        [--backend sqlite|postgresql] [--admin-url postgresql+asyncpg://...]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from who_processes import DEFAULT_ADMIN_URL, bench_databases, database_url, seed_registry

from registry import migrate
from registry.access.service import Actor
from registry.db import create_engine, session_factory, transaction
from registry.exports import ropa, writers
from registry.record.imports import service
from registry.record.imports.plan import Plan

ACTOR = Actor.system("bench")
DB_PREFIX = "registry_bench_import"
CONTACT = "privacy@example.com"
T = TypeVar("T")


async def timed(work: Callable[[], Awaitable[T]]) -> tuple[float, T]:
    started = time.perf_counter()
    result = await work()
    return (time.perf_counter() - started) * 1000, result


def synthetic_list(exported: bytes, count: int) -> bytes:
    """The exported list with ``count`` new entities: a processor for every ten, the others
    sub-processors engaged by it (taking no part in the activity, so the export's own cost
    stays that of listing them)."""
    rows = list(csv.DictReader(io.StringIO(exported.decode("utf-8"))))
    columns = list(rows[0])
    for number in range(count):
        row = dict.fromkeys(columns, "")
        processor = number % 10 == 0
        row.update(
            slug=f"bench-entity-{number}",
            kind="processor" if processor else "sub_processor",
            legal_name=f"Bench Entity {number} Ltd",
            country=("IE", "US", "IN", "DE")[number % 4],
            registered_office=f"{number} Bench Street",
            contact=f"dpo{number}@bench.example",
            verified="true",
            dpf_certified="false",
            engaged_by="" if processor else f"bench-entity-{number - number % 10}",
        )
        rows.append(row)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


async def run(url: str, count: int, repeat: int) -> None:
    # Alembic runs its own event loop: in a thread of its own.
    await asyncio.to_thread(migrate.upgrade, url)
    await seed_registry(url)
    engine = create_engine(url)
    sessions = session_factory(engine)

    async def export_list() -> bytes:
        async with sessions() as session:
            export = await ropa.build(session=session, actor=ACTOR, contact=CONTACT)
        return writers.to_csv(export, writers.Part.ENTITIES)

    async def plan(data: bytes) -> Plan:
        async with sessions() as session:
            return await service.plan_import(
                session=session, actor=ACTOR, data=data, file_name="bench.csv"
            )

    async def apply(data: bytes) -> Plan:
        async with transaction(sessions) as session:
            return await service.apply_import(
                session=session, actor=ACTOR, data=data, file_name="bench.csv"
            )

    try:
        data = synthetic_list(await export_list(), count)
        planned = [await timed(lambda: plan(data)) for _ in range(repeat)]
        assert planned[0][1].counts["create"] == count and not planned[0][1].errors
        applied_ms, applied = await timed(lambda: apply(data))
        assert applied.applied
        baseline = [await timed(export_list) for _ in range(repeat)]
        again = baseline[-1][1]
        unchanged = [await timed(lambda: plan(again)) for _ in range(repeat)]
        assert unchanged[0][1].counts["unchanged"] == len(unchanged[0][1].rows)
    finally:
        await engine.dispose()
    base = statistics.median(ms for ms, _ in baseline)
    rows = len(unchanged[0][1].rows)
    print(f"{count} new entities ({rows} in the list after the apply); medians of {repeat}")
    print(f"{'step':<20}{'ms':>10}{'x export':>10}")
    for name, ms in (
        ("export (baseline)", base),
        ("plan (new)", statistics.median(ms for ms, _ in planned)),
        ("apply", applied_ms),
        ("plan (unchanged)", statistics.median(ms for ms, _ in unchanged)),
    ):
        print(f"{name:<20}{ms:>10.0f}{ms / base:>10.1f}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    args = parser.parse_args()
    if args.backend == "postgresql":
        async with bench_databases(args.admin_url, [DB_PREFIX]) as (name,):
            await run(database_url(args.admin_url, name), args.entities, args.repeat)
        return
    with tempfile.TemporaryDirectory(prefix="registry-bench-import-") as directory:
        await run(f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}", args.entities, args.repeat)


if __name__ == "__main__":
    asyncio.run(main())
