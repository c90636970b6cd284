"""Principals and tokens through GraphQL, as admin manages them; on both backends."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry import clock
from registry.access import service
from registry.access.policy import Role
from registry.access.service import Actor
from registry.audit.models import AuditEvent, Outcome
from registry.audit.service import AuditLog
from registry.db import transaction
from tests.conftest import NOW, OFFICER, Api

SYSTEM = Actor.system("test")
ME = "{ me { handle roles } }"
CREATE = """mutation($input: CreatePrincipalInput!) { createPrincipal(input: $input) {
  principal { handle displayName roles active trainedOn } errors { __typename message } } }"""
UPDATE = """mutation($handle: String!, $input: UpdatePrincipalInput!) {
  updatePrincipal(handle: $handle, input: $input) {
    principal { handle roles trainedOn } errors { __typename message } } }"""
DEACTIVATE = """mutation($handle: String!) { deactivatePrincipal(handle: $handle) {
  principal { active deactivatedAt } errors { __typename message } } }"""
ISSUE = """mutation($handle: String!, $days: Int! = 90) {
  issueToken(handle: $handle, label: "laptop", days: $days) {
    secret token { id principal label expiresAt } errors { __typename message } } }"""
REVOKE = """mutation($id: ID!) { revokeToken(id: $id) {
  token { revokedAt } errors { __typename message } } }"""
TOKENS = """query($handle: String) { tokens(handle: $handle) {
  nodes { id principal label createdAt expiresAt revokedAt lastUsedAt } } }"""
PRINCIPALS = "{ principals(first: 2) { nodes { handle } pageInfo { hasNextPage endCursor } } }"
READ_LOG = "{ auditEvents(first: 100) { nodes { seq } } }"

Sessions = async_sessionmaker[AsyncSession]


async def as_token(api: Api, token: str, query: str) -> tuple[int, dict[str, Any]]:
    response = await api.client.post(
        "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {token}"}
    )
    body: dict[str, Any] = response.json()
    body.pop("extensions", None)  # the query's cost, reported with every answer
    return response.status_code, body


async def events(log: AuditLog, **match: Any) -> list[AuditEvent]:
    found = await log.events(actor=SYSTEM, after_seq=0, limit=1000)
    return [e for e in found if all(getattr(e, k) == v for k, v in match.items())]


async def admin(api: Api, document: str, **variables: Any) -> dict[str, Any]:
    """Runs an admin mutation that must succeed and returns its payload."""
    data = await api.data(document, variables, role=Role.ADMIN)
    (payload,) = data.values()
    assert payload["errors"] == [], payload
    result: dict[str, Any] = payload
    return result


async def new_agent(api: Api, seeded: Sessions, handle: str = "ana") -> str:
    """Creates an agent with both dates on record and returns a token of it.

    The admin creates the person; the token, which acts as another person, comes from the
    operator's path (the CLI's service call), never from GraphQL (R-ACC-7).
    """
    values = {"confidentialityCommittedOn": "2026-11-01", "trainedOn": "2026-11-02"}
    await admin(
        api, CREATE, input={"handle": handle, "displayName": "Ana", "roles": ["AGENT"], **values}
    )
    async with transaction(seeded) as session:
        secret, _ = await service.issue_token(
            session=session, actor=OFFICER, handle=handle, label="laptop"
        )
    return secret


async def test_admin_creates_a_principal_whose_token_is_shown_once_and_works(
    api: Api, audit_log: AuditLog
) -> None:
    # An integration's token: admin issues those over GraphQL (R-ACC-7).
    created = await admin(
        api,
        CREATE,
        input={"handle": "feed", "displayName": " Feed ", "roles": ["INTEGRATION", "INTEGRATION"]},
    )
    assert created["principal"] == {
        "handle": "feed",
        "displayName": "Feed",
        "roles": ["INTEGRATION"],
        "active": True,
        "trainedOn": None,
    }
    issued = await admin(api, ISSUE, handle="feed", days=7)
    secret = issued["secret"]
    assert secret.startswith(service.TOKEN_PREFIX)
    assert issued["token"]["expiresAt"] == (NOW + timedelta(days=7)).isoformat()
    assert await as_token(api, secret, ME) == (
        200,
        {"data": {"me": {"handle": "feed", "roles": ["INTEGRATION"]}}},
    )
    listed = await api.query(TOKENS, {"handle": "feed"}, role=Role.ADMIN)
    assert listed["data"]["tokens"]["nodes"] == [
        {
            "id": issued["token"]["id"],
            "principal": "feed",
            "label": "laptop",
            "createdAt": NOW.isoformat(),
            "expiresAt": (NOW + timedelta(days=7)).isoformat(),
            "revokedAt": None,
            "lastUsedAt": NOW.isoformat(),
        }
    ]
    everything = str(await api.query(TOKENS, role=Role.ADMIN))
    assert secret not in everything and service.hash_token(secret) not in everything
    (read,) = await events(audit_log, action="tokens", target="handle=feed")
    assert (read.principal, read.outcome) == ("test-admin", Outcome.ALLOWED)


async def test_r_acc_2_a_deactivated_id_is_never_given_again_and_its_tokens_stop(
    api: Api, seeded: Sessions
) -> None:
    token = await new_agent(api, seeded)
    deactivated = await admin(api, DEACTIVATE, handle="ana")
    assert deactivated["principal"] == {"active": False, "deactivatedAt": NOW.isoformat()}
    status, body = await as_token(api, token, ME)
    assert status == 401 and body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    again = await api.data(
        CREATE,
        {"input": {"handle": "ana", "displayName": "Another Ana", "roles": ["AGENT"]}},
        role=Role.ADMIN,
    )
    (error,) = again["createPrincipal"]["errors"]
    assert error["__typename"] == "ConflictError" and "R-ACC-2" in error["message"]
    refused = await api.data(ISSUE, {"handle": "ana"}, role=Role.ADMIN)
    assert refused["issueToken"]["secret"] is None
    assert refused["issueToken"]["errors"][0]["__typename"] == "ConflictError"
    principals = await api.data(
        "{ principals(first: 100) { nodes { handle active } } }", role=Role.ADMIN
    )
    assert {"handle": "ana", "active": False} in principals["principals"]["nodes"]


async def test_a_revoked_or_expired_token_stops(
    api: Api, seeded: Sessions, frozen_clock: clock.FrozenClock
) -> None:
    revoked, expiring = await new_agent(api, seeded, "ana"), await new_agent(api, seeded, "bo")
    listed = await api.data(TOKENS, {"handle": "ana"}, role=Role.ADMIN)
    token_id = listed["tokens"]["nodes"][0]["id"]
    done = await admin(api, REVOKE, id=token_id)
    assert done["token"]["revokedAt"] == NOW.isoformat()
    assert (await as_token(api, revoked, ME))[0] == 401
    assert (await as_token(api, expiring, ME))[0] == 200
    unknown = await api.data(REVOKE, {"id": "not-a-token"}, role=Role.ADMIN)
    assert unknown["revokeToken"]["errors"][0]["__typename"] == "NotFoundError"
    frozen_clock.advance(timedelta(days=90))
    assert (await as_token(api, expiring, ME))[0] == 401


async def test_an_update_applies_at_the_next_request_and_never_changes_the_id(
    api: Api, seeded: Sessions
) -> None:
    token = await new_agent(api, seeded)
    updated = await admin(
        api, UPDATE, handle="ana", input={"roles": ["QA_SPECIALIST"], "trainedOn": None}
    )
    assert updated["principal"] == {"handle": "ana", "roles": ["QA_SPECIALIST"], "trainedOn": None}
    assert (await as_token(api, token, ME))[1]["data"]["me"]["roles"] == ["QA_SPECIALIST"]
    blank = await api.data(UPDATE, {"handle": "ana", "input": {"roles": []}}, role=Role.ADMIN)
    assert blank["updatePrincipal"]["errors"][0]["__typename"] == "InvalidInputError"


async def test_r_acc_3_an_auditor_without_training_cannot_read_the_log_until_trained(
    api: Api, audit_log: AuditLog, seeded: Sessions
) -> None:
    async with transaction(seeded) as session:
        await service.create_principal(
            session=session,
            actor=OFFICER,
            handle="sec-new",
            display_name="New auditor",
            roles=[Role.SECURITY_AUDITOR],
            confidentiality_committed_on=NOW.date(),
        )
        token, _ = await service.issue_token(
            session=session, actor=OFFICER, handle="sec-new", label="laptop"
        )
    status, body = await as_token(api, token, READ_LOG)
    assert status == 200 and body["data"] is None
    assert body["errors"][0]["extensions"] == {"code": "RULE_BROKEN", "ruleId": "R-ACC-3"}
    (refused,) = await events(audit_log, principal="sec-new", action="auditEvents")
    assert refused.outcome is Outcome.DENIED
    assert refused.detail == {"code": "RULE_BROKEN", "ruleId": "R-ACC-3"}

    await admin(api, UPDATE, handle="sec-new", input={"trainedOn": NOW.date().isoformat()})
    status, body = await as_token(api, token, READ_LOG)
    assert status == 200 and "errors" not in body and body["data"]["auditEvents"]["nodes"]


async def test_r_acc_3_an_admin_without_the_dates_manages_but_reads_no_one(
    api: Api, seeded: Sessions
) -> None:
    # Like the bootstrap admin: no dates on record yet.
    async with transaction(seeded) as session:
        await service.create_principal(
            session=session,
            actor=OFFICER,
            handle="new-admin",
            display_name="New admin",
            roles=[Role.ADMIN],
        )
        token, _ = await service.issue_token(
            session=session, actor=OFFICER, handle="new-admin", label="first"
        )
    created = await as_token(
        api,
        token,
        'mutation { createPrincipal(input: {handle: "bo", displayName: "Bo", roles: [AGENT]})'
        " { errors { __typename } } }",
    )
    assert created == (200, {"data": {"createPrincipal": {"errors": []}}})
    for query in (PRINCIPALS, TOKENS):
        body = (await as_token(api, token, query))[1]
        assert body["errors"][0]["extensions"]["ruleId"] == "R-ACC-3"


async def test_principals_are_paged_and_their_reading_is_audited(
    api: Api, audit_log: AuditLog
) -> None:
    first = await api.data(PRINCIPALS, role=Role.ADMIN)
    page = first["principals"]
    assert [n["handle"] for n in page["nodes"]] == ["test-privacy-officer", "test-qa-specialist"]
    assert page["pageInfo"]["hasNextPage"]
    after = page["pageInfo"]["endCursor"]
    second = await api.data(
        "query($after: String) { principals(first: 2, after: $after) { nodes { handle } } }",
        {"after": after},
        role=Role.ADMIN,
    )
    assert [n["handle"] for n in second["principals"]["nodes"]] == [
        "test-supervisor",
        "test-agent",
    ]
    reads = await events(audit_log, action="principals", outcome=Outcome.ALLOWED)
    assert [(e.principal, e.detail) for e in reads] == [("test-admin", {"principals": 2})] * 2


async def test_separation_of_duties(api: Api) -> None:
    def refused(body: dict[str, Any]) -> bool:
        return body.get("data") is None and body["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    # Admin manages people, and reads neither the audit log nor anything they did.
    assert refused(await api.query(READ_LOG, role=Role.ADMIN))
    # The security team reads the log and nothing else of people, and changes nothing.
    assert refused(await api.query(PRINCIPALS, role=Role.SECURITY_AUDITOR))
    for document in (
        'mutation { createPrincipal(input: {handle: "x", displayName: "X", roles: [ADMIN]})'
        " { errors { __typename } } }",
        'mutation { createEntity(input: {slug: "x", kind: PROCESSOR, legalName: "X",'
        ' countryCode: "IE"}) { errors { __typename } } }',
    ):
        (payload,) = (await api.data(document, role=Role.SECURITY_AUDITOR)).values()
        assert payload["errors"][0]["__typename"] == "ForbiddenError"
    # An integration reads the inventory, transfers and changes, and nothing more.
    for reading in (
        "{ entities(first: 1) { nodes { slug } } }",
        "{ transfers(first: 1) { nodes { slug } } }",
        "{ changes(first: 1) { nodes { sequence } } }",
    ):
        assert "errors" not in await api.query(reading, role=Role.INTEGRATION)
    for reading in (READ_LOG, PRINCIPALS, TOKENS):
        assert refused(await api.query(reading, role=Role.INTEGRATION))


async def test_r_acc_7_an_admin_neither_makes_itself_auditor_nor_mints_another_persons_token(
    api: Api, audit_log: AuditLog
) -> None:
    # The attack: admin grants itself the security team's role, then mints a QA
    # specialist's token to download audio as QA.
    grant = await api.data(
        UPDATE,
        {"handle": "test-admin", "input": {"roles": ["ADMIN", "SECURITY_AUDITOR"]}},
        role=Role.ADMIN,
    )
    (error,) = grant["updatePrincipal"]["errors"]
    assert (error["__typename"], grant["updatePrincipal"]["principal"]) == ("RuleBrokenError", None)
    assert "R-ACC-7" in error["message"]
    mint = await api.data(ISSUE, {"handle": "test-qa-specialist"}, role=Role.ADMIN)
    assert mint["issueToken"]["secret"] is None
    assert mint["issueToken"]["errors"][0]["__typename"] == "RuleBrokenError"
    refusals = [
        (e.action, e.target, e.outcome, e.detail)
        for e in await events(audit_log, principal="test-admin")
    ]
    refused = {"code": "RULE_BROKEN", "ruleId": "R-ACC-7"}
    assert refusals == [
        ("updatePrincipal", "handle=test-admin", Outcome.DENIED, refused),
        ("issueToken", "handle=test-qa-specialist", Outcome.DENIED, refused),
    ]
    me = await api.data(ME, role=Role.ADMIN)
    assert me["me"]["roles"] == ["ADMIN"]
    # Its own token it may issue, and an integration's.
    own = await admin(api, ISSUE, handle="test-admin")
    assert (await as_token(api, own["secret"], ME))[1]["data"]["me"]["handle"] == "test-admin"
    assert (await admin(api, ISSUE, handle="test-integration"))["secret"]


async def test_r_acc_2_a_new_name_is_audited_with_before_after_and_its_reason(
    api: Api, seeded: Sessions, audit_log: AuditLog
) -> None:
    await new_agent(api, seeded)
    rename = """mutation($reason: String) { updatePrincipal(handle: "ana",
      input: {displayName: "Bo"}, reason: $reason) {
        principal { displayName } errors { __typename field message } } }"""
    refused = await api.data(rename, role=Role.ADMIN)
    (error,) = refused["updatePrincipal"]["errors"]
    assert (error["__typename"], error["field"]) == ("RuleBrokenError", "reason")
    assert "R-ACC-2" in error["message"]
    done = await api.data(rename, {"reason": "name changed by deed poll"}, role=Role.ADMIN)
    assert done["updatePrincipal"] == {"principal": {"displayName": "Bo"}, "errors": []}
    (event,) = await events(audit_log, action="updatePrincipal", outcome=Outcome.ALLOWED)
    assert (event.principal, event.target) == ("test-admin", "handle=ana")
    assert event.detail == {
        "before": {"display_name": "Ana"},
        "after": {"display_name": "Bo"},
        "reason": "name changed by deed poll",
    }
