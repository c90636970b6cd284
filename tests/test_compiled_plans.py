"""Compiled plans answer the queries they cover byte for byte as ordinary execution does.

Generated queries over the covered shapes (fields, aliases, fragments, ``__typename``,
``@include``/``@skip``, nesting, good and bad ``first``/``after``) go to two apps on the
same seeded database, one with plans off and one with plans on, and their answers must be
the same bytes. What the compiler does not cover is left to ordinary execution, and a
refusal or a bad argument is answered and audited exactly as without plans. (The rest of
the suite runs with plans in ``verify`` mode, see tests/conftest.py: every covered query
of every test is answered both ways and compared there.)
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from graphql import parse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from registry.access.policy import Role
from registry.access.service import Actor
from registry.audit.service import AuditLog
from registry.blobs import LocalBlobStore
from registry.crypto import KeyRing
from registry.graphql.compiled import compiler
from registry.graphql.compiled.compiler import covers
from registry.graphql.context import Context
from registry.graphql.ratelimit import RateLimiter
from registry.graphql.schema import build_schema
from registry.settings import CompiledPlans, Settings
from tests.conftest import Api, AppFactory, Serve, client_of, issue_role_tokens

SCHEMA = build_schema(development=False)
BENCH_QUERY = """{ entities(first: 100) { nodes { slug legalName transfersOut {
    slug mechanism importer { slug legalName countryCode } } } } }"""

ENTITY_LEAVES = [
    "id",
    "slug",
    "kind",
    "knownAs",
    "legalName",
    "registeredOffice",
    "countryCode",
    "contact",
    "dpo",
    "representative",
    "verified",
    "verificationNote",
    "dpfCertified",
    "noticeNumber",
    "activeFrom",
    "retiredOn",
    "retirementReason",
]
TRANSFER_LEAVES = [
    "id",
    "slug",
    "mechanism",
    "sccModule",
    "derogation",
    "signedOn",
    "tiaReference",
    "tiaDate",
    "supplementaryMeasures",
    "note",
    "endedOn",
    "destinationCountryCode",
]
LEAVES = {"Entity": ENTITY_LEAVES, "Transfer": TRANSFER_LEAVES}
NESTED = {
    "Entity": {"transfersOut": "Transfer", "transfersIn": "Transfer"},
    "Transfer": {"exporter": "Entity", "importer": "Entity"},
}
FRAGMENTS = {
    "EntityBits": "fragment EntityBits on Entity { slug __typename legalName }",
    "TransferBits": "fragment TransferBits on Transfer { mechanism slug }",
    "NodeBits": "fragment NodeBits on Node { id }",
}
FRAGMENT_OF = {"Entity": ["EntityBits", "NodeBits"], "Transfer": ["TransferBits", "NodeBits"]}
# Ordinary ones, and ones the resolvers refuse (out of range, not a cursor).
FIRSTS = [None, 1, 2, 3, 7, 100, 0, -1, 101]
AFTERS = [None, 0, 1, 3, 10, "not a cursor"]
SWITCHES = {"$yes": True, "$no": False}
EXAMPLES = 25


def cursor(key: int) -> str:
    return base64.urlsafe_b64encode(f"cursor:{key}".encode()).decode()


@st.composite
def selection(draw: st.DrawFn, kind: str, depth: int) -> str:
    """A selection set on ``kind`` (Entity or Transfer), nested at most ``depth`` deeper."""
    pieces: list[str] = []
    for _ in range(draw(st.integers(1, 5))):
        choice = draw(st.sampled_from(["leaf", "leaf", "alias", "typename", "nested", "inline"]))
        directive = draw(
            st.sampled_from(
                ["", "", "", " @include(if: $yes)", " @skip(if: $no)", " @include(if: $no)"]
            )
        )
        if choice == "typename":
            pieces.append(f"__typename{directive}")
        elif choice in ("leaf", "alias"):
            name = draw(st.sampled_from(LEAVES[kind]))
            # An alias names one field only, so merged fields never conflict.
            pieces.append(f"{'x_' + name + ': ' if choice == 'alias' else ''}{name}{directive}")
        elif choice == "nested" and depth > 0:
            name = draw(st.sampled_from(sorted(NESTED[kind])))
            below = draw(selection(NESTED[kind][name], depth - 1))
            pieces.append(f"{name}{directive} {{ {below} }}")
        elif choice == "inline":
            if draw(st.booleans()):
                pieces.append(f"...{directive} {{ {draw(selection(kind, depth - 1))} }}")
            else:
                pieces.append(f"... {draw(st.sampled_from(FRAGMENT_OF[kind]))}{directive}")
        else:
            pieces.append("slug")
    return " ".join(pieces)


@st.composite
def connection(draw: st.DrawFn, alias: str) -> str:
    root = draw(st.sampled_from(["entities", "transfers"]))
    kind = "Entity" if root == "entities" else "Transfer"
    arguments = []
    if (first := draw(st.sampled_from(FIRSTS))) is not None:
        arguments.append(f"first: {first}")
    after = draw(st.sampled_from(AFTERS))
    if after is not None:
        arguments.append(f'after: "{cursor(after) if isinstance(after, int) else after}"')
    if root == "entities" and draw(st.booleans()):
        arguments.append("filter: { kinds: [PROCESSOR, GROUP_COMPANY], includeRetired: true }")
    parts = []
    depth = draw(st.integers(0, 2))
    if draw(st.booleans()):
        parts.append(f"nodes {{ {draw(selection(kind, depth))} }}")
    if draw(st.booleans()):
        parts.append(f"edges {{ cursor node {{ {draw(selection(kind, depth))} }} }}")
    if draw(st.booleans()):
        parts.append("pageInfo { hasNextPage endCursor __typename }")
    if not parts or draw(st.booleans()):
        parts.append("__typename")
    given_arguments = f"({', '.join(arguments)})" if arguments else ""
    return f"{alias}: {root}{given_arguments} {{ {' '.join(parts)} }}"


@st.composite
def documents(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A covered query and its variables: only the variables and fragments it uses."""
    roots = [draw(connection(f"r{n}")) for n in range(draw(st.integers(1, 2)))]
    body = " ".join(roots)
    used = [name for name in SWITCHES if re.search(re.escape(name) + r"\b", body)]
    declared = f"({', '.join(f'{name}: Boolean!' for name in used)})" if used else ""
    spread = [text for name, text in FRAGMENTS.items() if f"... {name}" in body]
    query = " ".join([f"query Generated{declared} {{ {body} }}", *spread])
    return query, {name[1:]: SWITCHES[name] for name in used}


