"""The `registry` command end to end, on both backends."""

from __future__ import annotations

import asyncio

import pytest
from typer.testing import CliRunner

from registry.access import service as access
from registry.access.service import Actor
from registry.cli import app
from registry.db import create_engine, session_factory, transaction

runner = CliRunner()


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("REGISTRY_DATABASE_URL", database_url)
    return database_url


async def _authenticate(url: str, token: str) -> Actor:
    engine = create_engine(url)
    try:
        async with transaction(session_factory(engine)) as session:
            return await access.authenticate(session=session, token=token)
    finally:
        await engine.dispose()


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
