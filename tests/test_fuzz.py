"""Generated documents through the real app: whatever arrives, nothing crashes and nothing leaks.

Operations are generated from the schema itself (hypothesis-graphql), so every field,
argument and input type is reached without a list to keep up to date. The runs are
derandomised, so CI sees the same examples every time, and kept small enough for the
suite; ``REGISTRY_FUZZ_EXAMPLES`` raises the count for a local run that searches harder
(``REGISTRY_FUZZ_EXAMPLES=5000 .venv/bin/pytest tests/test_fuzz.py``). Every example runs on
SQLite and on PostgreSQL, as every role and without a token, mutations included: no answer
is a 5xx, and none holds an INTERNAL error.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from datetime import UTC
from typing import Any

import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema, nodes, queries
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry.access.policy import Role
from registry.errors import Conflict, Forbidden, InvalidInput, NotFound, RuleBroken
from registry.graphql.schema import build_schema
from tests.conftest import Api, AppFactory, client_of, issue_role_tokens

SDL = build_schema(development=False).as_str()
# Well-formed values mostly, and any text now and then: a bad date must be a typed error too.
SCALARS = {
    "Date": st.dates().map(lambda day: nodes.String(day.isoformat())) | st.text().map(nodes.String),
    "DateTime": st.datetimes(timezones=st.just(UTC)).map(lambda at: nodes.String(at.isoformat()))
    | st.text().map(nodes.String),
}
EXAMPLES = int(os.environ.get("REGISTRY_FUZZ_EXAMPLES", "40"))
CALLERS: list[Role | None] = [*Role, None]
# Raised while resolving, an error is one of these; anything else must come out masked.
TYPED = {kind.code for kind in (Conflict, Forbidden, InvalidInput, NotFound, RuleBroken)}
# Words that only a leaked exception or stack would put in an answer.
LEAKS = ("Traceback", 'File "', "sqlalchemy", "asyncpg", "sqlite3", "aiosqlite", "strawberry")

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    # One app and one database serve every example on purpose: nothing needs resetting.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest_asyncio.fixture
async def api(make_app: AppFactory, seeded: async_sessionmaker[AsyncSession]) -> AsyncIterator[Api]:
    """The app as deployed, less the rate and cost budgets and the count of failed sign-ins:
    examples come faster than any rate allows (the cost of one request is still limited)."""
    app = make_app(
        env="production",
        rate_limit_per_minute=0,
        query_cost_per_minute=0,
        sign_in_failures_per_minute=0,
    )
    async with client_of(app) as client:
        yield Api(client, await issue_role_tokens(seeded))


async def send(api: Api, caller: Role | None, body: bytes | Any) -> dict[str, Any]:
    """Posts ``body`` (bytes as they are, else as JSON) as ``caller`` (None: with no token),
    and checks what every answer must hold."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if caller is not None:
        headers["Authorization"] = f"Bearer {api.tokens[caller]}"
    response = await api.client.post("/graphql", content=content, headers=headers)
    assert response.status_code < 500, response.text
    assert not [word for word in LEAKS if word in response.text], response.text
    assert "Did you mean" not in response.text, response.text
    answer: dict[str, Any] = response.json()
    if caller is None:
        assert response.status_code == 401 and "data" not in answer, answer
        assert [e["extensions"]["code"] for e in answer["errors"]] == ["UNAUTHENTICATED"]
        return answer
    assert response.status_code in (200, 400), response.text
    for error in answer.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        assert code != "INTERNAL", error
        if "path" in error:
            assert code in TYPED, error
    return answer


@FUZZ
@given(document=from_schema(SDL, custom_scalars=SCALARS))
async def test_generated_operations_as_every_caller(api: Api, document: str) -> None:
    for caller in CALLERS:
        body = await send(api, caller, {"query": document})
        if caller is not None:
            assert "data" in body, body


@FUZZ
@given(
    document=queries(SDL, custom_scalars=SCALARS, mode=Mode.NEGATIVE),
    caller=st.sampled_from(CALLERS),
)
async def test_operations_that_break_the_schema_are_refused(
    api: Api, document: str, caller: Role | None
) -> None:
    body = await send(api, caller, {"query": document})
    if caller is not None:
        assert body["errors"] and body.get("data") is None, body


NODE = "query($id: ID!) { node(id: $id) { id } }"
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@settings(FUZZ, max_examples=2 * EXAMPLES)
@given(
    body=st.one_of(
        st.binary(),
        JSON_VALUES,
        st.fixed_dictionaries({"query": st.text()}),
        st.fixed_dictionaries({"query": st.just(NODE), "variables": JSON_VALUES}),
    ),
    caller=st.sampled_from(CALLERS),
)
async def test_malformed_requests_are_answered_cleanly(
    api: Api, body: bytes | Any, caller: Role | None
) -> None:
    await send(api, caller, body)
