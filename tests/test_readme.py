"""The README works as written: its settings, its command synopsis, its first query and its
PostgreSQL lines are run here, so that a line that stops working fails CI."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from registry.cli import app
from registry.settings import Settings
from tests.conftest import _admin, _postgres_admin_url
from tests.recordings.test_upload_kill import serving

README = Path(__file__).resolve().parent.parent / "README.md"
# A word of the synopsis that is not a command's name: a placeholder, an option, a choice.
NOT_A_COMMAND = re.compile(r"^(\[|--|[A-Z]|#)")


def readme() -> str:
    return README.read_text(encoding="utf-8")


def shell_blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", readme(), flags=re.DOTALL)


def block_with(needle: str) -> str:
    (block,) = [block for block in shell_blocks() if needle in block]
    return block


def test_every_setting_is_in_the_readme() -> None:
    text = readme().upper()
    prefix = Settings.model_config.get("env_prefix", "")
    missing = [
        f"{prefix}{name}".upper()
        for name in Settings.model_fields
        if f"`{prefix}{name}`".upper() not in text
    ]
    assert missing == []


def synopsis() -> Iterator[tuple[list[str], list[str]]]:
    """Each line of the command synopsis: the command's path and the options it names."""
    block = block_with("registry db upgrade [REVISION]")
    for line in re.sub(r"\\\n\s*", " ", block).splitlines():
        if not line.startswith("registry "):
            continue
        usage = line.partition("  #")[0]
        words = usage.split()[1:]
        path = []
        for word in words:
            if NOT_A_COMMAND.match(word):
                break
            path.append(word)
        yield path, re.findall(r"--[a-z][a-z-]*", usage)


def test_the_readmes_command_synopsis_names_real_commands_and_options() -> None:
    runner = CliRunner()
    lines = list(synopsis())
    assert len(lines) > 10
    for path, options in lines:
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "240"}, color=False)
        assert result.exit_code == 0, (path, result.output)
        missing = [option for option in options if option not in result.output]
        assert missing == [], (path, missing)


@pytest.fixture
def fresh_directory(tmp_path: Path) -> Path:
    """A working directory as a new user's clone would have it: no var/ yet."""
    return tmp_path


def clean_env() -> dict[str, str]:
    """The environment of a shell with the checkout's virtualenv active and nothing set."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("REGISTRY_")}
    return {**env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"}


def embedded_env(directory: Path) -> dict[str, str]:
    """The embedded default, in ``directory`` rather than the checkout's own var/."""
    return {
        **clean_env(),
        "REGISTRY_VAR_DIR": str(directory / "var"),
        "REGISTRY_DATABASE_URL": f"sqlite+aiosqlite:///{directory}/var/registry.db",
        "REGISTRY_AUDIT_DATABASE_URL": f"sqlite+aiosqlite:///{directory}/var/audit.db",
    }


def test_the_readmes_first_query_answers_on_a_fresh_embedded_registry(
    fresh_directory: Path,
) -> None:
    if shutil.which("curl") is None:
        pytest.skip("the README's first query is a curl command, and curl is not installed")
    curl = block_with("{ whoProcesses(dataCategory:")
    with serving(embedded_env(fresh_directory), fresh_directory / "server.log") as server:
        command = curl.replace("http://127.0.0.1:8000", server.url)
        ran = subprocess.run(
            ["bash", "-c", command], cwd=fresh_directory, capture_output=True, text=True, timeout=60
        )
    assert ran.returncode == 0, ran.stderr
    answer = json.loads(ran.stdout)
    assert "errors" not in answer, answer
    entities = {p["entity"]["legalName"] for p in answer["data"]["whoProcesses"]}
    assert "Talkdesk Inc." in entities


@pytest.fixture
def postgres_databases() -> Iterator[tuple[str, str]]:
    """Two new, empty PostgreSQL databases (the record's and the audit log's)."""
    admin = _postgres_admin_url()
    if admin is None:
        pytest.skip("no PostgreSQL to run the README's production lines against")
    names = [f"registry_readme_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    asyncio.run(_admin(admin, *(f'CREATE DATABASE "{name}"' for name in names)))
    base = admin.rsplit("/", 1)[0]
    try:
        yield f"{base}/{names[0]}", f"{base}/{names[1]}"
    finally:
        drops = (f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in names)
        asyncio.run(_admin(admin, *drops))


def test_the_readmes_postgresql_lines_migrate_seed_and_serve(
    fresh_directory: Path, postgres_databases: tuple[str, str]
) -> None:
    record_url, audit_url = postgres_databases
    block = block_with("registry db upgrade && registry seed && registry serve")
    block = re.sub(r"REGISTRY_DATABASE_URL=\S+", f"REGISTRY_DATABASE_URL={record_url}", block)
    block = re.sub(
        r"REGISTRY_AUDIT_DATABASE_URL=\S+", f"REGISTRY_AUDIT_DATABASE_URL={audit_url}", block
    )
    # Serving would not return: the lines before it run as written, the server is started below.
    prepare = block.replace("&& registry serve", "")
    env = clean_env()
    ran = subprocess.run(
        ["bash", "-e", "-c", prepare],
        cwd=fresh_directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "Traceback" not in ran.stderr
    served = {
        **env,
        "REGISTRY_DATABASE_URL": record_url,
        "REGISTRY_AUDIT_DATABASE_URL": audit_url,
        "REGISTRY_VAR_DIR": str(fresh_directory / "var"),
    }
    with serving(served, fresh_directory / "server.log") as server:
        ready = httpx.get(f"{server.url}/readyz", timeout=10)
    assert ready.status_code == 200, ready.text


def test_the_readmes_feed_follower_resumes_from_its_saved_cursor(fresh_directory: Path) -> None:
    (script,) = re.findall(r"```python\n(.*?)```", readme(), flags=re.DOTALL)
    with serving(embedded_env(fresh_directory), fresh_directory / "server.log") as server:
        follower = fresh_directory / "follow.py"
        follower.write_text(script.replace("https://registry.example", server.url))
        token = (fresh_directory / "var" / "bootstrap-token").read_text().strip()
        env = {**clean_env(), "REGISTRY_TOKEN": token}

        def follow() -> list[str]:
            ran = subprocess.run(
                [sys.executable, str(follower)],
                cwd=fresh_directory,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert ran.returncode == 0, ran.stderr
            return ran.stdout.splitlines()

        first = follow()
        again = follow()
    # The seeding's changes, each once, in order; the second run has nothing new to say.
    sequences = [int(line.split()[0]) for line in first]
    assert len(sequences) > 10 and sequences == sorted(set(sequences))
    assert again == []
    assert (fresh_directory / "registry-feed.cursor").read_text().strip()
