"""Who processes what: the nested entities → transfers → importer read, against two baselines.

Builds a large inventory on PostgreSQL, serves it with the real registry server (uvicorn,
HTTP) and times one GraphQL query at two sizes (a page of 100 entities, and all of them)
against (1) the same rows fetched with hand-written SQL and serialised with the stdlib json,
and (2) PostGraphile v4 serving the same logical query over the same database.

    .venv/bin/python bench/who_processes.py [--entities 2000] [--transfers 20000] [--repeat 15]

Server logs go to bench/.out/; PostGraphile is installed into bench/.node/ (both git-ignored).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import hashlib
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from _ratios import ratio_line
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from registry import migrate
from registry.access import service as access
from registry.access.policy import Role
from registry.access.service import Actor
from registry.app import build_app
from registry.audit.service import AuditLog
from registry.db import create_engine, session_factory, transaction
from registry.record.inventory.models import EntityKind
from registry.seeding import seed
from registry.settings import Settings

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
NODE_DIR = BENCH / ".node"
POSTGRAPHILE = NODE_DIR / "node_modules" / ".bin" / "postgraphile"
OUT_DIR = BENCH / ".out"

# Each run adds a suffix of its own (see unique_name): the bench never reuses a name.
DB_PREFIX = "registry_bench"
# The audit log of the in-process app whose round trips are counted.
AUDIT_DB_PREFIX = "registry_bench_trips_audit"
DEFAULT_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
PAGE = 100
WARMUP = 3
SEED = 20260101
STARTUP_TIMEOUT = 60.0
HTTP_TIMEOUT = 120.0
# The server's default: the response cache on.
RESPONSE_CACHE_ENTRIES = Settings.model_fields["response_cache_entries"].default

# The registry twice: answers kept by the response cache (a hit: the same read repeated),
# and with the cache off, every answer computed (the first read after a change).
REGISTRY, REGISTRY_UNCACHED = "registry cache hit", "registry computed"
SQL_JSON, POSTGRAPHILE_NAME = "SQL+JSON", "PostGraphile"

REGISTRY_QUERY = """
query WhoProcesses($first: Int!) {
  entities(first: $first) {
    nodes { slug legalName transfersOut { slug mechanism importer { slug legalName countryCode } } }
  }
}
"""

# PostGraphile's names for the same thing (checked by introspection before use).
PG_ROOT, PG_OUT, PG_IMPORTER = "allEntities", "transfersByExporterId", "entityByImporterId"
POSTGRAPHILE_QUERY = f"""
query WhoProcesses($first: Int!) {{
  {PG_ROOT}(first: $first) {{
    nodes {{
      slug legalName
      {PG_OUT} {{ nodes {{ slug mechanism {PG_IMPORTER} {{ slug legalName countryCode }} }} }}
    }}
  }}
}}
"""

SQL_ENTITIES = """
SELECT id, slug, legal_name FROM entity WHERE retired_on IS NULL ORDER BY id LIMIT $1
"""
SQL_TRANSFERS = """
SELECT t.exporter_id, t.slug, t.mechanism, i.slug, i.legal_name, i.country_code
FROM transfer t JOIN entity i ON i.id = t.importer_id
WHERE t.exporter_id = ANY($1::int[])
ORDER BY t.id
"""


# ---------------------------------------------------------------- database


def database_url(admin_url: str, name: str, driver: str = "postgresql+asyncpg") -> str:
    url = make_url(admin_url).set(database=name, drivername=driver)
    return url.render_as_string(hide_password=False)


def for_asyncpg(url: str) -> str:
    """The same URL as asyncpg itself takes it (no SQLAlchemy driver suffix)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def unique_name(prefix: str) -> str:
    """A name no other run uses: two runs at once, or someone's own database, never collide."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


async def create_database(admin_url: str, name: str) -> None:
    """Creates ``name``; one that exists is refused, never dropped: it is not this run's."""
    connection = await asyncpg.connect(for_asyncpg(admin_url))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    except asyncpg.DuplicateDatabaseError:
        raise RuntimeError(f"database {name} already exists; refusing to use it") from None
    finally:
        await connection.close()


