"""Bringing the registry's databases up to date with Alembic.

Two databases, two migration trees: the record (``registry/migrations``) and the audit
log (``registry/audit/migrations``), which lives apart from the data it watches.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection

from registry.db import create_engine

PACKAGE = Path(__file__).resolve().parent
MAIN = PACKAGE / "migrations"
AUDIT = PACKAGE / "audit" / "migrations"


def alembic_config(url: str, tree: Path = MAIN) -> Config:
    config = Config()
    config.set_main_option("script_location", str(tree))
    # ConfigParser would read "%" in a URL-encoded password as interpolation.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head", tree: Path = MAIN) -> None:
    command.upgrade(alembic_config(url, tree), revision)


def upgrade_audit(url: str, revision: str = "head") -> None:
    upgrade(url, revision, AUDIT)


def run_env(metadata: MetaData, *, version_table: str = "alembic_version") -> None:
    """The body of each tree's env.py: migrate over the registry's async engine."""
    url = context.config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("no database URL given to Alembic")

    def run(connection: Connection) -> None:
        # Batch mode lets ALTER TABLE work on SQLite, which cannot alter constraints in place.
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            version_table=version_table,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run_online() -> None:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                await connection.run_sync(run)
                await connection.commit()
        finally:
            await engine.dispose()

    asyncio.run(run_online())
