"""The audit log lives apart from the data it watches (R-ACC-6): in another database, not
under another name for the same one.

URLs name one database in many ways (``localhost`` or ``127.0.0.1``, a path written two
ways, a link to a file), so the databases themselves are compared: on PostgreSQL the
cluster's system identifier and the database's name, on SQLite the file's device and inode.
"""

from __future__ import annotations

import os

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from registry.db import create_engine

Identity = tuple[object, ...]


class NotApart(Exception):
    """The record and the audit log are one database."""


async def identity(engine: AsyncEngine) -> Identity | None:
    """What tells the database behind ``engine`` from every other; None for one in memory,
    which is no other's."""
    async with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            row = (
                await connection.execute(
                    text("SELECT system_identifier, current_database() FROM pg_control_system()")
                )
            ).one()
            return ("postgresql", row[0], row[1])
        files = await connection.execute(text("PRAGMA database_list"))
        path = next(file for _, name, file in files if name == "main")
    if not path:
        return None
    found = os.stat(path)
    return ("sqlite", found.st_dev, found.st_ino)


async def ensure_apart(record: AsyncEngine, audit: AsyncEngine) -> None:
    here = await identity(record)
    if here is not None and here == await identity(audit):
        raise NotApart(
            "the audit log must live apart from the record (R-ACC-6), but"
            " REGISTRY_AUDIT_DATABASE_URL names the same database as REGISTRY_DATABASE_URL"
        )


async def ensure_urls_apart(record_url: str, audit_url: str) -> None:
    """``ensure_apart`` for two URLs, on engines of its own."""
    record, audit = create_engine(record_url), create_engine(audit_url)
    try:
        await ensure_apart(record, audit)
    finally:
        await record.dispose()
        await audit.dispose()