async def drop_database(admin_url: str, name: str) -> None:
    connection = await asyncpg.connect(for_asyncpg(admin_url))
    try:
        # FORCE: a server the bench started may still hold a connection as it stops.
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@contextlib.asynccontextmanager
async def bench_databases(
    admin_url: str, prefixes: Sequence[str], *, keep: bool = False
) -> AsyncIterator[list[str]]:
    """Fresh databases, one per prefix, with unique names; dropped however the run ends.

    Only the ones this run created are dropped (on an error or Ctrl-C too), so a run can
    never destroy another's. With ``keep`` they stay, and their names are printed.
    """
    created: list[str] = []
    try:
        for prefix in prefixes:
            name = unique_name(prefix)
            await create_database(admin_url, name)
            created.append(name)
        yield created
    finally:
        if keep:
            if created:
                print(f"kept databases: {', '.join(created)}", flush=True)
        else:
            for name in created:
                await drop_database(admin_url, name)


async def seed_registry(url: str) -> None:
    engine = create_engine(url)
    try:
        async with transaction(session_factory(engine)) as session:
            await seed(session=session, seeds_dir=Settings().seeds_dir)
    finally:
        await engine.dispose()


async def insert_synthetic(url: str, entities: int, transfers: int) -> None:
    """Bulk rows with COPY: going through the services would take minutes and test nothing here."""
    rng = random.Random(SEED)
    connection = await asyncpg.connect(for_asyncpg(url))
    try:
        countries = [r["code"] for r in await connection.fetch("SELECT code FROM country")]
        activity_id = await connection.fetchval("SELECT min(id) FROM activity")
        await connection.copy_records_to_table(
            "entity",
            columns=["slug", "kind", "legal_name", "country_code", "verified", "dpf_certified"],
            records=_entity_records(rng, entities, countries),
        )
        rows = await connection.fetch("SELECT id, country_code FROM entity ORDER BY id")
        country_of = {r["id"]: r["country_code"] for r in rows}
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
            records=_transfer_records(rng, transfers, activity_id, country_of),
        )
        # Fresh tables have no statistics: plan as a long-lived database would.
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


def _entity_records(rng: random.Random, count: int, countries: list[str]) -> list[tuple[Any, ...]]:
    kinds = [kind.value for kind in EntityKind]
    return [
        (
            f"bench-entity-{i:05d}",
            rng.choice(kinds),
            f"Bench Entity {i} Ltd",
            rng.choice(countries),
            False,
            False,
        )
        for i in range(count)
    ]


def _transfer_records(
    rng: random.Random, count: int, activity_id: int, country_of: dict[int, str]
) -> list[tuple[Any, ...]]:
    ids = list(country_of)
    records = []
    for i in range(count):
        exporter, importer = rng.sample(ids, 2)
        slug = f"bench-transfer-{i:06d}"
        destination = country_of[importer]
        module = rng.randint(1, 4)
        records.append((slug, activity_id, exporter, importer, destination, "scc_2021_914", module))
    return records


async def issue_bench_token(url: str) -> str:
    engine = create_engine(url)
    system = Actor.system("bench")
    try:
        async with transaction(session_factory(engine)) as session:
            await access.create_principal(
                session=session,
                actor=system,
                handle="bench-privacy-officer",
                display_name="Benchmark reader",
                roles=[Role.PRIVACY_OFFICER],
            )
            token, _ = await access.issue_token(
                session=session, actor=system, handle="bench-privacy-officer", label="bench"
            )
            return token
    finally:
        await engine.dispose()


async def count_entities(url: str) -> int:
    connection = await asyncpg.connect(for_asyncpg(url))
    try:
        return int(
            await connection.fetchval("SELECT count(*) FROM entity WHERE retired_on IS NULL")
        )
    finally:
        await connection.close()


