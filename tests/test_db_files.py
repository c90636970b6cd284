"""The embedded databases hold personal data (names in the record, who did what in the
audit log): their files, the WAL and shared-memory files included, are the owner's alone."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from registry.audit.service import AuditLog
from registry.db import create_engine


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    """The usual umask, which alone would leave new files readable by everyone."""
    before = os.umask(0o022)
    yield
    os.umask(before)


def modes(database: Path) -> dict[str, int]:
    names = [database, *(database.with_name(database.name + s) for s in ("-wal", "-shm"))]
    return {path.name: stat.S_IMODE(path.stat().st_mode) for path in names}


async def written(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE note (body TEXT)"))
            await connection.execute(text("INSERT INTO note VALUES ('personal')"))
        # The WAL and shared-memory files exist while a connection is open.
        async with engine.connect() as connection:
            await connection.execute(text("SELECT body FROM note"))
            assert set(modes(Path(engine.url.database or "")).values()) == {0o600}
    finally:
        await engine.dispose()


async def test_a_new_database_and_its_wal_and_shm_files_are_created_0600(tmp_path: Path) -> None:
    await written(f"sqlite+aiosqlite:///{tmp_path / 'registry.db'}")


async def test_a_database_left_readable_by_others_is_narrowed_to_0600(tmp_path: Path) -> None:
    database = tmp_path / "registry.db"
    database.touch(mode=0o644)
    await written(f"sqlite+aiosqlite:///{database}")


async def test_the_audit_logs_own_database_is_created_0600(tmp_path: Path) -> None:
    database = tmp_path / "audit.db"
    log = AuditLog.open(f"sqlite+aiosqlite:///{database}")
    try:
        async with log.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            assert set(modes(database).values()) == {0o600}
    finally:
        await log.close()
