"""Where the registry's time goes on the who-processes-what query, measured in-process.

Builds the same database as who_processes.py, runs the query through the real ASGI app
(httpx.ASGITransport, no network) and splits each request's wall-clock time into layers:
SQL round trips, ORM work, the loaders' object building, strawberry/graphql-core execution
and JSON encoding. Timers wrap functions at the layer boundaries, in this process only.

    .venv/bin/python bench/profile_who_processes.py [--size all] [--repeat 5] [--pyinstrument]

With --pyinstrument (pip install pyinstrument; not a project dependency) it also writes a
call-tree profile of one request to bench/.out/who_processes-profile.{txt,html}.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import event
from sqlalchemy.engine import Result, ScalarResult
from sqlalchemy.ext.asyncio import AsyncSession
from who_processes import (
    DB_NAME,
    DEFAULT_ADMIN_URL,
    HTTP_TIMEOUT,
    OUT_DIR,
    PAGE,
    REGISTRY_QUERY,
    auth,
    build_database,
    database_url,
    graphql_call,
    issue_bench_token,
    recreate_database,
    registry_nodes,
)

from registry.app import build_app
from registry.db import create_engine
from registry.graphql.context import Context
from registry.graphql.schema import schema
from registry.graphql.view import RegistryGraphQL
from registry.inventory import graphql as inventory_graphql
from registry.inventory import loaders as inventory_loaders
from registry.inventory import service as inventory_service
from registry.settings import Settings
from registry.transfers import loaders as transfer_loaders

SQL = "SQL round trip (asyncpg execute + fetch)"
ORM_EXECUTE = "ORM execute (compile, cache, result setup)"
ORM_ROWS = "ORM rows -> objects (.all())"
AUTH = "view: authenticate"
EXECUTE = "strawberry/graphql-core execute"
CONNECTION = "relay.connection (edges, cursors)"
JSON_ENCODE = "view: JSON encode"
FINISH = "view: finish (rollback, close)"
GC = "garbage collector pauses"


class Layers:
    """Inclusive and exclusive wall-clock time per label, for one sequential request at a time.

    A request here runs in one task with no concurrent work, so a plain stack is enough.
    """

    def __init__(self) -> None:
        self.stack: list[list[Any]] = []
        self.reset()

    def reset(self) -> None:
        self.inclusive: dict[str, float] = defaultdict(float)
        self.exclusive: dict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()

    def enter(self, label: str) -> None:
        if any(frame[0] == AUTH for frame in self.stack):
            # The authentication's own SQL and ORM work is reported apart from the query's.
            label = f"{AUTH} / {label}"
        elif any(frame[0] == label for frame in self.stack):
            label += " (nested)"
        self.stack.append([label, time.perf_counter(), 0.0])

    def leave(self) -> None:
        label, start, children = self.stack.pop()
        took = time.perf_counter() - start
        self.inclusive[label] += took
        self.exclusive[label] += took - children
        self.calls[label] += 1
        if self.stack:
            self.stack[-1][2] += took


LAYERS = Layers()


def timed_async(label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        LAYERS.enter(label)
        try:
            return await fn(*args, **kwargs)
        finally:
            LAYERS.leave()

    return wrapper


def timed_sync(label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        LAYERS.enter(label)
        try:
            return fn(*args, **kwargs)
        finally:
            LAYERS.leave()

    return wrapper


def install_timers(engine: Any) -> None:
    """Wraps the layer boundaries; module attributes are looked up at call time, so this holds."""
    # A collection pauses whatever allocates at that moment: counted apart, not in that layer.
    gc.callbacks.append(_gc_layer)
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *_: LAYERS.enter(SQL))
    event.listen(engine.sync_engine, "after_cursor_execute", lambda *_: LAYERS.leave())
    AsyncSession.execute = timed_async(ORM_EXECUTE, AsyncSession.execute)  # type: ignore[method-assign]
    ScalarResult.all = timed_sync(ORM_ROWS, ScalarResult.all)  # type: ignore[method-assign]
    Result.all = timed_sync(ORM_ROWS, Result.all)  # type: ignore[method-assign]
    RegistryGraphQL._authenticate = timed_async(AUTH, RegistryGraphQL._authenticate)  # type: ignore[method-assign]
    RegistryGraphQL.encode_json = timed_sync(JSON_ENCODE, RegistryGraphQL.encode_json)  # type: ignore[method-assign]
    Context.finish = timed_async(FINISH, Context.finish)  # type: ignore[method-assign]
    schema.execute = timed_async(EXECUTE, schema.execute)  # type: ignore[method-assign]
    _wrap(inventory_service, "list_entities", "service.list_entities", timed_async)
    _wrap(inventory_graphql, "selection_of", "selection_of", timed_sync)
    _wrap(inventory_graphql, "connection", CONNECTION, timed_sync)
    _wrap(inventory_loaders, "entities", "loaders.entities", timed_async)
    _wrap(inventory_loaders, "entities_by_id", "loaders.entities_by_id", timed_async)
    _wrap(inventory_loaders, "entity_rows", "loaders.entity_rows", timed_async)
    _wrap(transfer_loaders, "transfers_grouped_by", "loaders.transfers_grouped_by", timed_async)
    _wrap(transfer_loaders, "transfers", "loaders.transfers", timed_async)


def _gc_layer(phase: str, _info: dict[str, Any]) -> None:
    if phase == "start":
        LAYERS.enter(GC)
    elif LAYERS.stack and LAYERS.stack[-1][0].endswith(GC):
        LAYERS.leave()


def _wrap(module: Any, name: str, label: str, how: Callable[..., Any]) -> None:
    setattr(module, name, how(label, getattr(module, name)))


# ---------------------------------------------------------------- report


def summary(runs: list[Layers]) -> dict[str, float]:
    """The figures the report asks for, in ms (median over the runs)."""

    def med(pick: Callable[[Layers], float]) -> float:
        return statistics.median(pick(r) for r in runs) * 1000

    # Exclusive times, so that the rows add up to the total.
    return {
        "request (total, in-process)": med(lambda r: r.inclusive["request"]),
        "  authenticate (its SQL included)": med(lambda r: r.inclusive[AUTH]),
        "  SQL round trips of the query": med(lambda r: r.exclusive[SQL]),
        "  ORM: execute + rows -> objects": med(
            lambda r: r.exclusive[ORM_EXECUTE] + r.exclusive[ORM_ROWS]
        ),
        "  loaders: building strawberry objects": med(_loader_own),
        "  relay.connection (edges, cursors)": med(lambda r: r.exclusive[CONNECTION]),
        "  strawberry/graphql-core (own time)": med(lambda r: r.exclusive[EXECUTE]),
        "  JSON encode": med(lambda r: r.exclusive[JSON_ENCODE]),
        "  garbage collector pauses (in any layer)": med(_gc_total),
        "  finish (rollback, close)": med(lambda r: r.inclusive[FINISH]),
        "  the rest (ASGI, httpx in-process client)": med(lambda r: r.exclusive["request"]),
    }


def _gc_total(r: Layers) -> float:
    # Pauses inside authenticate are already in its row.
    return sum(t for label, t in r.inclusive.items() if label.endswith(GC) and AUTH not in label)


def _loader_own(r: Layers) -> float:
    prefixes = ("loaders.", "service.", "selection_of")
    return sum(t for label, t in r.exclusive.items() if label.startswith(prefixes))


def print_layers(runs: list[Layers]) -> None:
    last = runs[-1]
    print(f"\n{'layer (last run)':<58}{'calls':>6}{'incl ms':>10}{'excl ms':>10}")
    for label in sorted(last.inclusive, key=last.inclusive.get, reverse=True):
        print(
            f"{label:<58}{last.calls[label]:>6}"
            f"{last.inclusive[label] * 1000:>10.1f}{last.exclusive[label] * 1000:>10.1f}"
        )
    print(f"\n{'where the time goes (median of runs)':<46}{'ms':>9}{'share':>8}")
    figures = summary(runs)
    total = figures["request (total, in-process)"]
    for label, value in figures.items():
        print(f"{label:<46}{value:>9.1f}{value / total:>8.0%}")


# ---------------------------------------------------------------- run


async def request(client: httpx.AsyncClient, size: int) -> bytes:
    LAYERS.enter("request")
    try:
        return await graphql_call(client, REGISTRY_QUERY)(size)()
    finally:
        LAYERS.leave()


async def profiled(client: httpx.AsyncClient, size: int, repeat: int) -> list[Layers]:
    for _ in range(2):
        registry_nodes(await request(client, size))
    runs = []
    for _ in range(repeat):
        LAYERS.reset()
        await request(client, size)
        run = Layers()
        run.inclusive, run.exclusive, run.calls = LAYERS.inclusive, LAYERS.exclusive, LAYERS.calls
        runs.append(run)
    return runs


async def pyinstrument_one(client: httpx.AsyncClient, size: int) -> None:
    try:
        from pyinstrument import Profiler
    except ImportError:
        print("pyinstrument is not installed: skipped the call-tree profile")
        return
    profiler = Profiler(interval=0.0005, async_mode="enabled")
    with profiler:
        await request(client, size)
    OUT_DIR.mkdir(exist_ok=True)
    text = profiler.output_text(unicode=False, color=False, show_all=False)
    (OUT_DIR / "who_processes-profile.txt").write_text(text)
    (OUT_DIR / "who_processes-profile.html").write_text(profiler.output_html())
    print(f"\ncall tree written to {OUT_DIR / 'who_processes-profile.txt'} (and .html)")


async def run(args: argparse.Namespace) -> None:
    url = database_url(args.admin_url, DB_NAME)
    try:
        total = await build_database(args, url)
        token = await issue_bench_token(url)
        size = total if args.size == "all" else int(args.size)
        engine = create_engine(url)
        install_timers(engine)
        settings = Settings(
            database_url=url, env="production", auto_migrate=False, max_page_size=max(5000, size)
        )
        transport = httpx.ASGITransport(app=build_app(settings, engine))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", headers=auth(token), timeout=HTTP_TIMEOUT
        ) as client:
            runs = await profiled(client, size, args.repeat)
            print(f"\nsize {size} entities, {args.repeat} runs in-process")
            print_layers(runs)
            if args.pyinstrument:
                await pyinstrument_one(client, size)
        await engine.dispose()
    finally:
        if not args.keep:
            await recreate_database(args.admin_url, DB_NAME, create=False)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL, help="a database to connect to")
    parser.add_argument("--entities", type=int, default=2000, help="synthetic entities to add")
    parser.add_argument("--transfers", type=int, default=20000, help="synthetic transfers to add")
    parser.add_argument("--size", default="all", help=f"'all' or a page size such as {PAGE}")
    parser.add_argument("--repeat", type=int, default=5, help="profiled runs")
    parser.add_argument("--pyinstrument", action="store_true", help="also write a call tree")
    parser.add_argument("--keep", action="store_true", help=f"keep the {DB_NAME} database")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(run(parse_args()))