# ---------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running(
    name: str, command: list[str], env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A server subprocess that is stopped however the bench ends; its output goes to a log."""
    OUT_DIR.mkdir(exist_ok=True)
    # A log of its own per server: two servers of one run, or two runs, never share one.
    with (OUT_DIR / f"{name.replace(' ', '-')}-{uuid.uuid4().hex[:8]}.log").open("wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def wait_until_up(
    probe: Callable[[], Awaitable[httpx.Response]], process: subprocess.Popen[bytes]
) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}; see {OUT_DIR}")
        with contextlib.suppress(httpx.TransportError):
            if (await probe()).status_code == 200:
                return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"server not up after {STARTUP_TIMEOUT:.0f} s; see {OUT_DIR}")


def registry_command(port: int) -> list[str]:
    return [
        sys.executable,
        "-c",
        "from registry.cli import app; app()",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


def registry_env(
    url: str, max_page_size: int, var_dir: str, compiled_plans: str = "on"
) -> dict[str, str]:
    return {
        **os.environ,
        "REGISTRY_DATABASE_URL": url,
        "REGISTRY_ENV": "production",
        "REGISTRY_AUTO_MIGRATE": "false",
        "REGISTRY_MAX_PAGE_SIZE": str(max_page_size),
        # The bench's whole-record reads and its rounds of requests from one token are past
        # what a principal may ask by default: the limits are off, as the page size is raised.
        "REGISTRY_MAX_QUERY_COST": "0",
        "REGISTRY_QUERY_COST_PER_MINUTE": "0",
        "REGISTRY_RATE_LIMIT_PER_MINUTE": "0",
        "REGISTRY_VAR_DIR": var_dir,
        # "off" times ordinary execution, field by field, for a before-and-after in one run.
        "REGISTRY_COMPILED_PLANS": compiled_plans,
    }


def postgraphile_command(pg_url: str, port: int) -> list[str]:
    return [
        str(POSTGRAPHILE),
        *("-c", pg_url, "-s", "public", "-p", str(port), "-n", "127.0.0.1"),
        *("--disable-query-log", "--disable-graphiql"),
    ]


def ensure_postgraphile() -> str | None:
    """Installs PostGraphile v4 into bench/.node; returns why it is skipped, if it is."""
    if POSTGRAPHILE.exists():
        return None
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "node or npm not found"
    print("installing postgraphile@4 into bench/.node ...", flush=True)
    done = subprocess.run(
        ["npm", "install", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund", "postgraphile@4"],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0 or not POSTGRAPHILE.exists():
        return "npm install postgraphile@4 failed: " + done.stderr.decode()[-300:]
    return None


async def check_postgraphile_names(client: httpx.AsyncClient) -> None:
    """The query uses PostGraphile's inflected names: fail clearly if they differ."""
    query = """{
      q: __type(name: "Query") { fields { name } }
      e: __type(name: "Entity") { fields { name } }
      t: __type(name: "Transfer") { fields { name } }
    }"""
    data = (await client.post("/graphql", json={"query": query})).json()["data"]
    expected = {"q": PG_ROOT, "e": PG_OUT, "t": PG_IMPORTER}
    for key, name in expected.items():
        names = {f["name"] for f in (data[key] or {"fields": []})["fields"]}
        if name not in names:
            raise RuntimeError(f"PostGraphile has no field {name!r}; it has {sorted(names)}")


# ---------------------------------------------------------------- measuring


@dataclass
class Timing:
    samples: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p90(self) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


Call = Callable[[], Awaitable[bytes]]


@dataclass
class Contender:
    """One way to answer: ``call(size)`` makes a request, ``nodes`` reads its answer."""

    name: str
    call: Callable[[int], Call]
    nodes: Callable[[bytes], list[Any]]


def graphql_call(client: httpx.AsyncClient, query: str) -> Callable[[int], Call]:
    def at(first: int) -> Call:
        body = {"query": query, "variables": {"first": first}}

        async def call() -> bytes:
            # The whole body is read: a server is done when the client has its answer.
            response = await client.post("/graphql", json=body)
            response.raise_for_status()
            return response.content

        return call

    return at


def data_of(body: bytes) -> dict[str, Any]:
    payload = json.loads(body)
    if payload.get("errors"):
        raise RuntimeError(f"GraphQL errors: {payload['errors'][:2]}")
    return payload["data"]


def registry_nodes(body: bytes) -> list[Any]:
    return normalised(data_of(body)["entities"]["nodes"], lambda e: e["transfersOut"], "importer")


def postgraphile_nodes(body: bytes) -> list[Any]:
    nodes = data_of(body)[PG_ROOT]["nodes"]
    return normalised(nodes, lambda e: e[PG_OUT]["nodes"], PG_IMPORTER)


def normalised(
    nodes: list[dict[str, Any]], transfers: Callable[[dict[str, Any]], Any], importer: str
) -> list[Any]:
    """A server-neutral form of the answer, to check that all return the same rows."""
    return [
        (
            e["slug"],
            e["legalName"],
            [
                (t["slug"], t["mechanism"].lower(), tuple(t[importer].values()))
                for t in transfers(e)
            ],
        )
        for e in nodes
    ]


def sql_json_call(pool: asyncpg.Pool) -> Callable[[int], Call]:
    """Baseline 1: two queries, rows grouped in Python, json.dumps of the GraphQL-shaped answer."""

    def at(first: int) -> Call:
        async def call() -> bytes:
            async with pool.acquire() as connection:
                entities = await connection.fetch(SQL_ENTITIES, first)
                rows = await connection.fetch(SQL_TRANSFERS, [e["id"] for e in entities])
            return json.dumps(_shaped(entities, rows), separators=(",", ":")).encode()

        return call

    return at


