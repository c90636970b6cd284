"""Limits in front of every route: failed sign-ins per client address, requests per token.

A request without a valid token costs a token lookup and an audit entry. Each client
address may fail ``sign_in_failures_burst`` times at once, then
``sign_in_failures_per_minute``; past that its requests are refused at once (429), before
any database is touched, and counted instead of audited one by one: each address's count
is written to the audit log as one entry per interval (R-ACC-6), by the first request
after the interval or when the server stops.

The audio and package routes are also limited per bearer token, at the rate GraphQL
allows each principal (/graphql counts per principal itself, see graphql/view.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from registry import clock
from registry.audit.models import Outcome
from registry.audit.service import AuditLog, AuditUnavailable, Entry
from registry.graphql.ratelimit import RateLimiter
from registry.settings import Settings

logger = logging.getLogger(__name__)

PUBLIC = frozenset({"/healthz", "/readyz"})
GRAPHQL = "/graphql"
# Refusals of an address are written to the audit log once per this interval at most.
AGGREGATE_INTERVAL = timedelta(minutes=1)


class Throttle:
    """The counts of one process; ``middleware()`` puts it in front of the app's routes."""

    def __init__(self, *, settings: Settings, audit_log: AuditLog) -> None:
        self.audit_log = audit_log
        self.failures = RateLimiter(
            per_minute=settings.sign_in_failures_per_minute,
            burst=settings.sign_in_failures_burst,
        )
        self.per_token = RateLimiter(
            per_minute=settings.rate_limit_per_minute, burst=settings.rate_limit_burst
        )
        self.refused: Counter[str] = Counter()
        self.since: datetime = clock.now()
        self._writing: set[asyncio.Task[None]] = set()

    def middleware(self) -> Middleware:
        return Middleware(_Guard, throttle=self)

    async def handle(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PUBLIC:
            await app(scope, receive, send)
            return
        self._write_refusals_if_due()
        address = scope["client"][0] if scope.get("client") else "unknown"
        path = scope["path"]
        if wait := self.failures.wait(address):
            self.refused[address] += 1
            reason = "too many failed sign-ins from this address"
            await _too_many(path, reason, wait)(scope, receive, send)
            return
        if path != GRAPHQL:
            token = _bearer(Headers(scope=scope))
            if token and (wait := self.per_token.take(_digest(token))):
                await _too_many(path, "too many requests", wait)(scope, receive, send)
                return

        async def counting(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                self.failures.take(address)
            await send(message)

        await app(scope, receive, counting)

    def _write_refusals_if_due(self) -> None:
        if self.refused and clock.now() - self.since >= AGGREGATE_INTERVAL:
            # Written beside the request, which neither waits for it nor fails with it.
            task = asyncio.ensure_future(self.write_refusals())
            self._writing.add(task)
            task.add_done_callback(self._writing.discard)

    async def write_refusals(self) -> None:
        """One audit entry per address for the refusals counted since the last."""
        counted, since, now = self.refused, self.since, clock.now()
        self.refused, self.since = Counter(), now
        if not counted:
            return
        entries = [
            Entry(
                principal="anonymous",
                action="authenticate",
                outcome=Outcome.DENIED,
                target=f"address:{address}"[:300],
                detail={
                    "reason": "too many failed sign-ins from this address",
                    "refused": count,
                    "from": since.isoformat(),
                    "to": now.isoformat(),
                },
            )
            for address, count in counted.items()
        ]
        try:
            await self.audit_log.append(entries)
        except AuditUnavailable:
            # Kept for the next attempt: a count is never dropped unwritten.
            self.refused.update(counted)
            self.since = since
            logger.error("refused sign-ins could not be audited yet; they are kept")

    async def close(self) -> None:
        """Writes what is still counted; the server is stopping."""
        await asyncio.gather(*self._writing)
        await self.write_refusals()


class _Guard:
    def __init__(self, app: ASGIApp, throttle: Throttle) -> None:
        self.app = app
        self.throttle = throttle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.throttle.handle(self.app, scope, receive, send)


def _bearer(headers: Headers) -> str | None:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _digest(token: str) -> str:
    # The bucket's key: the token itself is never kept.
    return hashlib.sha256(token.encode()).hexdigest()


def _too_many(path: str, reason: str, wait: float) -> JSONResponse:
    # In the form of the route's own errors.
    seconds = math.ceil(wait)
    message = f"{reason}: try again in {seconds} s"
    body: dict[str, Any]
    if path == GRAPHQL:
        body = {"errors": [{"message": message, "extensions": {"code": "RATE_LIMITED"}}]}
    else:
        body = {"error": {"code": "RATE_LIMITED", "message": message}}
    return JSONResponse(body, status_code=429, headers={"Retry-After": str(seconds)})