@pytest_asyncio.fixture
async def apis(
    make_app: AppFactory, seeded: async_sessionmaker[AsyncSession]
) -> AsyncIterator[tuple[Api, Api]]:
    """The app without plans and with them, on one database; every answer is computed."""
    tokens = await issue_role_tokens(seeded)
    limits = {"rate_limit_per_minute": 0, "query_cost_per_minute": 0, "response_cache_entries": 0}
    ordinary = client_of(make_app(env="production", compiled_plans="off", **limits))
    planned = client_of(make_app(env="production", compiled_plans="on", **limits))
    async with ordinary, planned:
        yield Api(ordinary, tokens), Api(planned, tokens)


async def both(
    apis: tuple[Api, Api], query: str, variables: dict[str, Any] | None = None
) -> tuple[int, bytes]:
    """The answer of both apps, which must be the same bytes."""
    request_id = uuid.uuid4().hex
    answers = []
    for api in apis:
        response = await api.client.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={
                "Authorization": f"Bearer {api.tokens[Role.PRIVACY_OFFICER]}",
                "X-Request-ID": request_id,
            },
        )
        answers.append((response.status_code, response.content))
    assert answers[0] == answers[1], query
    return answers[1]


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(document=documents())
async def test_generated_queries_answer_the_same_bytes_with_plans(
    apis: tuple[Api, Api], document: tuple[str, dict[str, Any]]
) -> None:
    query, variables = document
    status, body = await both(apis, query, variables)
    if status == 200 and b'"errors"' not in body:
        # The answer came from the plan, not from a fallback.
        assert covers(SCHEMA._schema, parse(query), variables), query


