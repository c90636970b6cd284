"""On PostgreSQL the app's role may read and append to the audit log, and nothing more."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from registry import migrate
from registry.audit.models import Outcome
from registry.audit.service import AuditLog, Entry
from registry.db import create_engine
from tests.conftest import Databases


async def _as_owner(url: str, *statements: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            for statement in statements:
                await autocommit.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture
def app_role(databases: Databases, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """A fresh audit database migrated by its owner, and the URL the app role connects with."""
    if databases.backend != "postgresql":
        pytest.skip("database roles and grants are PostgreSQL's")
    owner_url = databases.fresh("empty")
    role = f"registry_app_{uuid.uuid4().hex[:8]}"
    asyncio.run(_as_owner(owner_url, f"CREATE ROLE {role} LOGIN"))
    monkeypatch.setenv("REGISTRY_AUDIT_APP_ROLE", role)
    migrate.upgrade_audit(owner_url)
    app_url = make_url(owner_url).set(username=role).render_as_string(hide_password=False)
    yield owner_url, app_url
    asyncio.run(_as_owner(owner_url, f"DROP OWNED BY {role}", f"DROP ROLE {role}"))


async def test_r_acc_6_the_app_role_appends_and_reads_but_cannot_rewrite(
    app_role: tuple[str, str],
) -> None:
    """R-ACC-6: the app role appends and reads but cannot rewrite."""
    owner_url, app_url = app_role
    log = AuditLog.open(app_url)
    try:
        await log.append([Entry(principal="p", action="a", outcome=Outcome.ALLOWED)] * 3)
        assert (await log.verify()).checked == 3
        # Even with the append-only triggers off, the role has no right to change rows.
        await _as_owner(owner_url, "ALTER TABLE audit_event DISABLE TRIGGER USER")
        for statement in ("UPDATE audit_event SET principal = 'x'", "DELETE FROM audit_event"):
            with pytest.raises(DBAPIError, match="permission denied"):
                async with log.engine.begin() as connection:
                    await connection.execute(text(statement))
    finally:
        await log.close()
