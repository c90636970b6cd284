"""The whole policy table walked through the real app: every action as every role.

Each action has one operation that stands for it. Sent as each role, it is answered where
the table allows that role, and refused everywhere else with a typed Forbidden that the
audit log keeps. Every door to an action (each mutation, each query of personal data) is
named in the table too, and refuses the same roles; every route but /graphql is public or
in the table.
"""

from __future__ import annotations

from typing import Any

import pytest
from graphql import FieldNode, OperationDefinitionNode, OperationType, parse
from graphql import build_schema as schema_from_sdl

from registry.access.policy import (
    MUTATIONS,
    PERSONAL_QUERIES,
    POLICY,
    PUBLIC_ROUTES,
    ROUTES,
    Action,
    Role,
)
from registry.access.service import Actor
from registry.audit.models import AuditEvent, Outcome
from registry.audit.service import AuditLog
from registry.graphql.schema import build_schema
from tests.conftest import Api, AppFactory

Operation = tuple[str, dict[str, Any]]

NEW_ENTITY = {
    "slug": "walk-hosting",
    "kind": "SUB_PROCESSOR",
    "legalName": "Walk Hosting Ltd",
    "countryCode": "IE",
}
NEW_PRINCIPAL = {"handle": "walk-agent", "displayName": "Walk Agent", "roles": ["AGENT"]}

# One operation per action, which succeeds for every role the table allows.
WALK: dict[Action, Operation] = {
    Action.INVENTORY_READ: ("{ entities(first: 1) { nodes { slug } } }", {}),
    Action.INVENTORY_WRITE: (
        "mutation($input: CreateEntityInput!) { createEntity(input: $input) { entity { slug } errors { __typename message } } }",
        {"input": NEW_ENTITY},
    ),
    Action.TRANSFERS_READ: ("{ transfers(first: 1) { nodes { slug } } }", {}),
    Action.TRANSFERS_WRITE: (
        'mutation { updateTransfer(slug: "city-tv-ee--dmx-us", input: {note: "walked"}) { transfer { note } errors { __typename message } } }',
        {},
    ),
    Action.HISTORY_READ: ("{ changes(first: 1) { nodes { sequence } } }", {}),
    Action.PRINCIPALS_READ: ("{ principals(first: 20) { nodes { handle } } }", {}),
    Action.PRINCIPALS_MANAGE: (
        "mutation($input: CreatePrincipalInput!) { createPrincipal(input: $input) { principal { handle } errors { __typename message } } }",
        {"input": NEW_PRINCIPAL},
    ),
    Action.AUDIT_READ: ("{ auditEvents(first: 1) { nodes { seq } } }", {}),
}

# Every door named in the table, with arguments that the schema takes: a refused caller is
# refused before anything is looked up, so they need not name anything that exists.
DOORS: dict[str, str] = {
    "createEntity": 'mutation { createEntity(input: {slug: "x", kind: PROCESSOR, legalName: "X", countryCode: "IE"}) { errors { __typename } } }',
    "updateEntity": 'mutation { updateEntity(slug: "x", input: {contact: "c"}) { errors { __typename } } }',
    "retireEntity": 'mutation { retireEntity(slug: "x", reason: "r") { errors { __typename } } }',
    "linkSubProcessor": 'mutation { linkSubProcessor(processor: "x", subProcessor: "y") { errors { __typename } } }',
    "unlinkSubProcessor": 'mutation { unlinkSubProcessor(processor: "x", subProcessor: "y") { errors { __typename } } }',
    "addActivityParty": 'mutation { addActivityParty(activity: "a", entity: "x", role: PROCESSOR) { errors { __typename } } }',
    "attachDataCategory": 'mutation { attachDataCategory(activity: "a", category: "c", retentionCriterion: "r") { errors { __typename } } }',
    "createTransfer": 'mutation { createTransfer(input: {activity: "a", exporter: "x", importer: "y", destinationCountryCode: "US", mechanism: BCR}) { errors { __typename } } }',
    "updateTransfer": 'mutation { updateTransfer(slug: "t", input: {note: "n"}) { errors { __typename } } }',
    "createPrincipal": 'mutation { createPrincipal(input: {handle: "x", displayName: "X", roles: [AGENT]}) { errors { __typename } } }',
    "updatePrincipal": 'mutation { updatePrincipal(handle: "x", input: {displayName: "Y"}) { errors { __typename } } }',
    "deactivatePrincipal": 'mutation { deactivatePrincipal(handle: "x") { errors { __typename } } }',
    "issueToken": 'mutation { issueToken(handle: "x", label: "l") { secret errors { __typename } } }',
    "revokeToken": 'mutation { revokeToken(id: "eA==") { errors { __typename } } }',
    "auditEvents": "{ auditEvents { nodes { seq } } }",
    "principals": "{ principals { nodes { handle } } }",
    "tokens": "{ tokens { nodes { label } } }",
}
DOOR_ACTIONS = {**MUTATIONS, **PERSONAL_QUERIES}
SYSTEM = Actor.system("test")


