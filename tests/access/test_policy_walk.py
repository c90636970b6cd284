"""The whole policy table walked through the real app: every action as every role.

Each action has one operation that stands for it. Sent as each role, it is answered where
the rules allow that role (``policy_spec``, written by hand, R-ACC-1), and refused
everywhere else with a typed Forbidden that the audit log keeps. Every door to an action
(each mutation, each query of personal data) is named in the table too, and refuses the
roles the rules refuse; every route but /graphql is public or in the table.
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
    SESSION_ROUTES,
    Action,
    Role,
)
from registry.access.service import Actor
from registry.audit.models import AuditEvent, Outcome
from registry.audit.service import AuditLog
from registry.graphql.schema import build_schema
from tests.access.policy_spec import DOORS as DOORS_BY_THE_RULES
from tests.access.policy_spec import may, roles_that_may
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
    Action.CALLS_READ: ('{ call(id: "no-such-call") { id } }', {}),
    Action.DELETIONS_OWED_READ: ("{ deletionsOwed { ageHours } }", {}),
    Action.RETENTION_EVIDENCE_READ: ("{ retentionEvidence { endingSoonBy } }", {}),
    Action.CALL_REGISTER: (
        'mutation { registerSubject(input: {kind: CUSTOMER, countryCode: "GB"}) { subject { id } errors { __typename message } } }',
        {},
    ),
    Action.CONSENT_RECORD: (
        'mutation { recordIvrChoice(call: "x", digit: "1") { errors { __typename message } } }',
        {},
    ),
    Action.REFUSAL_NOTIFY: (
        'mutation { notifyRefusal(call: "x") { errors { __typename message } } }',
        {},
    ),
    Action.START_AUDIO_DELETE: (
        'mutation { deleteStartAudio(call: "x") { errors { __typename message } } }',
        {},
    ),
    Action.CONSENT_WITHDRAW: (
        'mutation { withdrawConsent(call: "x") { errors { __typename message } } }',
        {},
    ),
    Action.SUBJECT_MINOR: (
        "mutation { markUnder16(subject: 999999) { errors { __typename message } } }",
        {},
    ),
    Action.MONITOR: (
        'mutation { startMonitoring(call: "x", reason: SERVICE_QUALITY) { errors { __typename message } } }',
        {},
    ),
    Action.HOLD_PLACE: (
        'mutation { placeLegalHold(recording: "x", ground: LEGAL_CLAIMS, justification: "claim", endsOn: "2027-06-30") { errors { __typename message } } }',
        {},
    ),
    Action.RECORDING_ERASE: (
        'mutation { eraseRecording(recording: "x") { errors { __typename message } } }',
        {},
    ),
    Action.RIGHTS_READ: ("{ rightsRequests(first: 1) { nodes { id } } }", {}),
    Action.RIGHTS_MANAGE: (
        'mutation { receiveRightsRequest(input: {kind: ACCESS, controller: "mood-media-uk", email: "walk@example.test"}) { request { id } errors { __typename message } } }',
        {},
    ),
    Action.AUTHORITY_READ: ("{ authorityRequests(first: 1) { nodes { id } } }", {}),
    Action.AUTHORITY_RECORD: (
        'mutation { recordAuthorityRequest(input: {authority: "Police", reference: "R-1", legalBasis: "Act 1984", scope: "One call", recordings: ["x"]}) { errors { __typename message } } }',
        {},
    ),
    Action.AUTHORITY_REVIEW: (
        'mutation { reviewAuthorityRequest(request: 999999, approve: false, necessity: "n", compatibility: "c") { errors { __typename message } } }',
        {},
    ),
}
# Actions whose operation above names nothing that exists: an allowed role gets past the
# policy and then NotFound, which shows it was let through; a refused one gets Forbidden.
LET_THROUGH_TO_NOT_FOUND = frozenset(
    {
        Action.CONSENT_RECORD,
        Action.REFUSAL_NOTIFY,
        Action.START_AUDIO_DELETE,
        Action.CONSENT_WITHDRAW,
        Action.SUBJECT_MINOR,
        Action.MONITOR,
        Action.HOLD_PLACE,
        Action.RECORDING_ERASE,
        Action.AUTHORITY_RECORD,
        Action.AUTHORITY_REVIEW,
    }
)
# Opened by an operator's token of its own, never by a principal's (tests/test_metrics.py).
OPERATORS_ROUTES = {"/metrics"}
# The routes beside /graphql, each with a request naming nothing that exists (404 once let through).
ROUTE_WALK: dict[Action, tuple[str, str]] = {
    Action.RECORDING_UPLOAD: ("PUT", "/calls/no-such-call/audio/full"),
    Action.RECORDING_LISTEN: ("GET", "/recordings/no-such-recording/audio?purpose=training"),
    Action.PACKAGE_DOWNLOAD: ("GET", "/packages/no-such-package"),
    Action.INVENTORY_READ: ("GET", "/exports/ropa.json?controller=no-such-controller"),
    Action.INVENTORY_WRITE: ("POST", "/imports/entities?fileName=walk.csv"),
}
# A route whose request names nothing to look up answers another refusal once let through:
# the import reads the body, which is not an entity list.
ROUTE_LET_THROUGH = {Action.INVENTORY_WRITE: 400}

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
    "addDataCategory": 'mutation { addDataCategory(parentKey: "p", key: "k", name: "n") { errors { __typename } } }',
    "addSubjectCategory": 'mutation { addSubjectCategory(key: "k", name: "n") { errors { __typename } } }',
    "detachDataCategory": 'mutation { detachDataCategory(activity: "a", category: "c") { errors { __typename } } }',
    "updateRetention": 'mutation { updateRetention(activity: "a", category: "c", retentionCriterion: "r") { errors { __typename } } }',
    "createActivity": 'mutation { createActivity(input: {slug: "a", name: "A", description: "d", source: "s", automatedDecisions: "n", arrangementSummary: "s", transferSummary: "t"}) { errors { __typename } } }',
    "updateActivity": 'mutation { updateActivity(slug: "a", input: {name: "A"}) { errors { __typename } } }',
    "retireActivity": 'mutation { retireActivity(slug: "a", reason: "r") { errors { __typename } } }',
    "addPurpose": 'mutation { addPurpose(activity: "a", key: "k", name: "N") { errors { __typename } } }',
    "updatePurpose": 'mutation { updatePurpose(activity: "a", key: "k", input: {name: "N"}) { errors { __typename } } }',
    "removePurpose": 'mutation { removePurpose(activity: "a", key: "k") { errors { __typename } } }',
    "setLegalBasis": 'mutation { setLegalBasis(activity: "a", purpose: "k", subjectCategory: "c", legalBasis: CONSENT) { errors { __typename } } }',
    "removeLegalBasis": 'mutation { removeLegalBasis(activity: "a", purpose: "k", subjectCategory: "c") { errors { __typename } } }',
    "addActivitySubject": 'mutation { addActivitySubject(activity: "a", subjectCategory: "c") { errors { __typename } } }',
    "removeActivitySubject": 'mutation { removeActivitySubject(activity: "a", subjectCategory: "c") { errors { __typename } } }',
    "setSecurityMeasures": 'mutation { setSecurityMeasures(activity: "a", measures: []) { errors { __typename } } }',
    "setRecipientCategories": 'mutation { setRecipientCategories(activity: "a", categories: []) { errors { __typename } } }',
    "createTransfer": 'mutation { createTransfer(input: {activity: "a", exporter: "x", importer: "y", destinationCountryCode: "US", mechanism: BCR}) { errors { __typename } } }',
    "updateTransfer": 'mutation { updateTransfer(slug: "t", input: {note: "n"}) { errors { __typename } } }',
    "updateAdequacyDecision": 'mutation { updateAdequacyDecision(slug: "d", input: {note: "n"}) { errors { __typename } } }',
    "createAdequacyDecision": 'mutation { createAdequacyDecision(input: {slug: "d", countryCode: "US", reference: "r", scope: WHOLE_COUNTRY}) { errors { __typename } } }',
    "addCountry": 'mutation { addCountry(code: "XK", name: "n") { errors { __typename } } }',
    "updateCountry": 'mutation { updateCountry(code: "US", input: {name: "n"}) { errors { __typename } } }',
    "addSupervisoryAuthority": 'mutation { addSupervisoryAuthority(input: {slug: "a", name: "A", countryCode: "AT"}) { errors { __typename } } }',
    "updateSupervisoryAuthority": 'mutation { updateSupervisoryAuthority(slug: "a", input: {name: "A"}) { errors { __typename } } }',
    "setControllerAuthority": 'mutation { setControllerAuthority(controller: "c", role: LEAD, authority: "a") { errors { __typename } } }',
    "clearControllerAuthority": 'mutation { clearControllerAuthority(controller: "c", role: LEAD) { errors { __typename } } }',
    "addDocument": 'mutation { addDocument(input: {slug: "d", kind: DPA, title: "T"}) { errors { __typename } } }',
    "updateDocument": 'mutation { updateDocument(slug: "d", input: {note: "n"}) { errors { __typename } } }',
    "withdrawDocument": 'mutation { withdrawDocument(slug: "d", reason: "r") { errors { __typename } } }',
    "attachDocumentToTransfer": 'mutation { attachDocumentToTransfer(document: "d", transfer: "t") { errors { __typename } } }',
    "detachDocumentFromTransfer": 'mutation { detachDocumentFromTransfer(document: "d", transfer: "t") { errors { __typename } } }',
    "createPrincipal": 'mutation { createPrincipal(input: {handle: "x", displayName: "X", roles: [AGENT]}) { errors { __typename } } }',
    "updatePrincipal": 'mutation { updatePrincipal(handle: "x", input: {displayName: "Y"}) { errors { __typename } } }',
    "deactivatePrincipal": 'mutation { deactivatePrincipal(handle: "x") { errors { __typename } } }',
    "issueToken": 'mutation { issueToken(handle: "x", label: "l") { secret errors { __typename } } }',
    "revokeToken": 'mutation { revokeToken(id: "eA==") { errors { __typename } } }',
    "auditEvents": "{ auditEvents { nodes { seq } } }",
    "principals": "{ principals { nodes { handle } } }",
    "tokens": "{ tokens { nodes { label } } }",
    "call": '{ call(id: "x") { id } }',
    "deletionsOwed": "{ deletionsOwed { ageHours } }",
    "retentionEvidence": "{ retentionEvidence { endingSoonBy } }",
    "registerSubject": "mutation { registerSubject(input: {kind: AGENT}) { errors { __typename } } }",
    "registerCall": 'mutation { registerCall(input: {direction: INBOUND, company: "c", customer: 1, customerCountry: "GB"}) { errors { __typename } } }',
    "recordIvrChoice": 'mutation { recordIvrChoice(call: "x", digit: "1") { errors { __typename } } }',
    "recordAgentAnswer": 'mutation { recordAgentAnswer(call: "x", approved: true) { errors { __typename } } }',
    "notifyRefusal": 'mutation { notifyRefusal(call: "x") { errors { __typename } } }',
    "deleteStartAudio": 'mutation { deleteStartAudio(call: "x") { errors { __typename } } }',
    "withdrawConsent": 'mutation { withdrawConsent(call: "x") { errors { __typename } } }',
    "markUnder16": "mutation { markUnder16(subject: 1) { errors { __typename } } }",
    "startMonitoring": 'mutation { startMonitoring(call: "x", reason: PROBATION) { errors { __typename } } }',
    "endMonitoring": "mutation { endMonitoring(session: 1) { errors { __typename } } }",
    "placeLegalHold": 'mutation { placeLegalHold(recording: "x", ground: LEGAL_CLAIMS, justification: "j", endsOn: "2027-01-01") { errors { __typename } } }',
    "releaseLegalHold": "mutation { releaseLegalHold(hold: 1) { errors { __typename } } }",
    "eraseRecording": 'mutation { eraseRecording(recording: "x") { errors { __typename } } }',
    "receiveRightsRequest": 'mutation { receiveRightsRequest(input: {kind: ACCESS, controller: "c", phone: "1"}) { errors { __typename } } }',
    "requestIdentityProof": "mutation { requestIdentityProof(request: 1) { errors { __typename } } }",
    "establishIdentity": 'mutation { establishIdentity(request: 1, evidence: "e") { errors { __typename } } }',
    "registerRightsRequest": "mutation { registerRightsRequest(request: 1) { errors { __typename } } }",
    "startRightsRequest": "mutation { startRightsRequest(request: 1) { errors { __typename } } }",
    "extendRightsRequest": 'mutation { extendRightsRequest(request: 1, months: 1, reason: "r") { errors { __typename } } }',
    "chargeFee": 'mutation { chargeFee(request: 1, amountCents: 100, ground: EXCESSIVE, reason: "r") { errors { __typename } } }',
    "refuseRightsRequest": 'mutation { refuseRightsRequest(request: 1, ground: EXCESSIVE, reason: "r") { errors { __typename } } }',
    "completeRightsRequest": "mutation { completeRightsRequest(request: 1) { errors { __typename } } }",
    "recordCompellingGrounds": 'mutation { recordCompellingGrounds(objection: 1, grounds: "g") { errors { __typename } } }',
    "liftRestriction": "mutation { liftRestriction(restriction: 1) { errors { __typename } } }",
    "acknowledgeRecipient": "mutation { acknowledgeRecipient(notice: 1) { errors { __typename } } }",
    "rightsRequests": "{ rightsRequests { nodes { id } } }",
    "rightsRequest": "{ rightsRequest(id: 1) { id } }",
    "findSubjects": '{ findSubjects(phone: "1") { subjectId } }',
    "recordAuthorityRequest": 'mutation { recordAuthorityRequest(input: {authority: "a", reference: "r", legalBasis: "l", scope: "s", recordings: ["x"]}) { errors { __typename } } }',
    "reviewAuthorityRequest": 'mutation { reviewAuthorityRequest(request: 1, approve: true, necessity: "n", compatibility: "c") { errors { __typename } } }',
    "releaseDisclosure": "mutation { releaseDisclosure(request: 1) { errors { __typename } } }",
    "authorityRequests": "{ authorityRequests { nodes { id } } }",
    "authorityRequest": "{ authorityRequest(id: 1) { id } }",
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
        # A nullable field answers null, a required one nulls the whole answer: no data either way.
        assert not any((body["data"] or {}).values()), body
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]


def test_the_walk_has_an_operation_for_every_action() -> None:
    assert set(WALK) | set(ROUTE_WALK) == set(Action) == set(POLICY)
    assert set(ROUTE_WALK.values()) and set(ROUTES.values()) == set(ROUTE_WALK)
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
    others = paths - PUBLIC_ROUTES - set(ROUTES) - OPERATORS_ROUTES - SESSION_ROUTES
    assert others == {"/graphql"}
    assert set(ROUTES) <= paths


@pytest.mark.parametrize("action", list(WALK))
@pytest.mark.parametrize("role", list(Role))
async def test_every_action_is_allowed_exactly_where_the_rules_say(
    api: Api, audit_log: AuditLog, action: Action, role: Role
) -> None:
    document, variables = WALK[action]
    kind, field = root_field(document)
    body = await api.query(document, variables, role=role)
    if may(role, action):
        assert "errors" not in body, body
        if kind is OperationType.MUTATION:
            errors = [e["__typename"] for e in body["data"][field]["errors"]]
            expected = ["NotFoundError"] if action in LET_THROUGH_TO_NOT_FOUND else []
            assert errors == expected, body
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
    refused = [role for role in Role if role not in roles_that_may(DOORS_BY_THE_RULES[door])]
    for role in refused:
        assert_forbidden(await api.query(DOORS[door], role=role), kind, field)
    for role in refused:
        assert len(await denials(audit_log, role, field)) == 1, role


@pytest.mark.parametrize("action", list(ROUTE_WALK))
@pytest.mark.parametrize("role", list(Role))
async def test_every_audio_route_is_allowed_exactly_where_the_rules_say(
    api: Api, audit_log: AuditLog, action: Action, role: Role
) -> None:
    method, path = ROUTE_WALK[action]
    headers = {"Authorization": f"Bearer {api.tokens[role]}"}
    response = await api.client.request(method, path, headers=headers, content=b"audio")
    events = await audit_log.events(actor=SYSTEM, after_seq=0, limit=1000)
    mine = [e for e in events if e.principal == handle_of(role)]
    if may(role, action):
        assert response.status_code == ROUTE_LET_THROUGH.get(action, 404), response.text
        assert [e.outcome for e in mine] == [Outcome.FAILED]
    else:
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "FORBIDDEN"
        assert [e.outcome for e in mine] == [Outcome.DENIED]
