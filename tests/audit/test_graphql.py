"""Every request leaves its trace before its answer leaves (R-ACC-6), on both backends."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text

from registry.access.policy import Role
from registry.access.service import Actor
from registry.audit.models import AuditEvent, Outcome
from registry.audit.service import AuditLog
from tests.conftest import Api

SYSTEM = Actor.system("test")
CREATE = """mutation { createEntity(input: {slug: "acme-hosting", kind: SUB_PROCESSOR,
  legalName: "Acme Hosting Ltd", countryCode: "%s"}) { entity { slug } errors { __typename } } }"""
READ_LOG = "{ auditEvents(first: 50) { nodes { seq principal action outcome target } } }"


async def events(log: AuditLog, **match: Any) -> list[AuditEvent]:
    found = await log.events(actor=SYSTEM, after_seq=0, limit=1000)
    return [e for e in found if all(getattr(e, k) == v for k, v in match.items())]


async def test_r_acc_6_a_mutation_is_audited_with_who_what_and_outcome(
    api: Api, audit_log: AuditLog
) -> None:
    """R-ACC-6: a mutation is audited with who what and outcome."""
    await api.data(CREATE % "IE")
    await api.data(CREATE % "XX", role=Role.PRIVACY_OFFICER)
    done, failed = await events(audit_log, action="createEntity")
    assert (done.principal, done.outcome, done.target) == (
        "test-privacy-officer",
        Outcome.ALLOWED,
        "slug=acme-hosting",
    )
    assert failed.outcome is Outcome.FAILED and failed.detail == {"code": "CONFLICT"}
    assert done.request_id and done.request_id != failed.request_id


async def test_r_acc_6_denials_are_audited(api: Api, audit_log: AuditLog) -> None:
    """R-ACC-6: denials are audited."""
    await api.data(CREATE % "IE", role=Role.INTEGRATION)
    body = await api.query("{ changes { nodes { actor } } }", role=Role.AGENT)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    await api.client.post("/graphql", json={"query": "{ me { handle } }"})
    assert [e.principal for e in await events(audit_log, outcome=Outcome.DENIED)] == [
        "test-integration",
        "test-agent",
        "anonymous",
    ]
    (refused,) = await events(audit_log, action="changes")
    assert refused.detail == {"code": "FORBIDDEN"}


async def test_r_acc_6_only_the_security_team_reads_the_log_and_its_reading_is_audited(
    api: Api, audit_log: AuditLog
) -> None:
    """R-ACC-6: only the security team reads the log and its reading is audited."""
    await api.data(CREATE % "IE")
    for role in Role:
        body = await api.query(READ_LOG, role=role)
        if role is Role.SECURITY_AUDITOR:
            nodes = body["data"]["auditEvents"]["nodes"]
            assert any(n["action"] == "createEntity" for n in nodes)
        else:
            assert body["data"] is None
            assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    (read,) = await events(audit_log, action="auditEvents", outcome=Outcome.ALLOWED)
    assert read.principal == "test-security-auditor"
    assert (await audit_log.verify()).intact


async def break_the_log(log: AuditLog) -> None:
    """The log can still be read but no longer written, as on a full or read-only disk."""
    async with log.engine.begin() as connection:
        if log.engine.dialect.name == "postgresql":
            await connection.execute(
                text(
                    "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS"
                    " $$ BEGIN RAISE EXCEPTION 'disk full'; END $$"
                )
            )
            await connection.execute(
                text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON audit_event"
                    " FOR EACH ROW EXECUTE FUNCTION refuse()"
                )
            )
        else:
            await connection.execute(
                text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON audit_event"
                    " BEGIN SELECT RAISE(ABORT, 'disk full'); END"
                )
            )


async def test_r_acc_6_fail_closed_a_read_returns_nothing_when_the_log_cannot_be_written(
    api: Api, audit_log: AuditLog
) -> None:
    """R-ACC-6: fail closed a read returns nothing when the log cannot be written."""
    await break_the_log(audit_log)
    response = await api.client.post(
        "/graphql",
        json={"query": READ_LOG},
        headers={"Authorization": f"Bearer {api.tokens[Role.SECURITY_AUDITOR]}"},
    )
    assert response.status_code == 503
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "AUDIT_UNAVAILABLE"


async def test_r_acc_6_fail_closed_a_change_is_undone_when_the_log_cannot_be_written(
    api: Api, audit_log: AuditLog
) -> None:
    """R-ACC-6: fail closed a change is undone when the log cannot be written."""
    await break_the_log(audit_log)
    response = await api.client.post(
        "/graphql",
        json={"query": CREATE % "IE"},
        headers={"Authorization": f"Bearer {api.tokens[Role.PRIVACY_OFFICER]}"},
    )
    assert response.status_code == 503 and "data" not in response.json()
    # Reads of the record write nothing to the log, so they still answer: nothing was created.
    assert (await api.data('{ entity(slug: "acme-hosting") { slug } }'))["entity"] is None


async def test_r_acc_6_fail_closed_an_unknown_caller_is_refused_without_a_trace(
    api: Api, audit_log: AuditLog
) -> None:
    """R-ACC-6: fail closed an unknown caller is refused without a trace."""
    await break_the_log(audit_log)
    response = await api.client.post("/graphql", json={"query": "{ me { handle } }"})
    assert response.status_code == 503


async def test_r_acc_6_a_refusal_quoting_unstorable_text_is_audited_not_lost(
    api: Api, audit_log: AuditLog
) -> None:
    # PostgreSQL's text holds neither a NUL nor a lone surrogate: the log once refused such an
    # event, and the refusal went unlogged with a 503. A NUL is now refused before execution
    # (INVALID_INPUT); a lone surrogate still reaches the refusal's target.
    """R-ACC-6: a refusal quoting unstorable text is audited not lost."""
    document = {
        "query": "mutation($handle: String!) { deactivatePrincipal(handle: $handle) { errors { __typename } } }",
        "variables": {"handle": "ana\ud800" + "x" * 400},
    }
    response = await api.client.post(
        "/graphql",
        # JSON escapes the surrogate as \ud800: valid JSON, though no UTF-8 text.
        content=json.dumps(document, ensure_ascii=True),
        headers={
            "Authorization": f"Bearer {api.tokens[Role.AGENT]}",
            "content-type": "application/json",
        },
    )
    body = response.json()
    assert body["data"]["deactivatePrincipal"]["errors"] == [{"__typename": "ForbiddenError"}]
    (denied,) = await events(audit_log, action="deactivatePrincipal")
    assert (denied.principal, denied.outcome) == ("test-agent", Outcome.DENIED)
    assert denied.target is not None and denied.target.startswith("handle=ana\\ud800xxx")
    assert (await audit_log.verify()).intact
