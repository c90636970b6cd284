"""`registry import entities FILE`: a dry run by default, --apply writes all or nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from registry.cli import app
from tests.imports.test_service import Rows, Sessions, csv_of, new_row, row_for, rows_of


@pytest.fixture
def cli(database_url: str, seeded: Sessions, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The `registry` command on the test database (a copy of the seeded template)."""
    monkeypatch.setenv("REGISTRY_DATABASE_URL", database_url)
    return CliRunner()


def exported(cli: CliRunner, tmp_path: Path) -> Rows:
    output = tmp_path / "entities.csv"
    command = ["export", "ropa", "--format", "csv", "--part", "entities", "--output", str(output)]
    result = cli.invoke(app, command)
    assert result.exit_code == 0, result.output
    return rows_of(output.read_bytes())


def written(tmp_path: Path, name: str, rows: Rows) -> str:
    path = tmp_path / name
    path.write_bytes(csv_of(rows))
    return str(path)


def counts(cli: CliRunner, file: str) -> dict[str, int]:
    result = cli.invoke(app, ["import", "entities", file, "--json"])
    plan: dict[str, dict[str, int]] = json.loads(result.stdout)
    return plan["counts"]


def test_the_exported_list_plans_unchanged_then_an_edit_applies(
    cli: CliRunner, tmp_path: Path
) -> None:
    rows = exported(cli, tmp_path)
    assert counts(cli, written(tmp_path, "unchanged.csv", rows))["unchanged"] == len(rows)
    row_for(rows, "mood-media-austria")["contact"] = "privacy@example.at"
    edited = written(tmp_path, "edited.csv", rows)

    planned = cli.invoke(app, ["import", "entities", edited])
    applied = cli.invoke(app, ["import", "entities", edited, "--apply"])

    assert "contact: '' -> 'privacy@example.at'" in planned.stdout
    assert applied.exit_code == 0, applied.output
    assert "applied as import batch" in applied.stderr
    assert counts(cli, edited)["unchanged"] == len(rows)


def test_a_file_with_an_error_exits_1_naming_its_cell_and_writes_nothing(
    cli: CliRunner, tmp_path: Path
) -> None:
    rows = exported(cli, tmp_path)
    row_for(rows, "mood-media-austria")["contact"] = "privacy@example.at"
    good = written(tmp_path, "good.csv", rows)
    bad = written(tmp_path, "bad.csv", [*rows, new_row(rows[0], country="XX")])

    result = cli.invoke(app, ["import", "entities", bad, "--apply"])

    assert result.exit_code == 1
    assert f"ERROR H{len(rows) + 2}: unknown country 'XX'" in result.stdout
    assert "nothing was written" in result.stderr
    assert counts(cli, good)["update"] == 1