async def test_the_bench_query_is_covered_and_answered_the_same(apis: tuple[Api, Api]) -> None:
    assert covers(SCHEMA._schema, parse(BENCH_QUERY))
    status, body = await both(apis, BENCH_QUERY)
    assert status == 200 and b"transfersOut" in body and b'"errors"' not in body


@pytest.mark.parametrize(
    "query",
    [
        # A field with a resolver of its own, a relation not covered, another root field.
        "{ entities { nodes { slug gaps } } }",
        "{ entities { nodes { country { code } } } }",
        "{ transfers { nodes { activity { slug } } } }",
        '{ entity(slug: "none") { slug } }',
        "{ __typename entities { nodes { slug } } }",
        # An as-of read rebuilds the past in a session of its own.
        '{ entities(asOf: "2024-01-01") { nodes { slug } } }',
        # Not a query at all, and a document that does not validate.
        'mutation { retireEntity(slug: "x", reason: "y") { errors { message } } }',
        "{ entities { nodes { noSuchField } } }",
    ],
)
async def test_what_is_not_covered_falls_back_to_execution(query: str) -> None:
    assert not covers(SCHEMA._schema, parse(query))


@pytest.mark.parametrize(
    "query",
    [
        "{ entities { nodes { slug gaps } } }",
        '{ entities(asOf: "2024-01-01") { nodes { slug } } }',
        "{ entities(first: 0) { nodes { slug } } }",
        '{ transfers(after: "nope") { nodes { slug } } }',
        '{ entities(updatedSince: "2020-01-01T00:00:00Z", asOf: "2024-01-01") { nodes { slug } } }',
    ],
)
async def test_fallbacks_and_refused_arguments_answer_the_same(
    apis: tuple[Api, Api], query: str
) -> None:
    await both(apis, query)


async def run_in_process(
    mode: CompiledPlans,
    actor: Actor,
    query: str,
    *,
    database_url: str,
    audit_url: str,
    sessions: async_sessionmaker[AsyncSession],
    audit_log: AuditLog,
    ring: KeyRing,
    blobs: LocalBlobStore,
) -> tuple[Any, list[Any], list[Any]]:
    """The answer (data and errors) and the audit entries of one execution."""
    context = Context(
        settings=Settings(
            database_url=database_url,
            audit_database_url=audit_url,
            privacy_contact="privacy@example.test",
            compiled_plans=mode,
        ),
        sessions=sessions,
        actor=actor,
        request_id="compiled-plans",
        audit_log=audit_log,
        ring=ring,
        blobs=blobs,
        cost_budget=RateLimiter(per_minute=10**9, burst=10**9),
    )
    try:
        result = await SCHEMA.execute(query, context_value=context)
    finally:
        await context.finish(succeeded=False)
    errors = [error.formatted for error in result.errors or ()]
    return result.data, errors, context.audit_trail


@pytest.mark.parametrize(
    ("roles", "query"),
    [
        # No role may read the record: refused, and the refusal audited (R-ACC-6).
        (frozenset(), "{ entities { nodes { slug } } }"),
        (frozenset(), "{ transfers { nodes { slug importer { slug } } } }"),
        (frozenset({Role.PRIVACY_OFFICER}), "{ entities(first: 101) { nodes { slug } } }"),
        (frozenset({Role.PRIVACY_OFFICER}), BENCH_QUERY),
    ],
)
async def test_authorisation_and_audit_are_the_same_with_plans_r_acc_6(
    roles: frozenset[Role],
    query: str,
    database_url: str,
    audit_url: str,
    seeded: async_sessionmaker[AsyncSession],
    audit_log: AuditLog,
    ring: KeyRing,
    blobs: LocalBlobStore,
) -> None:
    actor = Actor(handle="test-compiled", roles=roles)
    stores = {
        "database_url": database_url,
        "audit_url": audit_url,
        "sessions": seeded,
        "audit_log": audit_log,
        "ring": ring,
        "blobs": blobs,
    }
    ordinary = await run_in_process(CompiledPlans.OFF, actor, query, **stores)
    planned = await run_in_process(CompiledPlans.ON, actor, query, **stores)
    assert planned == ordinary
    if not roles:
        data, errors, trail = planned
        assert data is None and [e["extensions"]["code"] for e in errors] == ["FORBIDDEN"]
        assert [(entry.action, entry.outcome.value) for entry in trail] == [
            (errors[0]["path"][0], "denied")
        ]


