"""whoProcesses as the record grows with entities that take no part: its cost should not.

Builds one PostgreSQL database (uniquely named, dropped at the end), seeds it, then grows it
to 200, 2,000 and 20,000 entities with entities that take no part in the activity (each with
one transfer to another of them, so the transfer table grows too). At each size it times
the same ``whoProcesses`` GraphQL query, in-process (the registry's app over httpx's ASGI
transport) with the response cache off, so every answer is computed:

- cold: the first request after the rows were added (and ANALYZEd);
- warm: the median (and p90) of ``--repeat`` requests after that.

The answer is checked to be the same at every size; the figures are given as ratios against
the 200-entity baseline measured in the same run. The statements of one request are counted.

    .venv/bin/python bench/who_processes_scale.py [--repeat 10] [--sizes 200 2000 20000]

To measure other code (say, the main branch) with the same bench, put its checkout first on
the path: ``PYTHONPATH=/path/to/checkout .venv/bin/python bench/who_processes_scale.py``; the
run prints where the registry it measures comes from.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
from _ratios import ratio_line
from who_processes import (
    DEFAULT_ADMIN_URL,
    RoundTrips,
    auth,
    bench_databases,
    data_of,
    database_url,
    for_asyncpg,
    issue_bench_token,
    seed_registry,
)

import registry
from registry import migrate
from registry.app import build_app
from registry.db import create_engine
from registry.settings import Settings

DB_PREFIX = "registry_bench_scale"
# Which code is measured: this checkout's, or another put first on PYTHONPATH.
MEASURED = Path(registry.__file__).resolve().parent
SEED = 20260102
WARMUP = 2
QUERY = """{
  whoProcesses {
    role
    entity { slug legalName countryCode }
    paths { exporter { slug } importer { slug } safeguard ruleId reason }
  }
}"""


@dataclass
class Measured:
    entities: int
    transfers: int
    cold_ms: float = 0.0
    warm: list[float] = field(default_factory=list)
    statements: int = 0
    digest: str = ""
    processings: int = 0

    @property
    def warm_ms(self) -> float:
        return statistics.median(self.warm)

    @property
    def warm_p90(self) -> float:
        ordered = sorted(self.warm)
        return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


async def grow_to(url: str, total: int, rng: random.Random) -> tuple[int, int]:
    """Adds entities that take no part (no party, no engagement) until there are ``total``,
    each with one transfer to another such entity; returns the entity and transfer counts."""
    connection = await asyncpg.connect(for_asyncpg(url))
    try:
        have = int(await connection.fetchval("SELECT count(*) FROM entity"))
        countries = [r["code"] for r in await connection.fetch("SELECT code FROM country")]
        activity_id = await connection.fetchval("SELECT min(id) FROM activity")
        first = int(
            await connection.fetchval("SELECT count(*) FROM entity WHERE slug LIKE 'idle-%'")
        )
        new = max(0, total - have)
        await connection.copy_records_to_table(
            "entity",
            columns=["slug", "kind", "legal_name", "country_code", "verified", "dpf_certified"],
            records=[
                (
                    f"idle-{first + i:06d}",
                    "sub_processor",
                    f"Idle {first + i} Ltd",
                    rng.choice(countries),
                    False,
                    False,
                )
                for i in range(new)
            ],
        )
        rows = await connection.fetch(
            "SELECT id, country_code FROM entity WHERE slug LIKE 'idle-%' ORDER BY id"
        )
        fresh = rows[len(rows) - new :] if new else []
        await connection.copy_records_to_table(
            "transfer",
            columns=[
                "slug",
                "activity_id",
                "exporter_id",
                "importer_id",
                "destination_country_code",
                "mechanism",
                "scc_module",
            ],
            records=[
                (
                    f"idle-transfer-{r['id']}",
                    activity_id,
                    r["id"],
                    other["id"],
                    other["country_code"],
                    "scc_2021_914",
                    3,
                )
                for r in fresh
                if (other := rng.choice(rows))["id"] != r["id"]
            ],
        )
        await connection.execute("ANALYZE")
        entities = int(await connection.fetchval("SELECT count(*) FROM entity"))
        transfers = int(await connection.fetchval("SELECT count(*) FROM transfer"))
        return entities, transfers
    finally:
        await connection.close()


async def measure(url: str, token: str, row: Measured, repeat: int) -> None:
    """Times the query in a fresh app (cache off) against the database as it now stands."""
    engine = create_engine(url)
    counter = RoundTrips(engine)
    settings = Settings(
        database_url=url,
        env="production",
        auto_migrate=False,
        # Every answer computed: the response cache is off.
        response_cache_entries=0,
        max_query_cost=0,
        query_cost_per_minute=0,
        rate_limit_per_minute=0,
        var_dir=Path(tempfile.mkdtemp(prefix="registry-bench-")),
    )
    transport = httpx.ASGITransport(app=build_app(settings, engine))
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", headers=auth(token), timeout=600
        ) as client:

            async def ask() -> bytes:
                response = await client.post("/graphql", json={"query": QUERY})
                response.raise_for_status()
                return response.content

            start = time.perf_counter()
            body = await ask()
            row.cold_ms = (time.perf_counter() - start) * 1000
            found = data_of(body)["whoProcesses"]
            row.processings = len(found)
            row.digest = hashlib.sha256(repr(found).encode()).hexdigest()[:12]
            for _ in range(WARMUP):
                await ask()
            counter.count = 0
            await ask()
            row.statements = counter.count
            for _ in range(repeat):
                start = time.perf_counter()
                await ask()
                row.warm.append((time.perf_counter() - start) * 1000)
    finally:
        await engine.dispose()
    print(
        f"{row.entities} entities: cold {row.cold_ms:.1f} ms, warm {row.warm_ms:.1f} ms",
        flush=True,
    )


def print_table(rows: Sequence[Measured]) -> None:
    base = rows[0]
    header = (
        f"{'entities':>9} {'transfers':>9} {'answer':>7} {'trips':>5} {'cold ms':>9} "
        f"{'warm ms (p90)':>18} {'cold/base':>9} {'warm/base':>9}"
    )
    print()
    print(header)
    for r in rows:
        print(
            f"{r.entities:>9} {r.transfers:>9} {r.processings:>7} {r.statements:>5} "
            f"{r.cold_ms:>9.1f} {f'{r.warm_ms:.1f} ({r.warm_p90:.1f})':>18} "
            f"{r.cold_ms / base.cold_ms:>8.2f}x {r.warm_ms / base.warm_ms:>8.2f}x"
        )
    print(
        "\nwhoProcesses over the app in-process, response cache off (every answer computed);"
        "\ncold = first request at that size in a fresh app, warm = median of the repeats;"
        f"\nratios against {base.entities} entities in the same run; answer = processings"
        "\nreturned (the same answer at every size); trips = round trips to PostgreSQL of"
        "\none request, its authentication and BEGIN/COMMIT included"
    )


async def run(args: argparse.Namespace) -> None:
    print(f"registry measured: {MEASURED}", flush=True)
    rng = random.Random(SEED)
    async with bench_databases(args.admin_url, [DB_PREFIX], keep=args.keep) as [name]:
        url = database_url(args.admin_url, name)
        await asyncio.to_thread(migrate.upgrade, url)
        await seed_registry(url)
        token = await issue_bench_token(url)
        rows = []
        for size in sorted(args.sizes):
            entities, transfers = await grow_to(url, size, rng)
            row = Measured(entities, transfers)
            await measure(url, token, row, args.repeat)
            rows.append(row)
        print_table(rows)
        if len({r.digest for r in rows}) != 1:
            raise RuntimeError(f"the answer differs between sizes: {[r.digest for r in rows]}")
        print(f"checked: the same answer at every size ({rows[0].digest})")
        if len(rows) > 1:
            smaller, largest = rows[-2], rows[-1]
            ratio_line(
                f"who_processes_warm_{smaller.entities}_to_{largest.entities}_entities",
                largest.warm_ms / smaller.warm_ms,
                "<= 1.50x",
            )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL, help="a database to connect to")
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[200, 2000, 20000], help="entities in all"
    )
    parser.add_argument("--repeat", type=int, default=10, help="timed warm requests per size")
    parser.add_argument(
        "--keep", action="store_true", help="keep the database at the end (its name is printed)"
    )
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(run(parse_args()))
