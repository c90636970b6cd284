"""The audit log lives apart from the record (R-ACC-6): the databases are compared, not
their URLs; on both backends."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from registry.audit import apart
from registry.cli import app

runner = CliRunner()


def another_name_for(url: str, tmp_path: Path) -> str:
    """The same database under a URL that reads differently."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        assert parsed.host == "127.0.0.1"
        return parsed.set(host="localhost").render_as_string(hide_password=False)
    assert parsed.database is not None
    link = tmp_path / "another-name.db"
    link.symlink_to(parsed.database)
    return parsed.set(database=str(link)).render_as_string(hide_password=False)


async def test_r_acc_6_two_databases_are_apart(database_url: str, audit_url: str) -> None:
    """R-ACC-6: two databases are apart."""
    await apart.ensure_urls_apart(database_url, audit_url)


async def test_r_acc_6_one_database_under_two_urls_is_not_apart(
    database_url: str, tmp_path: Path
) -> None:
    same = another_name_for(database_url, tmp_path)
    assert same != database_url
    with pytest.raises(apart.NotApart, match="R-ACC-6"):
        await apart.ensure_urls_apart(database_url, same)


def test_r_acc_6_one_sqlite_file_written_two_ways_is_not_apart(tmp_path: Path) -> None:
    """R-ACC-6: one sqlite file written two ways is not apart."""
    file = tmp_path / "registry.db"
    written_twice = f"sqlite+aiosqlite:///{tmp_path}/./registry.db"
    with pytest.raises(apart.NotApart):
        asyncio.run(apart.ensure_urls_apart(f"sqlite+aiosqlite:///{file}", written_twice))


@pytest.mark.parametrize(
    "command",
    [["serve"], ["db", "upgrade"], ["principals", "list"], ["sweep"], ["keys", "rotate"]],
    ids=" ".join,
)
def test_r_acc_6_a_command_that_opens_both_stops_in_one_line(
    command: list[str],
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REGISTRY_DATABASE_URL", database_url)
    monkeypatch.setenv("REGISTRY_AUDIT_DATABASE_URL", another_name_for(database_url, tmp_path))
    monkeypatch.setenv("REGISTRY_VAR_DIR", str(tmp_path / "var"))
    result = runner.invoke(app, command)
    assert result.exit_code == 1, result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith("registry: the audit log must live apart") and "R-ACC-6" in line
    assert result.stdout == ""
