"""The `registry` command: serve, migrate, seed, export, import; principals, tokens, audit."""

from __future__ import annotations

import gc
import importlib
import os
from pathlib import Path
from typing import Annotated

import typer

from registry import migrate
from registry._commands import CLI, Guarded, run, write_secret
from registry._progress import progress
from registry.access import service as access
from registry.access.commands import principals_app, tokens_app
from registry.audit.commands import audit_app, require_apart
from registry.exports import ropa
from registry.exports.writers import Format, Part, render
from registry.record.imports.commands import import_app
from registry.record.past.as_of import parse_day
from registry.recordings.commands import keys_app
from registry.recordings.commands import sweep as sweep_command
from registry.rights.commands import rights_app
from registry.seeding import seed as load_seeds
from registry.settings import Settings

app = typer.Typer(
    cls=Guarded,
    help="The registry of processing for call-centre recordings.",
    no_args_is_help=True,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
export_app = typer.Typer(help="Exports of the record.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(export_app, name="export")
app.add_typer(principals_app, name="principals")
app.add_typer(tokens_app, name="tokens")
app.add_typer(audit_app, name="audit")
app.add_typer(keys_app, name="keys")
app.add_typer(rights_app, name="rights")
app.add_typer(import_app, name="import")
app.command("sweep")(sweep_command)


def _prepare_var_dir(settings: Settings) -> None:
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.var_dir, 0o700)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
) -> None:
    """Serve the registry. On the embedded default it migrates and seeds itself first."""
    import uvicorn

    from registry._access_log import log_config
    from registry.app import build_app
    from registry.logs import json_lines

    settings = Settings()
    _prepare_var_dir(settings)
    require_apart(settings)
    # Embedded files migrate themselves; a database server is migrated by `registry db upgrade`.
    if settings.auto_migrate and settings.is_sqlite:
        migrate.upgrade(settings.resolved_database_url)
        run(settings, lambda s: load_seeds(session=s, seeds_dir=settings.seeds_dir))
    if settings.auto_migrate and settings.resolved_audit_database_url.startswith("sqlite"):
        migrate.upgrade_audit(settings.resolved_audit_database_url)
    token = run(settings, lambda s: access.ensure_bootstrap_admin(session=s))
    if token is not None:
        write_secret(settings.bootstrap_token_file, token)
    listen_host = host or settings.host
    listen_port = port or settings.port
    typer.echo(f"registry: serving on http://{listen_host}:{listen_port}/graphql")
    if settings.bootstrap_token_file.exists():
        token_file = settings.bootstrap_token_file
        typer.echo(
            f"registry: the bootstrap admin/privacy-officer token is in {token_file} (mode 0600);"
            f" send it as\n  Authorization: Bearer $(cat {token_file})"
        )
    asgi_app = build_app(settings)
    _tune_garbage_collector()
    uvicorn.run(
        asgi_app,
        host=listen_host,
        port=listen_port,
        log_level="info",
        log_config=json_lines(log_config()),
        loop="uvloop" if _imports("uvloop") else "asyncio",
        http="httptools" if _imports("httptools") else "h11",
    )


def _imports(module: str) -> bool:
    """Whether ``module`` imports. uvloop's event loop and httptools' parser do a cached
    answer's HTTP handling in C; they are dependencies, but a platform without their builds
    (uvloop has none for Windows) still serves, on asyncio's loop and h11, only slower."""
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


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
    # Whatever the record's database, the audit log, key ring and signing key default to
    # files under var/: it must exist before either migration opens them.
    _prepare_var_dir(settings)
    require_apart(settings)
    migrate.upgrade(settings.resolved_database_url, revision)
    migrate.upgrade_audit(settings.resolved_audit_database_url)
    typer.echo(f"registry: database at {revision}, audit log at head")


@app.command()
def seed() -> None:
    """Load seeds/ into the record: creates what is missing, never overwrites edits."""
    settings = Settings()
    created = run(settings, lambda s: load_seeds(session=s, seeds_dir=settings.seeds_dir))
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
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="The records as they stood at the end of this day (YYYY-MM-DD, UTC).",
        ),
    ] = None,
    part: Annotated[
        Part | None,
        typer.Option(help="csv only: the table to write (controllers unless given)."),
    ] = None,
) -> None:
    """Write the records of processing (Art. 30(1) and (2)) with what they lack."""
    if fmt is Format.XLSX and output is None:
        raise typer.BadParameter("xlsx is a binary format: give a file", param_hint="--output")
    if part is not None and fmt is not Format.CSV:
        raise typer.BadParameter(
            f"{fmt.value} holds every part; --part is for csv", param_hint="--part"
        )
    settings = Settings()
    # Two steps, each one call: the bar says which is under way, on standard error, so an
    # export to standard output stays clean.
    with progress("reading the record", total=2) as tracker:
        export = run(
            settings,
            lambda s: ropa.build(
                session=s,
                actor=CLI,
                contact=settings.configured_privacy_contact,
                controller=controller,
                as_of=parse_day(as_of) if as_of is not None else None,
            ),
            snapshot=True,
        )
        tracker.update(completed=1, description=f"writing {fmt.value}")
        data = render(export, fmt, part)
        tracker.update(completed=2)
    if output is None:
        typer.echo(data, nl=False)
        return
    output.write_bytes(data)
    typer.echo(f"registry: wrote {output}")
