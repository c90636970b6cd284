"""What every `registry` command shares: one transaction per command, errors as a line."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from registry.access.service import Actor
from registry.db import create_engine, session_factory, transaction
from registry.errors import DomainError
from registry.settings import Settings

T = TypeVar("T")
# Whoever runs a command has the host and its secrets: the CLI acts as the system.
CLI = Actor.system("cli")

Work = Callable[[AsyncSession], Awaitable[T]]


async def in_transaction(settings: Settings, work: Work[T], *, snapshot: bool = False) -> T:
    """Runs ``work`` as one transaction on a fresh engine, which is disposed afterwards."""
    # Commands write beside a running server: the write lock is taken when they begin.
    engine = create_engine(settings.resolved_database_url, serial_writes=True)
    # A snapshot keeps several reads describing one moment on PostgreSQL; SQLite's one
    # transaction is a snapshot already.
    bound = (
        engine.execution_options(isolation_level="REPEATABLE READ")
        if snapshot and not settings.is_sqlite
        else engine
    )
    try:
        async with transaction(session_factory(bound)) as session:
            return await work(session)
    finally:
        await engine.dispose()


def run(settings: Settings, work: Work[T], *, snapshot: bool = False) -> T:
    """Runs ``work``; an expected failure is told in a line, with exit code 1."""
    try:
        return asyncio.run(in_transaction(settings, work, snapshot=snapshot))
    except DomainError as error:
        typer.echo(f"registry: {error.message}", err=True)
        raise typer.Exit(1) from None


def write_secret(path: Path, content: str) -> None:
    # Created 0600 from the start: the token is never readable by others, not even briefly.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(content + "\n")
