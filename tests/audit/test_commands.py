"""`registry audit verify` and `registry audit checkpoint`, on both backends."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from registry.audit.models import Outcome
from registry.audit.service import AuditLog, Entry
from registry.cli import app

runner = CliRunner()


@pytest.fixture
def env(audit_url: str, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("REGISTRY_DATABASE_URL", database_url)
    monkeypatch.setenv("REGISTRY_AUDIT_DATABASE_URL", audit_url)
    monkeypatch.setenv("REGISTRY_VAR_DIR", str(tmp_path))
    return audit_url


async def _write(url: str, *statements: str) -> None:
    log = AuditLog.open(url)
    try:
        await log.append(
            [Entry(principal=f"p{n}", action="test", outcome=Outcome.ALLOWED) for n in range(5)]
        )
        async with log.engine.begin() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await log.close()


def test_verify_and_checkpoint_report_an_intact_log(env: str, tmp_path: Path) -> None:
    asyncio.run(_write(env))
    made = runner.invoke(app, ["audit", "checkpoint"])
    assert made.exit_code == 0, made.output
    statement = json.loads(made.stdout)
    assert statement["seq"] == 5 and "BEGIN PUBLIC KEY" in statement["public_key"]
    assert (tmp_path / "audit-signing.key").stat().st_mode & 0o777 == 0o600
    checked = runner.invoke(app, ["audit", "verify"])
    assert checked.exit_code == 0, checked.output
    assert "5 events verified" in checked.stdout and "1 checkpoints verified" in checked.stdout


def test_r_acc_6_verify_names_the_first_broken_link(env: str) -> None:
    """R-ACC-6: verify names the first broken link."""
    drop_guard = (
        "ALTER TABLE audit_event DISABLE TRIGGER USER"
        if env.startswith("postgresql")
        else "DROP TRIGGER audit_event_no_update"
    )
    asyncio.run(_write(env, drop_guard, "UPDATE audit_event SET action = 'other' WHERE seq = 2"))
    checked = runner.invoke(app, ["audit", "verify"])
    assert checked.exit_code == 1
    assert "BROKEN at event 2: event 2 was altered" in checked.stdout


def test_r_acc_6_verify_passes_after_events_quoting_odd_text(env: str) -> None:
    """R-ACC-6: verify passes after events quoting odd text."""

    async def quote() -> None:
        log = AuditLog.open(env)
        try:
            for odd in ("a\x00b", "\udc80", "z" * 5000):
                await log.append(
                    [
                        Entry(
                            principal="anonymous",
                            action="authenticate",
                            outcome=Outcome.DENIED,
                            target=odd,
                            detail={"reason": odd},
                        )
                    ]
                )
        finally:
            await log.close()

    asyncio.run(quote())
    checked = runner.invoke(app, ["audit", "verify"])
    assert checked.exit_code == 0, checked.output
    assert "3 events verified" in checked.stdout