def handle_of(role: Role) -> str:
    return f"test-{role.value.replace('_', '-')}"


def root_field(document: str) -> tuple[OperationType, str]:
    (operation,) = parse(document).definitions
    assert isinstance(operation, OperationDefinitionNode)
    (field,) = operation.selection_set.selections
    assert isinstance(field, FieldNode)
    return operation.operation, field.name.value


async def denials(log: AuditLog, role: Role, field: str) -> list[AuditEvent]:
    events = await log.events(actor=SYSTEM, after_seq=0, limit=1000)
    return [
        e
        for e in events
        if (e.principal, e.action, e.outcome) == (handle_of(role), field, Outcome.DENIED)
    ]


def assert_forbidden(body: dict[str, Any], kind: OperationType, field: str) -> None:
    """A typed Forbidden: in the payload of a mutation, as a coded error of a query."""
    if kind is OperationType.MUTATION:
        assert "errors" not in body, body
        assert [e["__typename"] for e in body["data"][field]["errors"]] == ["ForbiddenError"]
    else:
        assert body["data"] is None, body
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]


def test_the_walk_has_an_operation_for_every_action() -> None:
    assert set(WALK) == set(Action) == set(POLICY)
    for action, (document, _) in WALK.items():
        _, field = root_field(document)
        assert DOOR_ACTIONS.get(field, action) is action, field


def test_every_mutation_and_personal_query_is_a_door_in_the_table() -> None:
    schema = schema_from_sdl(build_schema(development=False).as_str())
    assert schema.mutation_type is not None and schema.query_type is not None
    assert set(schema.mutation_type.fields) == set(MUTATIONS)
    assert set(PERSONAL_QUERIES) <= set(schema.query_type.fields)
    assert set(DOORS) == set(DOOR_ACTIONS)


def test_every_route_but_graphql_is_public_or_in_the_table(make_app: AppFactory) -> None:
    paths = {route.path for route in make_app().routes}
    assert paths - PUBLIC_ROUTES - set(ROUTES) == {"/graphql"}
    assert set(ROUTES) <= paths


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("role", list(Role))
async def test_every_action_is_allowed_exactly_where_the_table_says(
    api: Api, audit_log: AuditLog, action: Action, role: Role
) -> None:
    document, variables = WALK[action]
    kind, field = root_field(document)
    body = await api.query(document, variables, role=role)
    if role in POLICY[action]:
        assert "errors" not in body, body
        if kind is OperationType.MUTATION:
            assert body["data"][field]["errors"] == [], body
        assert await denials(audit_log, role, field) == []
    else:
        assert_forbidden(body, kind, field)
        (denied,) = await denials(audit_log, role, field)
        assert denied.detail == {"code": "FORBIDDEN"}


@pytest.mark.parametrize("door", sorted(DOORS))
async def test_every_door_refuses_the_roles_its_action_does_not_allow(
    api: Api, audit_log: AuditLog, door: str
) -> None:
    kind, field = root_field(DOORS[door])
    assert field == door
    refused = [role for role in Role if role not in POLICY[DOOR_ACTIONS[door]]]
    for role in refused:
        assert_forbidden(await api.query(DOORS[door], role=role), kind, field)
    for role in refused:
        assert len(await denials(audit_log, role, field)) == 1, role
