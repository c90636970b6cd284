"""Long commands show their progress on a terminal's standard error, and nothing elsewhere:
a log or a pipe gets the summary line alone, and an export to standard output stays clean."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from registry._progress import progress
from registry.cli import app

runner = CliRunner()


def terminal() -> tuple[Console, io.StringIO]:
    screen = io.StringIO()
    return Console(file=screen, force_terminal=True, width=100), screen


async def test_a_bar_follows_a_jobs_counter_batch_by_batch_on_a_terminal() -> None:
    console, screen = terminal()
    batches = 0

    async def job() -> str:
        nonlocal batches
        for _ in range(3):
            await asyncio.sleep(0.05)
            batches += 1
        return "finished"

    with progress("re-wrapping data keys", total=3, console=console) as tracker:
        assert await tracker.follow(lambda: batches, job()) == "finished"
    shown = screen.getvalue()
    assert "re-wrapping data keys" in shown and "3/3" in shown


async def test_nothing_is_shown_without_a_terminal() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=False)

    async def job() -> int:
        return 7

    with progress("sweeping", console=console) as tracker:
        assert not tracker.shown
        assert await tracker.follow(lambda: 1, job()) == 7
        tracker.update(completed=1, total=2)
    assert screen.getvalue() == ""


@pytest.fixture
def env(database_url: str, audit_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGISTRY_DATABASE_URL", database_url)
    monkeypatch.setenv("REGISTRY_AUDIT_DATABASE_URL", audit_url)
    monkeypatch.setenv("REGISTRY_VAR_DIR", str(tmp_path))


def test_an_export_to_standard_output_holds_the_export_alone(env: None) -> None:
    result = runner.invoke(app, ["export", "ropa", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert set(json.loads(result.stdout)) == {
        "as_of",
        "exported_at",
        "controllers",
        "entities",
        "processors",
        "transfers",
    }
    assert result.stderr == ""


def test_a_sweep_without_a_terminal_prints_its_summary_line_alone(env: None) -> None:
    result = runner.invoke(app, ["sweep"])
    assert result.exit_code == 0, result.output
    (line,) = result.output.splitlines()
    assert line.startswith("registry: 0 recordings shredded")
