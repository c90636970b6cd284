"""The OWASP GraphQL guards: no schema discovery, no batching, a deadline, a rate, authorised IDs."""

from __future__ import annotations

import asyncio
import base64
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from registry import clock
from registry.access.policy import Action, Role, allowed_roles
from registry.graphql.ratelimit import RateLimiter
from registry.record.history import service as history
from registry.record.inventory import service as inventory
from tests.conftest import NOW, Api, Serve


async def post(api: Api, body: Any, role: Role | None = Role.PRIVACY_OFFICER) -> httpx.Response:
    headers = {"Authorization": f"Bearer {api.tokens[role]}"} if role is not None else {}
    return await api.client.post("/graphql", json=body, headers=headers)


def global_id(type_name: str, key: object) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{key}".encode()).decode()


# Introspection and suggestions


async def test_introspection_is_off_outside_development(serve: Serve) -> None:
    production = await serve(env="production")
    for query in ("{ __schema { queryType { name } } }", '{ __type(name: "Entity") { name } }'):
        body = await production.query(query)
        assert body["data"] is None
        assert "introspection has been disabled" in body["errors"][0]["message"]
    assert await production.data("{ __typename }") == {"__typename": "Query"}
    development = await serve(env="development")
    schema = await development.data("{ __schema { queryType { name } } }")
    assert schema["__schema"]["queryType"]["name"] == "Query"


# Each misspells a name the schema has, so graphql-core would suggest it.
MISSPELLED: list[tuple[str, dict[str, Any]]] = [
    ("{ entites { nodes { slug } } }", {}),
    ("{ entities(firts: 1) { nodes { slug } } }", {}),
    ("{ entities(filter: {kinds: [PROCESOR]}) { nodes { slug } } }", {}),
    ("{ entities(filter: {kind: [PROCESSOR]}) { nodes { slug } } }", {}),
    ("query($f: EntityFiltr) { entities(filter: $f) { nodes { slug } } }", {}),
    (
        "query($f: EntityFilter) { entities(filter: $f) { nodes { slug } } }",
        {"f": {"kinds": ["PROCESOR"]}},
    ),
    (
        "query($f: EntityFilter) { entities(filter: $f) { nodes { slug } } }",
        {"f": {"kind": ["PROCESSOR"]}},
    ),
]


async def test_no_field_suggestions_outside_development(serve: Serve) -> None:
    production = await serve(env="production")
    development = await serve(env="development")
    for query, variables in MISSPELLED:
        suggested = await development.query(query, variables)
        assert "Did you mean" in suggested["errors"][0]["message"], query
        body = await production.query(query, variables)
        assert body["errors"] and body.get("data") is None, query
        assert "Did you mean" not in str(body), body
        # The rest of the message stays, so a developer still learns what was wrong.
        before_the_hint = suggested["errors"][0]["message"].split(" Did you mean")[0]
        assert body["errors"][0]["message"].startswith(before_the_hint)


# Batching


async def test_a_batch_of_operations_is_refused_and_none_runs(serve: Serve) -> None:
    api = await serve(env="production")
    update = 'mutation { updateEntity(slug: "dmx-us", input: {registeredOffice: "1 Main St"}) { errors { message } } }'
    response = await post(api, [{"query": update}, {"query": "{ me { handle } }"}])
    assert response.status_code == 400
    body = response.json()
    assert "data" not in body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST" and "Batching" in error["message"]
    after = await api.data('{ entity(slug: "dmx-us") { registeredOffice } }')
    assert after["entity"]["registeredOffice"] != "1 Main St"


async def test_malformed_requests_are_400_not_500(serve: Serve) -> None:
    api = await serve(env="production")
    headers = {"Authorization": f"Bearer {api.tokens[Role.AGENT]}"}
    for content, content_type in (
        (b"{not json", "application/json"),
        (b"\x00\x00\x00\xff", "application/json"),
        (b"null", "application/json"),
        (b'"{ me { handle } }"', "application/json"),
        (b'{"variables": {}}', "application/json"),
        (b'{"query": 5}', "application/json"),
        (b"query { me { handle } }", "text/plain"),
    ):
        response = await api.client.post(
            "/graphql", content=content, headers={**headers, "Content-Type": content_type}
        )
        assert response.status_code == 400, (content, response.text)
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_root_fields_that_each_read_the_database_share_the_session(serve: Serve) -> None:
    # Not a cacheable read, so the resolvers themselves are the first to use the session.
    api = await serve(env="production")
    data = await api.data(
        '{ me { handle } changes(first: 1) { nodes { id } } a: entity(slug: "talkdesk") { slug } '
        'b: entity(slug: "dmx-us") { slug } activities { slug } transfers(first: 1) { nodes { slug } } }'
    )
    assert data["a"]["slug"] == "talkdesk" and data["b"]["slug"] == "dmx-us"