def _shaped(entities: list[asyncpg.Record], rows: list[asyncpg.Record]) -> dict[str, Any]:
    out: dict[int, list[dict[str, Any]]] = {e["id"]: [] for e in entities}
    for exporter_id, slug, mechanism, i_slug, i_name, i_country in rows:
        out[exporter_id].append(
            {
                "slug": slug,
                # GraphQL serialises an enum by its name, as the registry does.
                "mechanism": mechanism.upper(),
                "importer": {"slug": i_slug, "legalName": i_name, "countryCode": i_country},
            }
        )
    nodes = [
        {"slug": e["slug"], "legalName": e["legal_name"], "transfersOut": out[e["id"]]}
        for e in entities
    ]
    return {"data": {"entities": {"nodes": nodes}}}


@dataclass
class Row:
    label: str
    size: int
    objects: int = 0
    # Round trips to PostgreSQL of one request, BEGIN and COMMIT included: computed, cache hit.
    round_trips: Trips | None = None
    hit_round_trips: Trips | None = None
    timings: dict[str, Timing] = field(default_factory=dict)
    # Each contender's first request after its start, in ms.
    cold: dict[str, float] = field(default_factory=dict)


async def measure(row: Row, contenders: list[Contender], repeat: int) -> None:
    """Runs the contenders in turn, round after round, so that drift hits them all alike."""
    calls = {c.name: c.call(row.size) for c in contenders}
    fingerprints = {}
    for c in contenders:
        start = time.perf_counter()
        body = await calls[c.name]()
        row.cold[c.name] = (time.perf_counter() - start) * 1000
        for _ in range(WARMUP - 1):
            body = await calls[c.name]()
        nodes = c.nodes(body)
        row.objects = sum(1 + 2 * len(transfers) for _, _, transfers in nodes)
        # A digest, not the answer: a large live heap would slow this process's own collections.
        fingerprints[c.name] = hashlib.sha256(repr(nodes).encode()).hexdigest()
        row.timings[c.name] = Timing()
    if len(set(fingerprints.values())) > 1:
        raise RuntimeError(f"the answers differ at {row.label}: {fingerprints}")
    del body, nodes
    gc.collect()
    for _ in range(repeat):
        for name, call in calls.items():
            start = time.perf_counter()
            await call()
            row.timings[name].samples.append((time.perf_counter() - start) * 1000)
    summary = ", ".join(f"{name} {t.median:.1f} ms" for name, t in row.timings.items())
    print(f"{row.label}: {summary}", flush=True)


class RoundTrips:
    """Counts an engine's round trips to the database: each statement, and each BEGIN,
    COMMIT and ROLLBACK, which asyncpg sends as statements of their own (but not on a
    connection in AUTOCOMMIT, where it sends none: the events still fire there)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.count = 0
        event.listen(engine.sync_engine, "before_cursor_execute", self._statement)
        for name in ("begin", "commit", "rollback"):
            event.listen(engine.sync_engine, name, self._transaction)

    def _statement(self, *_args: Any) -> None:
        self.count += 1

    def _transaction(self, connection: Any) -> None:
        if connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            self.count += 1


@dataclass(frozen=True)
class Trips:
    """One request's round trips: to the record's database, and its audit append's to the
    audit log's (a database of its own, PostgreSQL here as in production)."""

    record: int
    audit: int

    def __str__(self) -> str:
        return f"{self.record}+{self.audit}"


async def round_trips_per_request(
    url: str, audit_url: str, token: str, sizes: list[int], *, cache: bool
) -> dict[int, Trips]:
    """Round trips of one request (its authentication and audit append included), counted
    in-process: of a computed answer with ``cache`` off, of a kept one (asked twice,
    counted the second time) with it on."""
    engine = create_engine(url)
    audit_log = AuditLog.open(audit_url)
    record, audit = RoundTrips(engine), RoundTrips(audit_log.engine)
    settings = Settings(
        database_url=url,
        audit_database_url=audit_url,
        env="production",
        auto_migrate=False,
        max_page_size=max(sizes),
        response_cache_entries=RESPONSE_CACHE_ENTRIES if cache else 0,
        var_dir=Path(tempfile.mkdtemp(prefix="registry-bench-")),
    )
    transport = httpx.ASGITransport(app=build_app(settings, engine, audit_log=audit_log))
    counts = {}
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", headers=auth(token), timeout=HTTP_TIMEOUT
        ) as client:
            at = graphql_call(client, REGISTRY_QUERY)
            # Warm-up: a token's last use is written at most once a minute, not on every read;
            # the audit log's first append reads the chain's head, later ones do not.
            registry_nodes(await at(sizes[0])())
            for size in sizes:
                registry_nodes(await at(size)())
                record.count = audit.count = 0
                registry_nodes(await at(size)())
                counts[size] = Trips(record.count, audit.count)
    finally:
        await audit_log.close()
        await engine.dispose()
    return counts


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# ---------------------------------------------------------------- the contenders


