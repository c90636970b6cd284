"""The `registry` command: serve, migrate, seed, principals and tokens, export."""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from registry import migrate
from registry.access import service as access
from registry.access.policy import Role
from registry.access.service import Actor
from registry.db import create_engine, session_factory, transaction
from registry.errors import DomainError
from registry.exports import ropa
from registry.exports.writers import Format, render
from registry.seeding import seed as load_seeds
from registry.settings import Settings

app = typer.Typer(
    help="The registry of processing for call-centre recordings.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
export_app = typer.Typer(help="Exports of the record.", no_args_is_help=True)
principals_app = typer.Typer(
    help="People and integrations that use the registry.", no_args_is_help=True
)
tokens_app = typer.Typer(help="Bearer tokens of principals.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(export_app, name="export")
app.add_typer(principals_app, name="principals")
app.add_typer(tokens_app, name="tokens")

T = TypeVar("T")
# Whoever runs the command has the host and its secrets: the CLI acts as the system.
CLI = Actor.system("cli")


def _prepare_var_dir(settings: Settings) -> None:
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.var_dir, 0o700)


Work = Callable[[AsyncSession], Awaitable[T]]


async def _in_transaction(settings: Settings, work: Work[T], *, snapshot: bool = False) -> T:
    """Runs ``work`` as one transaction on a fresh engine, which is disposed afterwards."""
    engine = create_engine(settings.resolved_database_url)
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


def _run(settings: Settings, work: Work[T], *, snapshot: bool = False) -> T:
    """Runs ``work``; an expected failure is told in a line, with exit code 1."""
    try:
        return asyncio.run(_in_transaction(settings, work, snapshot=snapshot))
    except DomainError as error:
        typer.echo(f"registry: {error.message}", err=True)
        raise typer.Exit(1) from None


def _write_secret(path: Path, content: str) -> None:
    # Created 0600 from the start: the token is never readable by others, not even briefly.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(content + "\n")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
) -> None:
    """Serve the registry. On the embedded default it migrates and seeds itself first."""
    import uvicorn

    from registry.app import build_app

    settings = Settings()
    _prepare_var_dir(settings)
    if settings.is_sqlite and settings.auto_migrate:
        migrate.upgrade(settings.resolved_database_url)
        _run(settings, lambda s: load_seeds(session=s, seeds_dir=settings.seeds_dir))
    token = _run(settings, lambda s: access.ensure_bootstrap_admin(session=s))
    if token is not None:
        _write_secret(settings.bootstrap_token_file, token)
    listen_host = host or settings.host
    listen_port = port or settings.port
    typer.echo(f"registry: serving on http://{listen_host}:{listen_port}/graphql")
    if settings.bootstrap_token_file.exists():
        token_file = settings.bootstrap_token_file
        typer.echo(
            f"registry: the bootstrap admin/privacy-officer token is in {token_file} (mode 0600);"
            f" send it as\n  Authorization: Bearer $(cat {token_file})"
        )
    app = build_app(settings)
    _tune_garbage_collector()
    uvicorn.run(app, host=listen_host, port=listen_port, log_level="info")


def _tune_garbage_collector() -> None:
    # A large answer makes tens of thousands of short-lived objects, and CPython's default
    # first threshold (700) ran some 500 collections in one such request, a quarter of its
    # time. What start-up made lives as long as the process: freeze it out of every scan.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Bring the database schema up to date."""
    settings = Settings()
    if settings.is_sqlite:
        _prepare_var_dir(settings)
    migrate.upgrade(settings.resolved_database_url, revision)
    typer.echo(f"registry: database at {revision}")


@app.command()
def seed() -> None:
    """Load seeds/ into the record: creates what is missing, never overwrites edits."""
    settings = Settings()
    created = _run(settings, lambda s: load_seeds(session=s, seeds_dir=settings.seeds_dir))
    typer.echo("registry: seeded " + ", ".join(f"{k}={v}" for k, v in sorted(created.items())))


@app.command("export-schema")
def export_schema(
    output: Annotated[Path, typer.Argument(help="File to write.")] = Path("schema.graphql"),
) -> None:
    """Write the GraphQL schema (SDL) generated from the code."""
    from registry.graphql.sdl import schema_sdl

    output.write_text(schema_sdl(), encoding="utf-8")
    typer.echo(f"registry: wrote {output}")


@export_app.command("ropa")
def export_ropa(
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.MD,
    controller: Annotated[
        str | None, typer.Option(help="Only this joint controller (its slug).")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            help="File to write; standard output if omitted (not for xlsx).", dir_okay=False
        ),
    ] = None,
) -> None:
    """Write the records of processing (Art. 30(1) and (2)) with what they lack."""
    if fmt is Format.XLSX and output is None:
        raise typer.BadParameter("xlsx is a binary format: give a file", param_hint="--output")
    settings = Settings()
    export = _run(
        settings,
        lambda s: ropa.build(
            session=s, actor=CLI, contact=settings.privacy_contact, controller=controller
        ),
        snapshot=True,
    )
    data = render(export, fmt)
    if output is None:
        typer.echo(data, nl=False)
        return
    output.write_bytes(data)
    typer.echo(f"registry: wrote {output}")


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter("expected a date as YYYY-MM-DD", param_hint=option) from None


@principals_app.command("create")
def principals_create(
    handle: Annotated[str, typer.Argument(help="Personal ID; never reassigned.")],
    name: Annotated[str, typer.Option(help="Display name.")],
    role: Annotated[list[Role], typer.Option(help="A role; repeat for several.")],
    confidentiality_committed_on: Annotated[str | None, typer.Option()] = None,
    trained_on: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Create a principal with its roles."""
    committed = _date(confidentiality_committed_on, "--confidentiality-committed-on")
    trained = _date(trained_on, "--trained-on")
    _run(
        Settings(),
        lambda s: access.create_principal(
            session=s,
            actor=CLI,
            handle=handle,
            display_name=name,
            roles=role,
            confidentiality_committed_on=committed,
            trained_on=trained,
        ),
    )
    typer.echo(f"registry: created {handle}")


@tokens_app.command("issue")
def tokens_issue(
    handle: Annotated[str, typer.Argument(help="The principal's ID.")],
    label: Annotated[str, typer.Option(help="What the token is for.")] = "cli",
    days: Annotated[int, typer.Option(min=1, max=365, help="Lifetime in days.")] = 90,
) -> None:
    """Issue a token for a principal. It is printed once and never stored."""
    token, _ = _run(
        Settings(),
        lambda s: access.issue_token(
            session=s, actor=CLI, handle=handle, label=label, lifetime=timedelta(days=days)
        ),
    )
    typer.echo(token)
