"""`registry principals ...` and `registry tokens ...`: the operator's path, on both backends."""

from __future__ import annotations

import asyncio

import pytest
from typer.testing import CliRunner

from registry.access.service import Actor
from registry.audit.models import AuditEvent, Outcome
from registry.audit.service import AuditLog
from registry.cli import app

runner = CliRunner()


@pytest.fixture
def env(database_url: str, audit_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGISTRY_DATABASE_URL", database_url)
    monkeypatch.setenv("REGISTRY_AUDIT_DATABASE_URL", audit_url)


async def audit_events(url: str) -> list[AuditEvent]:
    log = AuditLog.open(url)
    try:
        return list(await log.events(actor=Actor.system("test"), after_seq=0, limit=100))
    finally:
        await log.close()


@pytest.mark.usefixtures("env")
def test_r_acc_2_a_new_name_needs_a_reason_kept_in_the_audit_log(audit_url: str) -> None:
    created = runner.invoke(
        app, ["principals", "create", "ana", "--name", "Ana", "--role", "agent"]
    )
    assert created.exit_code == 0, created.output
    refused = runner.invoke(app, ["principals", "update", "ana", "--name", "Bo"])
    assert refused.exit_code == 1 and "R-ACC-2" in refused.stderr
    renamed = runner.invoke(
        app, ["principals", "update", "ana", "--name", "Bo", "--reason", "deed poll"]
    )
    assert renamed.exit_code == 0, renamed.output
    assert "Bo" in runner.invoke(app, ["principals", "list"]).stdout
    updates = [e for e in asyncio.run(audit_events(audit_url)) if e.action == "updatePrincipal"]
    assert [(e.principal, e.outcome, e.target) for e in updates] == [
        ("system:cli", Outcome.FAILED, "handle=ana"),
        ("system:cli", Outcome.ALLOWED, "handle=ana"),
    ]
    assert updates[1].detail == {
        "before": {"display_name": "Ana"},
        "after": {"display_name": "Bo"},
        "reason": "deed poll",
    }