# Deadline


async def test_a_request_past_its_deadline_is_cancelled_and_rolled_back(
    serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = await serve(env="production", request_timeout_seconds=0.2)
    create_entity = inventory.create_entity

    async def create_then_hang(**kwargs: Any) -> Any:
        entity = await create_entity(**kwargs)
        await asyncio.sleep(60)
        return entity

    monkeypatch.setattr(inventory, "create_entity", create_then_hang)
    response = await post(
        api,
        {
            "query": """mutation {
              first: updateEntity(slug: "dmx-us", input: {registeredOffice: "1 Main St"}) { errors { message } }
              second: createEntity(input: {slug: "acme-hosting", kind: SUB_PROCESSOR, legalName: "Acme", countryCode: "IE"}) { errors { message } }
            }"""
        },
    )
    assert response.status_code == 503
    body = response.json()
    assert "data" not in body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "TIMEOUT" and error["extensions"]["requestId"]
    # Both steps were written and flushed; neither was committed.
    after = await api.data(
        '{ dmx: entity(slug: "dmx-us") { registeredOffice } acme: entity(slug: "acme-hosting") { slug } '
        'changes(subjectSlug: "acme-hosting") { nodes { action } } }'
    )
    assert after["dmx"]["registeredOffice"] != "1 Main St"
    assert after["acme"] is None and after["changes"]["nodes"] == []


async def test_a_query_stuck_in_postgresql_is_cancelled_and_the_pool_recovers(
    serve: Serve, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs a statement in a thread that cancellation cannot stop")
    api = await serve(env="production", request_timeout_seconds=0.2)

    async def sleep_in_the_database(*, session: AsyncSession, **_: Any) -> list[Any]:
        await session.execute(text("SELECT pg_sleep(60)"))
        return []

    monkeypatch.setattr(history, "list_changes", sleep_in_the_database)
    for _ in range(3):
        response = await post(api, {"query": "{ changes { nodes { id } } }"})
        assert response.json()["errors"][0]["extensions"]["code"] == "TIMEOUT"
    monkeypatch.undo()
    assert (await api.data("{ changes { nodes { id } } }"))["changes"] is not None
    async with engine.connect() as connection:
        busy = await connection.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND state = 'active' AND query LIKE 'SELECT pg_sleep%'"
            )
        )
    assert busy == 0


# Rate


async def test_a_principal_over_its_rate_gets_429_and_others_go_on(
    serve: Serve, frozen_clock: clock.FrozenClock
) -> None:
    api = await serve(env="production", rate_limit_per_minute=60, rate_limit_burst=2)
    me = {"query": "{ me { handle } }"}
    assert [(await post(api, me)).status_code for _ in range(2)] == [200, 200]
    refused = await post(api, me)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"
    body = refused.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert (await post(api, me, role=Role.INTEGRATION)).status_code == 200
    # Without a token there is no principal to count: refused as before.
    assert (await post(api, me, role=None)).status_code == 401
    frozen_clock.advance(timedelta(seconds=1))
    assert (await post(api, me)).status_code == 200
    assert (await post(api, me)).status_code == 429


async def test_a_refused_request_changes_nothing(
    serve: Serve, frozen_clock: clock.FrozenClock
) -> None:
    api = await serve(env="production", rate_limit_per_minute=1, rate_limit_burst=1)
    await api.data("{ me { handle } }")
    update = 'mutation { updateEntity(slug: "dmx-us", input: {registeredOffice: "1 Main St"}) { errors { message } } }'
    refused = await post(api, {"query": update})
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "60"
    frozen_clock.advance(timedelta(minutes=1))
    after = await api.data('{ entity(slug: "dmx-us") { registeredOffice } }')
    assert after["entity"]["registeredOffice"] != "1 Main St"


def test_the_bucket_allows_a_burst_then_the_steady_rate(frozen_clock: clock.FrozenClock) -> None:
    limiter = RateLimiter(per_minute=600, burst=3)
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a") == pytest.approx(0.1)
    assert limiter.take("b") == 0.0
    frozen_clock.advance(timedelta(seconds=0.1))
    assert limiter.take("a") == 0.0
    assert limiter.take("a") > 0
    # Idle time refills the bucket up to the burst, no further.
    frozen_clock.advance(timedelta(hours=1))
    assert [limiter.take("a") for _ in range(4)][-1] > 0


