"""Limits in front of every route: failed sign-ins per client address, requests per token.

A flood of junk tokens is refused before any database work once its address has failed
too often, and its refusals stay auditable as one count per address and interval (R-ACC-6).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry import clock
from registry.access.policy import Role
from registry.access.service import Actor
from registry.audit.models import AuditEvent, Outcome
from registry.audit.service import AuditLog
from tests.conftest import AppFactory, issue_role_tokens

SYSTEM = Actor.system("test")
ME = {"query": "{ me { handle } }"}


@pytest_asyncio.fixture
async def tokens(seeded: async_sessionmaker[AsyncSession]) -> dict[Role, str]:
    return await issue_role_tokens(seeded)


def client_from(app: Any, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://registry.test")


@pytest_asyncio.fixture
async def clients(make_app: AppFactory) -> AsyncIterator[tuple[httpx.AsyncClient, ...]]:
    """Two clients of one app, from two addresses."""
    app = make_app(
        env="production",
        sign_in_failures_burst=3,
        sign_in_failures_per_minute=6,
        rate_limit_per_minute=60,
        rate_limit_burst=2,
    )
    async with client_from(app, "192.0.2.1") as first, client_from(app, "192.0.2.2") as second:
        yield first, second


async def sign_ins_refused(log: AuditLog) -> list[AuditEvent]:
    events = await log.events(actor=SYSTEM, after_seq=0, limit=1000, action="authenticate")
    return [event for event in events if event.outcome is Outcome.DENIED]


async def junk(client: httpx.AsyncClient, n: int) -> httpx.Response:
    headers = {"Authorization": f"Bearer junk-{n}"}
    return await client.post("/graphql", json=ME, headers=headers)


async def test_r_acc_6_a_flood_of_junk_tokens_is_refused_early_and_audited_as_a_count(
    clients: tuple[httpx.AsyncClient, ...],
    tokens: dict[Role, str],
    audit_log: AuditLog,
    frozen_clock: clock.FrozenClock,
) -> None:
    """R-ACC-6: a flood of junk tokens is refused early and audited as a count."""
    attacker, other = clients
    answers = [await junk(attacker, n) for n in range(10)]
    assert [a.status_code for a in answers] == [401] * 3 + [429] * 7
    assert answers[-1].headers["Retry-After"] == "10"
    assert answers[-1].json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    # The audio routes are behind the same count.
    audio = await attacker.get("/recordings/1/audio", headers={"Authorization": "Bearer junk"})
    assert audio.status_code == 429 and audio.json()["error"]["code"] == "RATE_LIMITED"
    # One entry for each refusal that reached the token check, none for the rest.
    assert len(await sign_ins_refused(audit_log)) == 3
    # Another address is not held up, nor are its callers' tokens.
    assert (await junk(other, 0)).status_code == 401
    me = await other.post(
        "/graphql", json=ME, headers={"Authorization": f"Bearer {tokens[Role.ADMIN]}"}
    )
    assert me.status_code == 200

    frozen_clock.advance(timedelta(minutes=1))
    # The first request after the interval writes the count, beside itself.
    assert (await junk(attacker, 11)).status_code == 401
    counted = await poll_for(audit_log, lambda e: e.target == "address:192.0.2.1")
    assert counted.principal == "anonymous" and counted.outcome is Outcome.DENIED
    assert counted.detail is not None and counted.detail["refused"] == 8
    assert (await audit_log.verify()).intact


async def poll_for(log: AuditLog, match: Any) -> AuditEvent:
    deadline = time.monotonic() + 10
    while True:
        found = [event for event in await sign_ins_refused(log) if match(event)]
        if found or time.monotonic() > deadline:
            assert found, "the count was never written"
            return found[0]
        await asyncio.sleep(0.02)


async def test_the_audio_and_package_routes_are_limited_per_token(
    clients: tuple[httpx.AsyncClient, ...], tokens: dict[Role, str]
) -> None:
    client, _ = clients
    qa = {"Authorization": f"Bearer {tokens[Role.QA_SPECIALIST]}"}
    officer = {"Authorization": f"Bearer {tokens[Role.PRIVACY_OFFICER]}"}
    first = await client.get("/recordings/999/audio?purpose=x", headers=qa)
    second = await client.get("/packages/999", headers=qa)
    third = await client.get("/recordings/999/audio?purpose=x", headers=qa)
    assert first.status_code != 429 and second.status_code != 429
    assert third.status_code == 429, third.text
    assert third.headers["Retry-After"] == "1"
    assert third.json()["error"]["code"] == "RATE_LIMITED"
    # Another token has a bucket of its own, and GraphQL counts per principal apart.
    assert (await client.get("/packages/999", headers=officer)).status_code != 429
    assert (await client.post("/graphql", json=ME, headers=qa)).status_code == 200
