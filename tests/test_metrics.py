"""/metrics: served only with its own token, counting requests, costs, audit appends and
sweeps, and never showing a token or a principal's handle."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry.access.policy import Role
from registry.audit.service import AuditLog
from registry.blobs import LocalBlobStore
from registry.settings import Settings
from registry.upkeep.sweeping import sweep_all
from tests.conftest import AppFactory, client_of, issue_role_tokens

METRICS_TOKEN = "metrics-token-for-the-tests-0123456789"
SCRAPE = {"Authorization": f"Bearer {METRICS_TOKEN}"}
READ = 'query Offices { entity(slug: "dmx-us") { registeredOffice } }'

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


async def test_metrics_are_not_served_without_the_setting(
    make_app: AppFactory, seeded: async_sessionmaker[AsyncSession]
) -> None:
    async with client_of(make_app()) as client:
        assert (await client.get("/metrics")).status_code == 404
        assert (await client.get("/metrics", headers=SCRAPE)).status_code == 404


async def test_metrics_ask_for_their_own_token(
    make_app: AppFactory, seeded: async_sessionmaker[AsyncSession]
) -> None:
    tokens = await issue_role_tokens(seeded)
    async with client_of(make_app(metrics_token=METRICS_TOKEN)) as client:
        assert (await client.get("/metrics")).status_code == 401
        wrong = {"Authorization": f"Bearer {METRICS_TOKEN}x"}
        assert (await client.get("/metrics", headers=wrong)).status_code == 401
        # A principal's token is no key to the metrics, even an admin's.
        admin = {"Authorization": f"Bearer {tokens[Role.ADMIN]}"}
        assert (await client.get("/metrics", headers=admin)).status_code == 401
        answer = await client.get("/metrics", headers=SCRAPE)
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain")


def test_a_short_metrics_token_is_refused() -> None:
    with pytest.raises(ValidationError, match="metrics_token"):
        Settings(metrics_token="short")


@pytest_asyncio.fixture
async def scraped(
    make_app: AppFactory, seeded: async_sessionmaker[AsyncSession]
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[Role, str]]]:
    tokens = await issue_role_tokens(seeded)
    async with client_of(make_app(metrics_token=METRICS_TOKEN)) as client:
        yield client, tokens


async def test_requests_costs_audit_appends_and_the_cache_are_counted(
    scraped: tuple[httpx.AsyncClient, dict[Role, str]],
) -> None:
    client, tokens = scraped
    officer = {"Authorization": f"Bearer {tokens[Role.PRIVACY_OFFICER]}"}
    for _ in range(2):
        answer = await client.post(
            "/graphql", json={"query": READ, "operationName": "Offices"}, headers=officer
        )
        assert answer.status_code == 200, answer.text
    # A request with a token that is no one's: refused, and the refusal audited.
    refused = await client.post(
        "/graphql", json={"query": "{ me { handle } }"}, headers={"Authorization": "Bearer nope"}
    )
    assert refused.status_code == 401

    text = (await client.get("/metrics", headers=SCRAPE)).text
    found = samples(text)
    graphql = {"route": "/graphql"}
    assert (
        value(found, "registry_requests_total", operation="Offices", outcome="2xx", **graphql) == 2
    )
    assert (
        value(
            found,
            "registry_requests_total",
            operation="anonymous",
            outcome="UNAUTHENTICATED",
            **graphql,
        )
        == 1
    )
    latency = value(
        found, "registry_request_duration_seconds_count", operation="Offices", **graphql
    )
    assert latency == 2
    # The first answer is computed and its cost reported; the second comes from the cache.
    assert value(found, "registry_graphql_query_cost_count", operation="Offices") >= 1
    assert value(found, "registry_graphql_query_cost_sum", operation="Offices") >= 1
    assert value(found, "registry_response_cache_lookups_total", result="miss") >= 1
    assert value(found, "registry_response_cache_lookups_total", result="hit") >= 1
    # The refusal was audited before it left (the record's inventory is read unaudited).
    assert value(found, "registry_audit_append_duration_seconds_count") == 1
    assert value(found, "registry_audit_append_failures_total") == 0
    assert ("registry_rights_requests_overdue", frozenset()) in found
    assert ("registry_recordings_held_past_retention", frozenset()) in found


async def test_no_token_or_handle_shows_in_the_metrics(
    scraped: tuple[httpx.AsyncClient, dict[Role, str]],
) -> None:
    client, tokens = scraped
    for role, token in tokens.items():
        await client.post(
            "/graphql",
            json={"query": "{ me { handle } }"},
            headers={"Authorization": f"Bearer {token}", "X-Request-ID": f"request-{role.value}"},
        )
    text = (await client.get("/metrics", headers=SCRAPE)).text
    assert METRICS_TOKEN not in text
    for role, token in tokens.items():
        assert token not in text
        assert f"test-{role.value.replace('_', '-')}" not in text
        assert f"request-{role.value}" not in text


async def test_sweeps_and_audit_failures_are_counted(
    make_app: AppFactory,
    seeded: async_sessionmaker[AsyncSession],
    audit_log: AuditLog,
    blobs: LocalBlobStore,
) -> None:
    app = make_app(metrics_token=METRICS_TOKEN)
    metrics = app.state.metrics
    metrics.sweep_done(await sweep_all(sessions=seeded, blobs=blobs, audit_log=audit_log))
    metrics.sweep_failed()
    audit_log.on_append(0.5, True)
    async with client_of(app) as client:
        found = samples((await client.get("/metrics", headers=SCRAPE)).text)
    assert value(found, "registry_sweep_runs_total", outcome="ok") == 1
    assert value(found, "registry_sweep_runs_total", outcome="failed") == 1
    assert ("registry_sweep_erased_total", frozenset({("kind", "shredded")})) in found
    assert value(found, "registry_audit_append_failures_total") == 1
