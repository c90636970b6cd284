"""`registry import entities FILE`: plan an entity list, and apply it with --apply."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from registry._commands import CLI, in_transaction
from registry.errors import DomainError
from registry.record.imports import report, service
from registry.record.imports.plan import Plan
from registry.settings import Settings

import_app = typer.Typer(help="Imports into the record.", no_args_is_help=True)


@import_app.command("entities")
def entities(
    file: Annotated[
        Path,
        typer.Argument(help="A csv or xlsx entity list (the export's layout).", dir_okay=False),
    ],
    apply: Annotated[
        bool, typer.Option("--apply", help="Write the plan (all or nothing); else a dry run.")
    ] = False,
    retire_missing: Annotated[
        bool,
        typer.Option("--retire-missing", help="Retire the active entities the file leaves out."),
    ] = False,
    plan_hash: Annotated[
        str | None,
        typer.Option("--plan-hash", help="With --apply: refuse if the plan is not this one."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The plan as JSON.")] = False,
) -> None:
    """Plan (or apply) an entity list: what is created, updated, retired or left alone, row
    by row, with every error at its row and column. Exit 1 if there is any."""
    if plan_hash is not None and not apply:
        raise typer.BadParameter("a plan hash is checked when applying", param_hint="--plan-hash")
    settings = Settings()
    data = file.read_bytes()

    async def work(session: AsyncSession) -> Plan:
        if apply:
            return await service.apply_import(
                session=session,
                actor=CLI,
                data=data,
                file_name=file.name,
                retire_missing=retire_missing,
                plan_hash=plan_hash,
            )
        return await service.plan_import(
            session=session,
            actor=CLI,
            data=data,
            file_name=file.name,
            retire_missing=retire_missing,
        )

    try:
        plan = asyncio.run(in_transaction(settings, work))
    except service.ImportRefused as refused:
        _show(refused.plan, as_json)
        typer.echo(f"registry: {refused.message}", err=True)
        raise typer.Exit(1) from None
    except DomainError as error:
        typer.echo(f"registry: {error.message}", err=True)
        raise typer.Exit(1) from None
    _show(plan, as_json)
    if plan.errors:
        raise typer.Exit(1)
    if plan.applied:
        typer.echo(f"registry: applied as import batch {plan.batch_id}", err=True)


def _show(plan: Plan, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(report.as_json(plan), ensure_ascii=False, indent=2))
    else:
        typer.echo("\n".join(report.as_lines(plan)))
