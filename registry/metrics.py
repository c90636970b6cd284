"""What the service counts and times, served at /metrics in Prometheus' text format.

Each app has a registry of its own (not prometheus-client's global one), so several apps in
one process, as in the tests, never count into each other. No label carries personal data
or a secret: routes are path templates, operations are GraphQL operation names (capped in
number), outcomes are status classes or error codes.

/metrics is off unless ``metrics_token`` is set; then it asks for that bearer token.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import json
import logging
import re
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from registry import clock, logs
from registry.access.service import Actor
from registry.recordings import retention
from registry.rights import service as rights
from registry.settings import Settings

if TYPE_CHECKING:
    from registry.upkeep.sweeping import Swept

logger = logging.getLogger(__name__)

# Past this many operation names, any new one is counted as "other": clients name their
# operations, and a label's values must stay few.
MAX_OPERATIONS = 200
OPERATION_NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]{0,63}$")
# A scrape waits this long for the gauges read from the database; then it answers with
# the figures last read.
GAUGE_SECONDS = 2.0
# The objects an answer may hold (graphql/cost.py): from one to the default per-request cap.
COST_BUCKETS = (1, 10, 100, 1_000, 5_000, 10_000, 25_000, 50_000, 100_000)
SCRAPER = Actor.system("metrics")
# The operation names of this many distinct bodies of at most this many bytes are kept.
REMEMBERED_BODIES = 256
REMEMBERED_BODY_BYTES = 16 * 1024


@dataclass
class Observation:
    """What the routes learn of one request that the middleware cannot see."""

    metrics: Metrics | None = None
    code: str | None = None
    cost: int | None = None
    graphql_body: bytes | None = field(default=None, repr=False)

    def cache_lookup(self, *, hit: bool) -> None:
        if self.metrics is not None:
            self.metrics.cache_lookups.labels(result="hit" if hit else "miss").inc()


_current: ContextVar[Observation | None] = ContextVar("registry_observation", default=None)


def observed() -> Observation:
    """The observation of the request in progress (a throwaway one outside a request)."""
    return _current.get() or Observation()


class Metrics:
    """The counters of one app; ``middleware()`` measures every request."""

    def __init__(self, *, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.settings = settings
        self.sessions = sessions
        self.registry = CollectorRegistry()
        self._operations: set[str] = set()
        r = self.registry
        self.requests = Counter(
            "registry_requests",
            "Requests answered, by route template, GraphQL operation and outcome.",
            ["route", "operation", "outcome"],
            registry=r,
        )
        self.latency = Histogram(
            "registry_request_duration_seconds",
            "Time to answer a request, by route template and GraphQL operation.",
            ["route", "operation"],
            registry=r,
        )
        self.query_cost = Histogram(
            "registry_graphql_query_cost",
            "What GraphQL queries cost (the objects their answers may hold).",
            ["operation"],
            buckets=COST_BUCKETS,
            registry=r,
        )
        self.audit_append = Histogram(
            "registry_audit_append_duration_seconds",
            "Time an append to the audit log took, failed ones included.",
            registry=r,
        )
        self.audit_failures = Counter(
            "registry_audit_append_failures",
            "Appends to the audit log that failed or were given up.",
            registry=r,
        )
        self.sweeps = Counter(
            "registry_sweep_runs", "Retention sweeps run by this process.", ["outcome"], registry=r
        )
        self.swept = Counter(
            "registry_sweep_erased",
            "What retention sweeps erased, by kind.",
            ["kind"],
            registry=r,
        )
        self.held = Gauge(
            "registry_recordings_held_past_retention",
            "Recordings past their retention period that a legal hold keeps (at scrape time).",
            registry=r,
        )
        self.overdue = Gauge(
            "registry_rights_requests_overdue",
            "Open data-subject requests past their deadline (at scrape time).",
            registry=r,
        )
        self.cache_lookups = Counter(
            "registry_response_cache_lookups",
            "Lookups of the GraphQL response cache, by result (hit or miss).",
            ["result"],
            registry=r,
        )

    def middleware(self) -> Middleware:
        return Middleware(_Measure, metrics=self)

    def audit_appended(self, seconds: float, failed: bool) -> None:
        self.audit_append.observe(seconds)
        if failed:
            self.audit_failures.inc()

    def sweep_done(self, swept: Swept) -> None:
        self.sweeps.labels(outcome="ok").inc()
        for kind, count in swept.detail().items():
            self.swept.labels(kind=kind).inc(count)

    def sweep_failed(self) -> None:
        self.sweeps.labels(outcome="failed").inc()

    async def endpoint(self, request: Request) -> Response:
        token = self.settings.metrics_token
        if token is None:
            return Response(status_code=404)
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        # Digests compared, so neither the token's bytes nor its length show in the timing.
        # A wrong token is a 401 like a missing one: the throttle counts those per address.
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            _digest(given.strip()), _digest(token.get_secret_value())
        ):
            return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})
        await self._read_gauges()
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)

    async def _read_gauges(self) -> None:
        # Read when scraped, so every replica reports what the database holds now, whether
        # or not it runs the sweep or the overdue check.
        try:
            async with asyncio.timeout(GAUGE_SECONDS), self.sessions() as session:
                overdue, held = await _overdue(session), await _held(session)
        except Exception:
            logger.warning("metrics: the database gauges could not be read", exc_info=True)
            return
        self.overdue.set(overdue)
        self.held.set(held)

    def operation_label(self, observation: Observation) -> str:
        name = _operation_name(observation.graphql_body)
        if name is None:
            return ""
        if name not in self._operations:
            if len(self._operations) >= MAX_OPERATIONS:
                return "other"
            self._operations.add(name)
        return name


async def _overdue(session: AsyncSession) -> int:
    query = rights.queue_query(SCRAPER, rights.Queue(overdue=True))
    return await session.scalar(select(func.count()).select_from(query.subquery())) or 0


async def _held(session: AsyncSession) -> int:
    # The sweep's own queries: past their period, and kept by a hold in force.
    now = clock.now()
    kept = retention.expired_recordings(now).where(retention.held_now(now.date()))
    return await session.scalar(select(func.count()).select_from(kept.subquery())) or 0


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _operation_name(body: bytes | None) -> str | None:
    """The operation a /graphql body names; "anonymous" if it names none or no valid one."""
    if body is None:
        return None
    if len(body) <= REMEMBERED_BODY_BYTES:
        # Clients repeat a few requests: each distinct small body is decoded once.
        return _remembered_operation_name(body)
    return _decoded_operation_name(body)


@functools.lru_cache(maxsize=REMEMBERED_BODIES)
def _remembered_operation_name(body: bytes) -> str:
    return _decoded_operation_name(body)


def _decoded_operation_name(body: bytes) -> str:
    try:
        decoded = json.loads(body)
    except (ValueError, RecursionError):
        # Not JSON, or nested past what the decoder follows: the view refuses it already.
        return "anonymous"
    name = decoded.get("operationName") if isinstance(decoded, dict) else None
    return name if isinstance(name, str) and OPERATION_NAME.match(name) else "anonymous"


def _outcome(status: int, code: str | None) -> str:
    return code or f"{status // 100}xx"


class _Measure:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        logs.start_request()
        observation = Observation(metrics=self.metrics)
        reset = _current.set(observation)
        status = 500
        started = time.perf_counter()

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            _current.reset(reset)
            self._record(scope, observation, status, time.perf_counter() - started)

    def _record(self, scope: Scope, observation: Observation, status: int, seconds: float) -> None:
        route = scope.get("route")
        # Only matched routes' templates: a raw path may hold an ID, and any path is possible.
        template = getattr(route, "path", "other")
        operation = self.metrics.operation_label(observation)
        outcome = _outcome(status, observation.code)
        self.metrics.requests.labels(route=template, operation=operation, outcome=outcome).inc()
        self.metrics.latency.labels(route=template, operation=operation).observe(seconds)
        if observation.cost is not None:
            self.metrics.query_cost.labels(operation=operation).observe(observation.cost)
