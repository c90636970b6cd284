"""Migration 0010 gives the changes recorded before it their event type (R-INV-4)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import JSON, column, select, table, text

from registry import migrate
from registry.db import create_engine
from tests.conftest import Databases, _admin

# (subject_type, subject_slug, action) as the code recorded them before 0010, and the event
# type each names.
RECORDED = [
    ("seeds", "seeds", "created", "seeds_loaded"),
    ("entity", "talkdesk", "created", "entity_created"),
    ("entity", "talkdesk", "updated", "entity_updated"),
    ("entity", "talkdesk", "retired", "entity_retired"),
    ("engagement", "talkdesk>acme", "linked", "sub_processor_engaged"),
    ("engagement", "talkdesk>acme", "unlinked", "sub_processor_released"),
    ("activity_party", "calls>talkdesk", "linked", "activity_party_added"),
    ("activity_data_category", "calls>user.name", "linked", "data_category_attached"),
    ("transfer", "a--b", "created", "transfer_created"),
    ("transfer", "a--b", "updated", "transfer_updated"),
]


def _empty_database(databases: Databases) -> str:
    """A database with no tables yet, to migrate step by step."""
    if databases.backend == "sqlite":
        return f"sqlite+aiosqlite:///{databases.folder / f'steps-{uuid.uuid4().hex[:6]}.db'}"
    if databases.postgres is None:
        pytest.skip("no PostgreSQL: set REGISTRY_TEST_POSTGRES_URL or run `make test`")
    name = f"registry_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(databases.postgres.admin_url, f'CREATE DATABASE "{name}"'))
    databases.made.append(name)
    return databases.postgres.url(name)


async def _record_old_changes(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            for number, (subject_type, slug, action, _) in enumerate(RECORDED, start=1):
                await connection.execute(
                    text(
                        "INSERT INTO change (id, sequence, at, actor, subject_type, subject_slug,"
                        " action, before, after) VALUES (:id, :id, :at, 'officer', :type, :slug,"
                        " :action, NULL, NULL)"
                    ),
                    {
                        "id": number,
                        "at": datetime(2026, 1, 1, tzinfo=UTC),
                        "type": subject_type,
                        "slug": slug,
                        "action": action,
                    },
                )
    finally:
        await engine.dispose()


# A transfer's and a data category link's snapshots as they were logged before 0010.
TRANSFER_ROW = {
    "id": 7,
    "slug": "acme--talkdesk",
    "activity_id": 1,
    "exporter_id": 1,
    "importer_id": 2,
    "mechanism": "bcr",
    "data_category_keys": ["user.name"],
}
OLD_SNAPSHOTS = [
    (11, "transfer", "acme--talkdesk", "created", None, TRANSFER_ROW),
    (12, "transfer", "acme--talkdesk", "updated", TRANSFER_ROW, {**TRANSFER_ROW, "note": "n"}),
    (
        13,
        "activity_data_category",
        "calls>user.name",
        "linked",
        None,
        {"retention_days": 30, "retention_criterion": "30 days"},
    ),
]


async def _record_old_snapshots(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            for statement in (
                "INSERT INTO country (code, name, eea, eu) VALUES ('IE', 'Ireland', true, true)",
                "INSERT INTO entity (id, slug, kind, legal_name, country_code, verified,"
                " dpf_certified) VALUES (1, 'acme', 'group_company', 'Acme', 'IE', true, false),"
                " (2, 'talkdesk', 'processor', 'Talkdesk', 'IE', true, false)",
                "INSERT INTO activity (id, slug, name, description, source, automated_decisions,"
                " arrangement_summary, operations, recipient_categories, security_measures,"
                " transfer_summary) VALUES (1, 'calls', 'Calls', '', '', '', '', '[]', '[]',"
                " '[]', '')",
            ):
                await connection.execute(text(statement))
            for id_, subject_type, slug, action, before, after in OLD_SNAPSHOTS:
                await connection.execute(
                    text(
                        "INSERT INTO change (id, sequence, at, actor, subject_type, subject_slug,"
                        " action, before, after) VALUES (:id, :id, :at, 'officer', :type, :slug,"
                        " :action, :before, :after)"
                    ),
                    {
                        "id": id_,
                        "at": datetime(2026, 1, 1, tzinfo=UTC),
                        "type": subject_type,
                        "slug": slug,
                        "action": action,
                        "before": None if before is None else json.dumps(before),
                        "after": json.dumps(after),
                    },
                )
    finally:
        await engine.dispose()


async def _snapshots(url: str) -> list[tuple[object, object]]:
    change = table("change", column("id"), column("before", JSON), column("after", JSON))
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(change.c.before, change.c.after)
                .where(change.c.id > 10)
                .order_by(change.c.id)
            )
            return [tuple(row) for row in rows]
    finally:
        await engine.dispose()


async def _migrated_changes(url: str) -> list[tuple[str, str, str | None, str | None]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text(
                    "SELECT subject_type, event, reason, request_id FROM change"
                    " WHERE id <= 10 ORDER BY id"
                )
            )
            return [tuple(row) for row in rows]
    finally:
        await engine.dispose()


def test_r_inv_4_migration_gives_old_changes_their_event_type(databases: Databases) -> None:
    """R-INV-4: every change recorded before typed events gets the event its subject type
    and action named; no reason or request is made up for it."""
    url = _empty_database(databases)
    migrate.upgrade(url, "0009")
    asyncio.run(_record_old_changes(url))
    migrate.upgrade(url, "0010")
    assert asyncio.run(_migrated_changes(url)) == [
        (subject_type, event, None, None) for subject_type, _, _, event in RECORDED
    ]


def test_r_inv_4_migration_names_the_ends_in_old_snapshots(databases: Databases) -> None:
    """R-INV-4: snapshots logged before 0010 get the named ends that snapshots now carry, so
    that the log reads alike across the revision; no key they had is changed."""
    url = _empty_database(databases)
    migrate.upgrade(url, "0009")
    asyncio.run(_record_old_snapshots(url))
    migrate.upgrade(url, "0010")
    ends = {"activity": "calls", "exporter": "acme", "importer": "talkdesk"}
    assert asyncio.run(_snapshots(url)) == [
        (None, {**TRANSFER_ROW, **ends}),
        ({**TRANSFER_ROW, **ends}, {**TRANSFER_ROW, "note": "n", **ends}),
        (
            None,
            {
                "retention_days": 30,
                "retention_criterion": "30 days",
                "activity": "calls",
                "data_category": "user.name",
            },
        ),
    ]
