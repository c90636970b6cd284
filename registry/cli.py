"""The `registry` command: serve, migrate, seed, export."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated

import typer

from registry import migrate
from registry.access import service as access
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
app.add_typer(db_app, name="db")
app.add_typer(export_app, name="export")


def _prepare_var_dir(settings: Settings) -> None:
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.var_dir, 0o700)


async def _seed(settings: Settings) -> dict[str, int]:
    engine = create_engine(settings.resolved_database_url)
    try:
        async with transaction(session_factory(engine)) as session:
            return dict(await load_seeds(session=session, seeds_dir=settings.seeds_dir))
    finally:
        await engine.dispose()


async def _bootstrap(settings: Settings) -> str | None:
    engine = create_engine(settings.resolved_database_url)
    try:
        async with transaction(session_factory(engine)) as session:
            return await access.ensure_bootstrap_admin(session=session)
    finally:
        await engine.dispose()


async def _ropa(settings: Settings, controller: str | None) -> ropa.RopaExport:
    engine = create_engine(settings.resolved_database_url)
    # The export reads one record after another; on PostgreSQL they must still describe
    # one moment, not straddle an edit. (SQLite's one transaction is a snapshot already.)
    reading = (
        engine
        if settings.is_sqlite
        else engine.execution_options(isolation_level="REPEATABLE READ")
    )
    try:
        async with transaction(session_factory(reading)) as session:
            return await ropa.build(
                session=session,
                actor=Actor.system("export"),
                contact=settings.privacy_contact,
                controller=controller,
            )
    finally:
        await engine.dispose()


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
        asyncio.run(_seed(settings))
    token = asyncio.run(_bootstrap(settings))
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
    uvicorn.run(build_app(settings), host=listen_host, port=listen_port, log_level="info")


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
    created = asyncio.run(_seed(Settings()))
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
    try:
        export = asyncio.run(_ropa(Settings(), controller))
    except DomainError as error:
        typer.echo(f"registry: {error.message}", err=True)
        raise typer.Exit(1) from None
    data = render(export, fmt)
    if output is None:
        typer.echo(data, nl=False)
        return
    output.write_bytes(data)
    typer.echo(f"registry: wrote {output}")
