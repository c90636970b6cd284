"""What one request may cost: its body's size, its document's cost, and inputs found by fuzzing.

None of these has a rule of its own in REQUIREMENTS.md: they keep the service up for every
other caller, and each refusal is typed, changes nothing and never ends in a 500.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
from graphql import parse
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from registry import clock
from registry.access.policy import Role
from registry.graphql.cost import query_cost
from registry.graphql.schema import build_schema
from tests.conftest import Api, Serve


def bearer(api: Api, role: Role = Role.PRIVACY_OFFICER) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.tokens[role]}", "Content-Type": "application/json"}


async def post(api: Api, body: Any, role: Role = Role.PRIVACY_OFFICER) -> httpx.Response:
    return await api.client.post("/graphql", content=json.dumps(body), headers=bearer(api, role))


def code_of(response: httpx.Response) -> str:
    code: str = response.json()["errors"][0]["extensions"]["code"]
    return code


# The body's size


def padded(size: int) -> bytes:
    """A well-formed request of ``size`` bytes: the padding is a GraphQL comment."""
    head = b'{"query": "{ me { handle } }\\n#'
    tail = b'"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


async def test_a_body_past_the_limit_is_refused_before_it_is_read(serve: Serve) -> None:
    api = await serve(env="production")
    assert (
        await api.client.post("/graphql", content=padded(200_000), headers=bearer(api))
    ).status_code == 200
    for size in (1_000_000, 20_000_000):
        started = time.monotonic()
        response = await api.client.post("/graphql", content=padded(size), headers=bearer(api))
        assert response.status_code == 413, response.text
        assert code_of(response) == "PAYLOAD_TOO_LARGE"
        assert response.json()["errors"][0]["extensions"]["requestId"]
        # Generous for a loaded machine: reading and parsing 20 MB took far longer.
        assert time.monotonic() - started < 5


async def test_a_streamed_body_is_cut_off_at_the_limit(serve: Serve) -> None:
    api = await serve(env="production", graphql_max_body_bytes=1024)
    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        # No Content-Length: only counting what arrives can stop it.
        nonlocal sent
        yield b'{"query": "#'
        while True:
            sent += 256
            yield b"x" * 256

    response = await api.client.post("/graphql", content=endless(), headers=bearer(api))
    assert response.status_code == 413 and code_of(response) == "PAYLOAD_TOO_LARGE"
    assert sent <= 2048


async def test_large_documents_do_not_hold_up_other_callers(serve: Serve) -> None:
    # Refused before parsing, documents of 20 MB cost their sender, not the other callers.
    api = await serve(env="production", rate_limit_per_minute=0)
    me = {"query": "{ me { handle } }"}
    for role in (Role.INTEGRATION, Role.ADMIN):
        await post(api, me, role)  # Each token's last use is kept: written once, beforehand.
    huge = padded(20_000_000)

    async def flood() -> list[int]:
        return [
            (
                await api.client.post(
                    "/graphql", content=huge, headers=bearer(api, Role.INTEGRATION)
                )
            ).status_code
            for _ in range(2)
        ]

    flooding = asyncio.gather(*(flood() for _ in range(2)))
    started = time.monotonic()
    answer = await post(api, me, Role.ADMIN)
    waited = time.monotonic() - started
    assert {status for statuses in await flooding for status in statuses} == {413}
    assert answer.status_code == 200 and waited < 5


# Query cost: the objects an answer may hold, known before it runs


async def test_the_cost_is_computed_from_the_document_and_reported(serve: Serve) -> None:
    api = await serve(env="production")
    # The connection (1), its 10 nodes, and up to 10 transfers below each (plain lists are
    # reckoned at 10): nodes times `first` along each path.
    query = "query($n: Int!) { entities(first: $n) { nodes { slug transfersOut { slug } } } }"
    body = (await post(api, {"query": query, "variables": {"n": 10}})).json()
    assert "errors" not in body
    assert body["extensions"]["cost"] == {"requested": 1 + 10 + 10 * 10, "maximum": 50_000}
    aliased = (
        '{ a: entity(slug: "talkdesk") { slug } b: entity(slug: "dmx-us") { country { code } } }'
    )
    body = (await post(api, {"query": aliased})).json()
    assert body["extensions"]["cost"]["requested"] == 1 + 1 + 1
    scalars_only = (await post(api, {"query": "{ __typename }"})).json()
    assert scalars_only["extensions"]["cost"]["requested"] == 0


def test_fragments_and_variables_cost_what_they_stand_for() -> None:
    schema = build_schema(development=False)._schema
    document = parse(
        """
        query Pages($n: Int!) { ...Page entities(first: $n) { nodes { ... on Entity { subProcessors { slug } } } } }
        fragment Page on Query { transfers(first: 3) { edges { node { exporter { slug } } } } }
        """
    )
    # transfers: 1 + 3 edges + 3 nodes + 3 exporters; entities: 1 + 7 nodes + 7 * 10 lists.
    assert query_cost(schema, document, "Pages", {"n": 7}, max_page_size=100) == 10 + 78
    # A `first` past the cap costs the cap (the field refuses it when it runs).
    assert query_cost(schema, document, None, {"n": 10**9}, max_page_size=100) == 10 + 1101


NESTED_TRANSFERS = """
    entities(first: 100) { nodes {
        transfersOut { importer { transfersOut { importer { transfersIn { exporter { slug } } } } } }
    } }"""


async def test_a_query_costing_more_than_a_request_may_is_refused_before_it_runs(
    serve: Serve,
) -> None:
    api = await serve(env="production", rate_limit_per_minute=0)
    for role in (Role.ADMIN, Role.INTEGRATION):
        await post(api, {"query": "{ me { handle } }"}, role)  # each token's last use, once
    aliased = "{ " + " ".join(f"a{n}: {NESTED_TRANSFERS}" for n in range(30)) + " }"

    async def attack() -> httpx.Response:
        return await post(api, {"query": aliased}, Role.INTEGRATION)

    flood = asyncio.gather(*(attack() for _ in range(20)))
    started = time.monotonic()
    other = await post(api, {"query": "{ me { handle } }"}, Role.ADMIN)
    waited = time.monotonic() - started
    for response in await flood:
        assert response.status_code == 200
        body = response.json()
        assert body["data"] is None
        (error,) = body["errors"]
        assert error["extensions"]["code"] == "QUERY_TOO_COSTLY", error
        assert body["extensions"]["cost"]["requested"] > 50_000
    assert other.status_code == 200 and waited < 5


async def test_each_principal_has_a_cost_budget_per_minute(
    serve: Serve, frozen_clock: clock.FrozenClock
) -> None:
    # Cached answers cost next to nothing and are not charged: every answer here is computed.
    api = await serve(
        env="production",
        max_query_cost=1_000,
        query_cost_per_minute=2_000,
        response_cache_entries=0,
    )
    query = {"query": "{ entities(first: 90) { nodes { transfersOut { slug } } } }"}  # 991
    assert [(await post(api, query, Role.INTEGRATION)).status_code for _ in range(2)] == [200, 200]
    refused = await post(api, query, Role.INTEGRATION)
    assert refused.status_code == 429, refused.text
    assert code_of(refused) == "RATE_LIMITED" and "data" not in refused.json()
    # 991 - (2000 - 2 * 991) = 973 to refill at 2000 a minute: 29.19 s.
    assert refused.headers["Retry-After"] == "30"
    # Another principal's budget is its own.
    assert (await post(api, query, Role.PRIVACY_OFFICER)).status_code == 200
    frozen_clock.advance(timedelta(seconds=30))
    assert (await post(api, query, Role.INTEGRATION)).status_code == 200


async def test_a_query_over_the_budget_does_not_run(
    serve: Serve, engine: AsyncEngine, frozen_clock: clock.FrozenClock
) -> None:
    api = await serve(
        env="production", max_query_cost=100, query_cost_per_minute=100, response_cache_entries=0
    )
    assert (
        await post(api, {"query": "{ entities(first: 90) { nodes { slug } } }"})
    ).status_code == 200
    # The payload (1) and its list of errors (10): more than the 9 left.
    update = (
        'mutation { updateEntity(slug: "dmx-us", input: {registeredOffice: "1 Main St"})'
        " { errors { message } } }"
    )
    statements: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    refused = await post(api, {"query": update})
    assert refused.status_code == 429 and code_of(refused) == "RATE_LIMITED"
    # Only the token was looked up: the mutation never began.
    assert not [s for s in statements if "entity" in s.lower()], statements
    frozen_clock.advance(timedelta(minutes=1))
    after = await api.data('{ entity(slug: "dmx-us") { registeredOffice } }')
    assert after["entity"]["registeredOffice"] != "1 Main St"


# Inputs found by fuzzing: each a typed INVALID_INPUT, never INTERNAL or a 500


def cursor(key: object) -> str:
    return base64.urlsafe_b64encode(f"cursor:{key}".encode()).decode()


async def test_a_cursor_past_the_integer_range_is_invalid_input(serve: Serve) -> None:
    api = await serve(env="production")
    connections = ["entities", "transfers", "changes", "principals", "tokens", "rightsRequests"]
    for key in (2**31, 2**63, 10**30, -1):
        for name in connections:
            role = Role.ADMIN if name in ("principals", "tokens") else Role.PRIVACY_OFFICER
            query = f"query($a: String) {{ {name}(after: $a) {{ nodes {{ __typename }} }} }}"
            body = (await post(api, {"query": query, "variables": {"a": cursor(key)}}, role)).json()
            assert body["data"] is None, (name, key, body)
            (error,) = body["errors"]
            assert error["extensions"]["code"] == "INVALID_INPUT", (name, key, error)
    # The last key a cursor may name still pages on: past it there is nothing.
    query = "query($a: String) { entities(after: $a) { nodes { slug } } }"
    last = await post(api, {"query": query, "variables": {"a": cursor(2**31 - 1)}})
    assert last.json()["data"] == {"entities": {"nodes": []}} and "errors" not in last.json()


async def test_a_nul_in_any_string_input_is_invalid_input_and_changes_nothing(
    serve: Serve,
) -> None:
    api = await serve(env="production")
    create = (
        "mutation($s: String!) { createEntity(input: {slug: $s, kind: SUB_PROCESSOR,"
        ' legalName: "Acme", countryCode: "IE"}) { errors { message } } }'
    )
    literal = (
        'mutation { createEntity(input: {slug: "acme", kind: SUB_PROCESSOR,'
        ' legalName: "Ac\\u0000me", countryCode: "IE"}) { errors { message } } }'
    )
    for request in (
        {"query": create, "variables": {"s": "acme\x00"}},
        {"query": literal},
        {"query": "query($s: String!) { entity(slug: $s) { slug } }", "variables": {"s": "\x00"}},
        {"query": '{ entity(slug: "dmx\\u0000") { slug } }'},
        {"query": '{ findSubjects(email: "a\\u0000@example.test") { subjectId } }'},
    ):
        response = await post(api, request)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["data"] is None, body
        (error,) = body["errors"]
        assert error["extensions"]["code"] == "INVALID_INPUT", body
    assert (await api.data('{ entity(slug: "acme") { slug } }'))["entity"] is None


async def test_a_deeply_nested_body_is_invalid_input(serve: Serve) -> None:
    api = await serve(env="production")
    for content in (
        b"[" * 100_000,
        b'{"query": "{ me { handle } }", "variables": ' + b"[" * 100_000,
    ):
        response = await api.client.post("/graphql", content=content, headers=bearer(api))
        assert response.status_code == 400, response.text
        assert code_of(response) == "INVALID_INPUT"
