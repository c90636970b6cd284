"""Migration 0015 adds the documents' tables and events, and goes back down (R-INV-4)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from alembic import command
from sqlalchemy import inspect, text

from registry import migrate
from registry.db import create_engine
from tests.conftest import Databases
from tests.history.test_event_migration import _empty_database

TABLES = {"document", "document_party", "document_transfer"}


async def _write(url: str, *statements: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            for statement in statements:
                await connection.execute(text(statement), {"at": datetime(2026, 1, 1, tzinfo=UTC)})
    finally:
        await engine.dispose()


async def _state(url: str) -> tuple[set[str], list[str]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
            events = (await connection.execute(text("SELECT event FROM change ORDER BY id"))).all()
            return tables & TABLES, [row[0] for row in events]
    finally:
        await engine.dispose()


CHANGE = (
    "INSERT INTO change (id, sequence, at, actor, subject_type, subject_slug, action, event)"
    " VALUES ({id}, {id}, :at, 'officer', '{type}', 's', '{action}', '{event}')"
)


def test_r_inv_4_migration_0015_up_and_down(databases: Databases) -> None:
    """R-INV-4: up, the tables and the document events are there and a document event can be
    logged; down, they go (the old CHECK cannot hold those events) and the log's other
    changes stay; up again works."""
    url = _empty_database(databases)
    migrate.upgrade(url, "0012")
    earlier = CHANGE.format(id=1, type="entity", action="created", event="entity_created")
    asyncio.run(_write(url, earlier))
    migrate.upgrade(url, "0015")
    document = CHANGE.format(id=2, type="document", action="created", event="document_added")
    asyncio.run(
        _write(
            url,
            document,
            "INSERT INTO document (id, slug, kind, title) VALUES (1, 'd', 'dpa', 'DPA')",
        )
    )
    assert asyncio.run(_state(url)) == (TABLES, ["entity_created", "document_added"])

    command.downgrade(migrate.alembic_config(url), "0012")
    assert asyncio.run(_state(url)) == (set(), ["entity_created"])

    migrate.upgrade(url, "head")
    assert asyncio.run(_state(url)) == (TABLES, ["entity_created"])
