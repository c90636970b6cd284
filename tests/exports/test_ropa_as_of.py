"""The Art. 30 export as of a day (R-INV-4): the records as they stood then."""

from __future__ import annotations

import asyncio
import json
from datetime import date, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from registry import clock
from registry.access.service import Actor
from registry.cli import app
from registry.db import create_engine, session_factory, transaction
from registry.exports import ropa, writers
from registry.exports.ropa import RopaExport
from tests.history.past import NEW_NAME, OLD_NAME, RENAMED, change_the_next_day, day_after_seeding

Sessions = async_sessionmaker[AsyncSession]
CONTACT = "privacy@example.test"


async def _export(sessions: Sessions, **options: object) -> RopaExport:
    async with transaction(sessions) as session:
        return await ropa.build(
            session=session,
            actor=Actor.system("test"),
            contact=CONTACT,
            **options,  # type: ignore[arg-type]
        )


async def test_r_inv_4_the_export_as_of_a_day_equals_the_export_made_that_day(
    seeded: Sessions, frozen_clock: clock.FrozenClock
) -> None:
    """R-INV-4: changes made after T leave the export as of T as it was made on T."""
    day = await day_after_seeding(seeded, frozen_clock)
    made_then = await _export(seeded)
    await change_the_next_day(frozen_clock, seeded)

    as_of_then = await _export(seeded, as_of=day)
    now = await _export(seeded)

    assert _record(as_of_then) == _record(made_then)
    assert as_of_then.as_of == day
    assert _record(now) != _record(made_then)
    assert {r.controller: r.legal_name for r in now.controllers}[RENAMED] == NEW_NAME


def _record(export: RopaExport) -> dict[str, object]:
    """The export's json without the time it was made, which differs by design."""
    document: dict[str, object] = json.loads(writers.to_json(export))
    del document["exported_at"]
    return document


@pytest.fixture
def cli(database_url: str, seeded: Sessions, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("REGISTRY_DATABASE_URL", database_url)
    monkeypatch.setenv("REGISTRY_PRIVACY_CONTACT", CONTACT)
    return CliRunner()


def _changed_the_next_day(database_url: str, frozen: clock.FrozenClock) -> date:
    """T, once the record has changed on T+1 (see ``tests.history.past``)."""

    async def work() -> date:
        engine = create_engine(database_url)
        try:
            day = await day_after_seeding(session_factory(engine), frozen)
            await change_the_next_day(frozen, session_factory(engine))
            return day
        finally:
            await engine.dispose()

    return asyncio.run(work())


def test_r_inv_4_cli_exports_the_records_as_of_a_day(
    cli: CliRunner, database_url: str, frozen_clock: clock.FrozenClock
) -> None:
    """R-INV-4: `export ropa --as-of` writes the records as they stood that day."""
    day = _changed_the_next_day(database_url, frozen_clock)

    result = cli.invoke(app, ["export", "ropa", "--format", "json", "--as-of", day.isoformat()])

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["as_of"] == day.isoformat()
    names = {row["controller"]: row["legal_name"] for row in document["controllers"]}
    assert names[RENAMED] == OLD_NAME


@pytest.mark.parametrize("text", ["2026-13-01", "yesterday", "tomorrow"])
def test_cli_refuses_a_bad_or_future_day_in_one_line(cli: CliRunner, text: str) -> None:
    given = (clock.today() + timedelta(days=1)).isoformat() if text == "tomorrow" else text

    result = cli.invoke(app, ["export", "ropa", "--as-of", given])

    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("registry: ")
    assert result.stdout == ""