async def start_registry(
    stack: contextlib.AsyncExitStack,
    url: str,
    token: str,
    max_page_size: int,
    *,
    cache: bool,
    compiled_plans: str,
) -> Contender:
    port = free_port()
    var_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="registry-bench-"))
    env = registry_env(url, max_page_size, var_dir, compiled_plans)
    if not cache:
        # Every request computes its answer: the cost of the first read after a change.
        env["REGISTRY_RESPONSE_CACHE_ENTRIES"] = "0"
    process = stack.enter_context(running("registry", registry_command(port), env))
    client = await stack.enter_async_context(
        httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers=auth(token), timeout=HTTP_TIMEOUT
        )
    )
    await wait_until_up(lambda: client.get("/healthz"), process)
    name = REGISTRY if cache else REGISTRY_UNCACHED
    return Contender(name, graphql_call(client, REGISTRY_QUERY), registry_nodes)


async def start_sql(stack: contextlib.AsyncExitStack, url: str) -> Contender:
    pool = await stack.enter_async_context(
        asyncpg.create_pool(for_asyncpg(url), min_size=1, max_size=2)
    )
    return Contender(SQL_JSON, sql_json_call(pool), registry_nodes)


async def start_postgraphile(
    stack: contextlib.AsyncExitStack, admin_url: str, name: str
) -> Contender | None:
    skipped = ensure_postgraphile()
    if skipped:
        print(f"PostGraphile skipped: {skipped}", flush=True)
        return None
    port = free_port()
    pg_url = database_url(admin_url, name, "postgres")
    process = stack.enter_context(running("postgraphile", postgraphile_command(pg_url, port)))
    client = await stack.enter_async_context(
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=HTTP_TIMEOUT)
    )
    probe = {"query": "{ __typename }"}
    await wait_until_up(lambda: client.post("/graphql", json=probe), process)
    await check_postgraphile_names(client)
    return Contender(
        POSTGRAPHILE_NAME, graphql_call(client, POSTGRAPHILE_QUERY), postgraphile_nodes
    )


# ---------------------------------------------------------------- reporting


def ms(timing: Timing | None) -> str:
    return "-" if timing is None else f"{timing.median:.1f} (p90 {timing.p90:.1f})"


def ratio(a: Timing | None, b: Timing | None) -> str:
    return "-" if a is None or b is None else f"{a.median / b.median:.2f}x"


def print_table(rows: list[Row]) -> None:
    names = (REGISTRY, REGISTRY_UNCACHED, SQL_JSON, POSTGRAPHILE_NAME)
    columns = [("size", 10), ("objects", 8), ("round trips", 14)]
    columns += [(f"{name} ms", 22) for name in names]
    print()
    print(" ".join(f"{name:>{width}}" for name, width in columns))
    for r in rows:
        trips = f"{r.round_trips} / {r.hit_round_trips}"
        cells = [r.label, r.objects, trips, *(ms(r.timings.get(n)) for n in names)]
        print(" ".join(f"{cell:>{width}}" for cell, (_, width) in zip(cells, columns, strict=True)))
    print("\ncold: each server's first request after its start, ms")
    for r in rows:
        cold = ", ".join(f"{name} {r.cold[name]:.1f}" for name in names if name in r.cold)
        print(f"{r.label:>10}: {cold}")
    print("\nratios of the warm medians")
    for r in rows:
        registry, uncached, sql, pg = (r.timings.get(n) for n in names)
        print(
            f"{r.label:>10}: cache hit/PG {ratio(registry, pg)}, computed/PG {ratio(uncached, pg)},"
            f" computed/SQL+JSON {ratio(uncached, sql)}"
        )
    print(
        "\nwarm: median (p90) in ms after the warm-up; objects = entities + transfers +"
        "\nimporters in the answer; round trips = to PostgreSQL for one request, its"
        "\nauthentication and BEGIN/COMMIT included, as record+audit: to the record's"
        "\ndatabase, and the audit append's to the audit log's (0: this read names companies,"
        "\nnot people, so it is audited only if refused, and a refusal is never kept):"
        "\na computed answer / a cache hit;"
        f"\n{REGISTRY} = the answer kept until the record changes (a repeated read);"
        f"\n{REGISTRY_UNCACHED} = response cache off, every answer computed (the first read"
        "\nafter a change; a cold request computes on either server)"
    )