async def test_verify_answers_a_difference_as_an_internal_error(
    make_app: AppFactory,
    seeded: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A compiler that writes the wrong __typename: verify mode must catch it, not answer it.
    monkeypatch.setattr(compiler, "_constant", lambda _name: lambda _source: "Wrong")
    tokens = await issue_role_tokens(seeded)
    async with client_of(make_app(compiled_plans="verify")) as client:
        response = await client.post(
            "/graphql",
            json={"query": "{ entities(first: 1) { nodes { __typename slug } } }"},
            headers={"Authorization": f"Bearer {tokens[Role.PRIVACY_OFFICER]}"},
        )
    assert response.status_code == 500, response.text
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["INTERNAL"]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "compiled plan differs from execution" in logged
    assert '"__typename":"Wrong"' in logged and '"__typename":"Entity"' in logged


async def test_a_planned_answer_is_kept_in_the_response_cache(
    serve: Serve, engine: AsyncEngine
) -> None:
    api = await serve(compiled_plans="on")
    first = await api.query(BENCH_QUERY)
    statements: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    second = await api.query(BENCH_QUERY)
    assert second == first and "errors" not in first
    # Kept: only the token and the record's version were read, no entity.
    assert statements and not [s for s in statements if "entity" in s.lower()], statements


def transactions_and_statements(engine: AsyncEngine) -> list[str]:
    """What reaches the record's database from now on: each statement's verb, and BEGIN,
    COMMIT and ROLLBACK where the driver sends them (under AUTOCOMMIT asyncpg sends none)."""
    sent: list[str] = []
    sync = engine.sync_engine

    def transaction(name: str) -> Any:
        def listen(connection: Any) -> None:
            if connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
                sent.append(name)

        return listen

    event.listen(sync, "before_cursor_execute", lambda *a: sent.append(a[2].split()[0]))
    for name in ("begin", "commit", "rollback"):
        event.listen(sync, name, transaction(name.upper()))
    return sent


async def test_a_planned_read_sends_no_transaction_on_postgresql(
    serve: Serve, engine: AsyncEngine
) -> None:
    api = await serve(compiled_plans="on", response_cache_entries=0)
    expected = await api.query(BENCH_QUERY)
    sent = transactions_and_statements(engine)
    assert await api.query(BENCH_QUERY) == expected and "errors" not in expected
    if engine.dialect.name == "postgresql":
        # The token with the record's version, the page, its transfers with their importers.
        assert sent == ["SELECT", "SELECT", "SELECT"]
    else:
        # SQLite's sessions keep their transactions (in the process, they cost no round trip).
        assert [s for s in sent if s != "SELECT"] and sent.count("SELECT") == 3


async def test_what_a_plan_does_not_answer_keeps_its_transaction(
    serve: Serve, engine: AsyncEngine
) -> None:
    api = await serve(compiled_plans="on", response_cache_entries=0)
    await api.query('{ entity(slug: "dmx-us") { slug } }')
    sent = transactions_and_statements(engine)
    await api.query('{ entity(slug: "dmx-us") { slug } }')
    assert "BEGIN" in sent and sent[-1] == "ROLLBACK"


async def test_a_request_that_only_reads_cannot_write(
    seeded: async_sessionmaker[AsyncSession],
    database_url: str,
    audit_url: str,
    audit_log: AuditLog,
    ring: KeyRing,
    blobs: LocalBlobStore,
) -> None:
    context = Context(
        settings=Settings(database_url=database_url, audit_database_url=audit_url),
        sessions=seeded,
        actor=Actor.system("compiled-plans"),
        request_id="reads-only",
        audit_log=audit_log,
        ring=ring,
        blobs=blobs,
        cost_budget=RateLimiter(per_minute=1, burst=1),
        reads_only=True,
    )
    try:
        with pytest.raises(RuntimeError, match="only reads"):
            async with context.savepoint():
                pass
    finally:
        await context.finish(succeeded=False)
