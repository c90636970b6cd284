"""`registry rights overdue`, the daily check of the request queue."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from registry import clock
from registry.cli import app
from registry.crypto import KeyRing
from registry.db import transaction
from registry.rights import service
from registry.rights.models import RequestKind
from tests.recordings.conftest import SYSTEM

runner = CliRunner()


@pytest.fixture
def env(database_url: str, audit_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGISTRY_DATABASE_URL", database_url)
    monkeypatch.setenv("REGISTRY_AUDIT_DATABASE_URL", audit_url)


async def _receive(
    sessions: async_sessionmaker[AsyncSession], ring: KeyRing, kind: RequestKind
) -> int:
    async with transaction(sessions) as session:
        request = await service.receive(
            session=session,
            actor=SYSTEM,
            ring=ring,
            received=service.Received(kind, "mood-media-uk", email="someone@example.test"),
        )
        return request.id


async def test_overdue_requests_are_listed_and_fail_the_daily_check(
    env: None,
    seeded: async_sessionmaker[AsyncSession],
    ring: KeyRing,
    frozen_clock: clock.FrozenClock,
) -> None:
    late = await _receive(seeded, ring, RequestKind.ACCESS)
    frozen_clock.advance(timedelta(days=25))
    soon = await _receive(seeded, ring, RequestKind.ERASURE)
    frozen_clock.advance(timedelta(days=10))

    # The command runs its own event loop: in a thread, as it would in its own process.
    result = await asyncio.to_thread(runner.invoke, app, ["rights", "overdue", "--soon", "30"])
    assert result.exit_code == 2, result.output
    lines = result.output.splitlines()
    assert lines[0] == "1 overdue"
    assert lines[1].startswith(f"  #{late} access (received) to mood-media-uk, due 2026-12-30")
    assert lines[2] == "1 due within 30 days"
    assert lines[3].startswith(f"  #{soon} erasure")


def test_a_clean_queue_passes_the_daily_check(env: None, seeded: object) -> None:
    result = runner.invoke(app, ["rights", "overdue"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["0 overdue", "0 due within 7 days"]
