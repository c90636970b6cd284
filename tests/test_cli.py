"""The `registry` command end to end, on both backends."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from registry import cli
from registry.access import service as access
from registry.access.service import Actor
from registry.audit.models import AuditEvent, Outcome
from registry.audit.service import AuditLog
from registry.cli import app
from registry.db import create_engine, session_factory, transaction
from registry.errors import Unauthenticated

runner = CliRunner()


@pytest.fixture
def env(database_url: str, audit_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("REGISTRY_DATABASE_URL", database_url)
    monkeypatch.setenv("REGISTRY_AUDIT_DATABASE_URL", audit_url)
    return database_url


async def _authenticate(url: str, token: str) -> Actor:
    engine = create_engine(url)
    try:
        async with transaction(session_factory(engine)) as session:
            return await access.authenticate(session=session, token=token)
    finally:
        await engine.dispose()


async def _audit_events(url: str) -> list[AuditEvent]:
    log = AuditLog.open(url)
    try:
        return list(await log.events(actor=Actor.system("test"), after_seq=0, limit=100))
    finally:
        await log.close()


def _ok(*arguments: str) -> str:
    result = runner.invoke(app, list(arguments))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_a_principal_gets_a_token_that_works(env: str) -> None:
    created = runner.invoke(
        app,
        ["principals", "create", "feed-1", "--name", "Transfer feed", "--role", "integration"],
    )
    assert created.exit_code == 0, created.output
    issued = runner.invoke(app, ["tokens", "issue", "feed-1", "--days", "7"])
    assert issued.exit_code == 0, issued.output
    token = issued.stdout.strip()
    assert asyncio.run(_authenticate(env, token)).handle == "feed-1"


def test_an_id_cannot_be_created_twice_r_acc_2(env: str) -> None:
    command = ["principals", "create", "ana", "--name", "Ana", "--role", "agent"]
    assert runner.invoke(app, command).exit_code == 0
    again = runner.invoke(app, command)
    assert again.exit_code == 1
    assert "can never be given to anyone else" in again.stderr


def test_bad_dates_are_refused_clearly(env: str) -> None:
    result = runner.invoke(
        app,
        ["principals", "create", "bo", "--name", "Bo", "--role", "agent", "--trained-on", "soon"],
    )
    assert result.exit_code == 2 and "YYYY-MM-DD" in result.output


def test_seed_is_idempotent(env: str) -> None:
    first = runner.invoke(app, ["seed"])
    second = runner.invoke(app, ["seed"])
    assert first.exit_code == second.exit_code == 0
    assert "entities=29" in first.stdout and "entities=0" in second.stdout


def test_a_principal_is_updated_listed_and_deactivated_for_good_r_acc_2(env: str) -> None:
    _ok("principals", "create", "ana", "--name", "Ana", "--role", "agent")
    token = _ok("tokens", "issue", "ana").strip()
    _ok(
        "principals", "update", "ana", "--role", "qa_specialist", "--role", "supervisor",
        "--trained-on", "2026-10-01", "--confidentiality-committed-on", "2026-09-30",
    )  # fmt: skip
    listed = _ok("principals", "list")
    assert "qa_specialist,supervisor" in listed and "2026-10-01" in listed
    _ok("principals", "deactivate", "ana")
    with pytest.raises(Unauthenticated):
        asyncio.run(_authenticate(env, token))
    again = runner.invoke(app, ["principals", "create", "ana", "--name", "Ana", "--role", "agent"])
    assert again.exit_code == 1 and "R-ACC-2" in again.stderr
    assert "ana" in _ok("principals", "list")


def test_an_update_needs_something_to_change(env: str) -> None:
    _ok("principals", "create", "ana", "--name", "Ana", "--role", "agent")
    assert runner.invoke(app, ["principals", "update", "ana"]).exit_code == 2


def test_tokens_are_listed_without_themselves_and_revoked(env: str) -> None:
    _ok("principals", "create", "feed-1", "--name", "Feed", "--role", "integration")
    token = _ok("tokens", "issue", "feed-1", "--label", "nightly").strip()
    listed = _ok("tokens", "list", "feed-1")
    assert "nightly" in listed and token not in listed and access.hash_token(token) not in listed
    token_id = listed.splitlines()[1].split()[0]
    assert "revoked token" in _ok("tokens", "revoke", token_id)
    with pytest.raises(Unauthenticated):
        asyncio.run(_authenticate(env, token))
    unknown = runner.invoke(app, ["tokens", "revoke", "999"])
    assert unknown.exit_code == 1 and "no token 999" in unknown.stderr


def test_r_acc_6_each_command_is_audited_as_the_cli(env: str, audit_url: str) -> None:
    """R-ACC-6: each command is audited as the cli."""
    _ok("principals", "create", "ana", "--name", "Ana", "--role", "agent")
    runner.invoke(app, ["principals", "create", "ana", "--name", "Ana", "--role", "agent"])
    _ok("tokens", "issue", "ana")
    _ok("tokens", "list")
    events = asyncio.run(_audit_events(audit_url))
    assert [(e.principal, e.action, e.outcome, e.target) for e in events] == [
        ("system:cli", "createPrincipal", Outcome.ALLOWED, "handle=ana"),
        ("system:cli", "createPrincipal", Outcome.FAILED, "handle=ana"),
        ("system:cli", "issueToken", Outcome.ALLOWED, "handle=ana"),
        ("system:cli", "tokens", Outcome.ALLOWED, None),
    ]
    assert events[1].detail == {"code": "CONFLICT"}


def test_r_acc_6_nothing_is_done_when_the_audit_log_cannot_be_written(
    env: str, audit_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """R-ACC-6: nothing is done when the audit log cannot be written."""
    missing = tmp_path / "missing" / "audit.db"
    monkeypatch.setenv("REGISTRY_AUDIT_DATABASE_URL", f"sqlite+aiosqlite:///{missing}")
    refused = runner.invoke(
        app, ["principals", "create", "ana", "--name", "Ana", "--role", "agent"]
    )
    assert refused.exit_code == 1 and "audit log cannot be written" in refused.stderr
    monkeypatch.setenv("REGISTRY_AUDIT_DATABASE_URL", audit_url)
    assert "ana" not in _ok("principals", "list")


def test_db_upgrade_in_a_fresh_directory_makes_the_audit_logs_default_home(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The record's database is given, nothing else: the audit log is var/audit.db of the
    # working directory, where no var/ exists yet.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REGISTRY_DATABASE_URL", database_url)
    for name in ("REGISTRY_AUDIT_DATABASE_URL", "REGISTRY_VAR_DIR"):
        monkeypatch.delenv(name, raising=False)
    _ok("db", "upgrade")
    assert (tmp_path / "var" / "audit.db").is_file()


CLOSED_PORT = "postgresql+asyncpg://nobody:secret@127.0.0.1:1/x"


@pytest.mark.parametrize("command", [["db", "upgrade"], ["principals", "list"]])
def test_an_unreachable_database_is_told_in_one_line_without_its_password(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGISTRY_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("REGISTRY_DATABASE_URL", CLOSED_PORT)
    monkeypatch.delenv("REGISTRY_AUDIT_DATABASE_URL", raising=False)
    result = runner.invoke(app, command)
    assert result.exit_code == 1
    assert "Traceback" not in result.output and "secret" not in result.output
    assert result.stderr.splitlines() == [
        "registry: cannot reach the database at postgresql+asyncpg://nobody:***@127.0.0.1:1/x"
        " (REGISTRY_DATABASE_URL): connection refused"
    ]


@pytest.mark.parametrize("command", [["db", "upgrade"], ["principals", "list"]])
def test_a_database_in_a_missing_folder_is_told_in_one_line(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "missing"
    monkeypatch.setenv("REGISTRY_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("REGISTRY_DATABASE_URL", f"sqlite+aiosqlite:///{missing}/registry.db")
    monkeypatch.delenv("REGISTRY_AUDIT_DATABASE_URL", raising=False)
    result = runner.invoke(app, command)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.stderr.splitlines() == [
        f"registry: cannot open the database at sqlite+aiosqlite:///{missing}/registry.db"
        f" (REGISTRY_DATABASE_URL): the folder {missing} does not exist"
    ]


def test_an_unreachable_audit_database_is_named_as_such(
    env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGISTRY_AUDIT_DATABASE_URL", CLOSED_PORT)
    result = runner.invoke(app, ["sweep"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output and "secret" not in result.output
    (line,) = result.stderr.splitlines()
    assert "nobody:***@127.0.0.1:1/x (REGISTRY_AUDIT_DATABASE_URL): connection refused" in line


def test_a_setting_that_is_not_valid_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGISTRY_PORT", "eighty")
    result = runner.invoke(app, ["principals", "list"])
    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("registry: the setting REGISTRY_PORT is not valid:")


def test_a_database_never_migrated_is_told_to_be_upgraded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGISTRY_VAR_DIR", str(tmp_path))
    for name in ("REGISTRY_DATABASE_URL", "REGISTRY_AUDIT_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    result = runner.invoke(app, ["principals", "list"])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"registry: the database at sqlite+aiosqlite:///{tmp_path}/registry.db"
        " (REGISTRY_DATABASE_URL) has no tables yet: run `registry db upgrade`"
    ]


def test_serve_uses_uvloop_and_httptools_where_they_import(monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli._imports("uvloop") and cli._imports("httptools")
    # As on a platform without a build of it: serve falls back to asyncio's loop.
    monkeypatch.setitem(sys.modules, "uvloop", None)
    assert not cli._imports("uvloop")
