"""What every `registry` command shares: one transaction per command, errors as a line."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession
from typer._click.core import Context  # Typer bundles its own Click: its context class
from typer.core import TyperGroup

from registry._failures import SETUP_ERRORS, setup_failure
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


class Guarded(TyperGroup):
    """The root command group: a command that fails for a setup reason (a database that does
    not answer, a file it cannot open, a setting that is not valid) says so in one line on
    standard error and exits 1, whichever command it is, instead of a traceback."""

    def invoke(self, ctx: Context) -> Any:
        if not isinstance(threading.excepthook, _QuietClosedLoop):
            threading.excepthook = _QuietClosedLoop(threading.excepthook)
        try:
            return super().invoke(ctx)
        except SETUP_ERRORS as error:
            line = setup_failure(error)
            if line is None:
                raise
            typer.echo(f"registry: {line}", err=True)
            raise typer.Exit(1) from None


class _QuietClosedLoop:
    """aiosqlite's worker thread of a connection that failed to open (its folder does not
    exist) reports the failure again once the event loop has closed, as a traceback of its
    own; the command has told the failure in its line already. Other threads' errors pass."""

    def __init__(self, then: Callable[[threading.ExceptHookArgs], object]) -> None:
        self.then = then

    def __call__(self, args: threading.ExceptHookArgs) -> None:
        thread = args.thread.name if args.thread is not None else ""
        if (
            isinstance(args.exc_value, RuntimeError)
            and str(args.exc_value) == "Event loop is closed"
            and "_connection_worker_thread" in thread
        ):
            return
        self.then(args)


def write_secret(path: Path, content: str) -> None:
    # Created 0600 from the start: the token is never readable by others, not even briefly.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(content + "\n")