def test_a_clock_set_back_refills_nothing(frozen_clock: clock.FrozenClock) -> None:
    limiter = RateLimiter(per_minute=60, burst=1)
    assert limiter.take("a") == 0.0
    frozen_clock.current = NOW - timedelta(hours=1)
    assert limiter.take("a") > 0
    frozen_clock.current = NOW + timedelta(seconds=1)
    assert limiter.take("a") == 0.0


def test_buckets_of_keys_gone_quiet_are_dropped(frozen_clock: clock.FrozenClock) -> None:
    # Keys may be client addresses, which a flood can multiply without end.
    limiter = RateLimiter(per_minute=60, burst=1)
    for n in range(3 * RateLimiter.KEYS_KEPT):
        assert limiter.take(f"address-{n}") == 0.0
        frozen_clock.advance(timedelta(seconds=1))  # every earlier bucket is full again
    assert len(limiter) <= RateLimiter.KEYS_KEPT + 1


def test_a_rate_of_zero_turns_limiting_off() -> None:
    limiter = RateLimiter(per_minute=0, burst=1)
    assert all(limiter.take("a") == 0.0 for _ in range(1000))


# Authorisation per object


NODE_ACTIONS = {
    "Entity": Action.INVENTORY_READ,
    "Activity": Action.INVENTORY_READ,
    "Transfer": Action.TRANSFERS_READ,
    "AdequacyDecision": Action.TRANSFERS_READ,
    "Change": Action.HISTORY_READ,
}


async def one_id_of_each_type(api: Api) -> dict[str, str]:
    await api.data(
        'mutation { updateEntity(slug: "dmx-us", input: {contact: "privacy@dmx.example"}) { errors { message } } }'
    )
    data = await api.data(
        """{ entity(slug: "talkdesk") { id } activities { id } transfers(first: 1) { nodes { id } }
             countries { adequacyDecisions { id } } changes(first: 1) { nodes { id } } }""",
        role=Role.ADMIN,
    )
    decisions = [d["id"] for c in data["countries"] for d in c["adequacyDecisions"]]
    return {
        "Entity": data["entity"]["id"],
        "Activity": data["activities"][0]["id"],
        "Transfer": data["transfers"]["nodes"][0]["id"],
        "AdequacyDecision": decisions[0],
        "Change": data["changes"]["nodes"][0]["id"],
    }


async def test_no_object_is_reachable_by_id_for_a_role_that_may_not_read_it(
    serve: Serve,
) -> None:
    api = await serve(env="production")
    ids = await one_id_of_each_type(api)
    assert set(ids) == set(NODE_ACTIONS)
    query = "query($id: ID!) { node(id: $id) { __typename id } }"
    for role in Role:
        for type_name, node_id in ids.items():
            body = await api.query(query, {"id": node_id}, role=role)
            if role in allowed_roles(NODE_ACTIONS[type_name]):
                assert "errors" not in body
                assert body["data"] == {"node": {"__typename": type_name, "id": node_id}}
            else:
                assert body["data"] == {"node": None}, (role, type_name)
                (error,) = body["errors"]
                assert error["extensions"]["code"] == "FORBIDDEN", (role, type_name)


async def test_a_connection_is_refused_whole_to_a_role_that_may_not_read_it(
    serve: Serve,
) -> None:
    api = await serve(env="production")
    await one_id_of_each_type(api)
    for role in Role:
        body = await api.query("{ changes { nodes { id actor } } }", role=role)
        if role in allowed_roles(Action.HISTORY_READ):
            assert body["data"]["changes"]["nodes"]
        else:
            assert body["data"] is None
            assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]


FORGED = [
    global_id("Principal", 1),
    global_id("ApiToken", 1),
    global_id("AuditEvent", 1),
    global_id("entity", 1),
    global_id("", 1),
    global_id("Entity", 0),
    global_id("Entity", -1),
    global_id("Change", 2**31),
    global_id("Transfer", 10**30),
]


async def test_a_forged_id_finds_nothing_and_tells_nothing(serve: Serve) -> None:
    api = await serve(env="production")
    for role in (Role.ADMIN, Role.AGENT):
        for forged in FORGED:
            body = await api.query(
                "query($id: ID!) { node(id: $id) { id } }", {"id": forged}, role=role
            )
            assert body["data"] == {"node": None} and "errors" not in body, (role, forged)


async def test_an_id_that_is_not_one_is_invalid_input(serve: Serve) -> None:
    api = await serve(env="production")
    for bad in ("not-an-id", global_id("Entity", "x"), "////", "RW50aXR5"):
        body = await api.query("query($id: ID!) { node(id: $id) { id } }", {"id": bad})
        assert body["data"] == {"node": None}
        (error,) = body["errors"]
        assert error["extensions"]["code"] == "INVALID_INPUT"
        assert error["message"] == "not a valid global ID"