# ---------------------------------------------------------------- the run


async def build_database(args: argparse.Namespace, name: str, url: str) -> int:
    start = time.perf_counter()
    await asyncio.to_thread(migrate.upgrade, url)
    await seed_registry(url)
    await insert_synthetic(url, args.entities, args.transfers)
    total = await count_entities(url)
    took = time.perf_counter() - start
    print(f"database {name}: {total} entities, built in {took:.1f} s", flush=True)
    return total


async def start_contenders(
    stack: contextlib.AsyncExitStack, args: argparse.Namespace, name: str, token: str, total: int
) -> list[Contender]:
    url = database_url(args.admin_url, name)
    plans = args.compiled_plans
    contenders = [
        await start_registry(stack, url, token, max(5000, total), cache=True, compiled_plans=plans),
        await start_registry(
            stack, url, token, max(5000, total), cache=False, compiled_plans=plans
        ),
        await start_sql(stack, url),
    ]
    if (postgraphile := await start_postgraphile(stack, args.admin_url, name)) is not None:
        contenders.append(postgraphile)
    return contenders


def print_ratios(rows: list[Row]) -> None:
    page, everything = rows

    def to_postgraphile(row: Row, name: str) -> float | None:
        pg = row.timings.get(POSTGRAPHILE_NAME)
        return None if pg is None else row.timings[name].median / pg.median

    skipped = "PostGraphile skipped"
    ratio_line(
        "nested_computed_page100_vs_postgraphile",
        to_postgraphile(page, REGISTRY_UNCACHED),
        "<= 1.00x",
        why_missing=skipped,
    )
    ratio_line(
        "nested_computed_all_vs_postgraphile",
        to_postgraphile(everything, REGISTRY_UNCACHED),
        "<= 1.00x",
        why_missing=skipped,
    )
    ratio_line(
        "nested_cache_hit_page100_vs_postgraphile",
        to_postgraphile(page, REGISTRY),
        "<= 0.10x",
        why_missing=skipped,
    )


async def run(args: argparse.Namespace) -> None:
    prefixes = [DB_PREFIX, AUDIT_DB_PREFIX]
    async with bench_databases(args.admin_url, prefixes, keep=args.keep) as [name, audit]:
        url = database_url(args.admin_url, name)
        total = await build_database(args, name, url)
        token = await issue_bench_token(url)
        rows = [Row(f"{PAGE}", PAGE), Row(f"all {total}", total)]
        for row in rows:
            # Fresh servers for each size, so that each one's first request is a cold one.
            async with contextlib.AsyncExitStack() as stack:
                contenders = await start_contenders(stack, args, name, token, total)
                await measure(row, contenders, args.repeat)
        sizes = [r.size for r in rows]
        audit_url = database_url(args.admin_url, audit)
        await asyncio.to_thread(migrate.upgrade_audit, audit_url)
        computed = await round_trips_per_request(url, audit_url, token, sizes, cache=False)
        hits = await round_trips_per_request(url, audit_url, token, sizes, cache=True)
        for row in rows:
            row.round_trips, row.hit_round_trips = computed[row.size], hits[row.size]
        print_table(rows)
        names = ", ".join(c.name for c in contenders)
        print(f"checked: {names} returned the same rows at both sizes")
        print_ratios(rows)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL, help="a database to connect to")
    parser.add_argument("--entities", type=int, default=2000, help="synthetic entities to add")
    parser.add_argument("--transfers", type=int, default=20000, help="synthetic transfers to add")
    parser.add_argument("--repeat", type=int, default=15, help="timed runs per size and contender")
    parser.add_argument(
        "--compiled-plans",
        choices=["on", "off"],
        default="on",
        help="answer the query from a compiled plan (the default) or by ordinary execution",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the database at the end (its name is printed)"
    )
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(run(parse_args()))
