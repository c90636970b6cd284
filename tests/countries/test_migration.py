"""Migration 0014 up and down: the decisions' source, the supervisory authorities, and the
change log's new event types (R-INV-4), on both backends."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from alembic import command
from sqlalchemy import inspect, text

from registry import migrate
from registry.db import create_engine
from tests.conftest import Databases
from tests.history.test_event_migration import _empty_database

NEW_EVENT = (
    "INSERT INTO change (id, sequence, at, actor, subject_type, subject_slug, action, event)"
    " VALUES (:id, :id, :at, 'officer', :type, :slug, :action, :event)"
)


async def _execute(url: str, statement: str, **values: object) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(statement), values)
    finally:
        await engine.dispose()


async def _tables_and_events(url: str) -> tuple[set[str], set[str], list[str]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            tables = set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
            decision = await connection.run_sync(
                lambda c: inspect(c).get_columns("adequacy_decision")
            )
            events = (await connection.execute(text("SELECT event FROM change"))).scalars()
            return tables, {column["name"] for column in decision}, list(events)
    finally:
        await engine.dispose()


def test_r_inv_4_migration_0014_upgrades_and_downgrades(databases: Databases) -> None:
    """R-INV-4: up, the new events are accepted and the tables are there; down, the changes
    of the new kinds go with their CHECK, and the tables and the source column are gone."""
    url = _empty_database(databases)
    migrate.upgrade(url, "0014")
    at = datetime(2026, 1, 1, tzinfo=UTC)
    asyncio.run(
        _execute(
            url,
            NEW_EVENT,
            id=1,
            at=at,
            type="country",
            slug="MX",
            action="created",
            event="country_added",
        )
    )
    asyncio.run(
        _execute(
            url,
            NEW_EVENT,
            id=2,
            at=at,
            type="entity",
            slug="acme",
            action="created",
            event="entity_created",
        )
    )
    tables, columns, events = asyncio.run(_tables_and_events(url))
    assert {"supervisory_authority", "controller_authority"} <= tables
    assert "source" in columns and sorted(events) == ["country_added", "entity_created"]

    command.downgrade(migrate.alembic_config(url), "0014-1")
    tables, columns, events = asyncio.run(_tables_and_events(url))
    assert not {"supervisory_authority", "controller_authority"} & tables
    assert "source" not in columns and events == ["entity_created"]

    migrate.upgrade(url, "0014")
    assert "controller_authority" in asyncio.run(_tables_and_events(url))[0]
