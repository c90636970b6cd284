"""`registry rights overdue`: the daily check of data-subject requests past their deadline."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from registry._commands import CLI, run
from registry.record.inventory.models import Entity
from registry.rights import service
from registry.rights.deadlines import deadline
from registry.rights.models import RightsRequest
from registry.settings import Settings

rights_app = typer.Typer(help="Data-subject requests.", no_args_is_help=True)


@rights_app.command("overdue")
def overdue(
    soon: Annotated[
        int, typer.Option(min=0, max=60, help="Also list open requests due within these days.")
    ] = 7,
) -> None:
    """Requests past their deadline (exit code 2 if any), then those due soon."""

    async def work(session: AsyncSession) -> tuple[list[str], list[str]]:
        late = await service.overdue(session, CLI)
        upcoming = (
            await session.scalars(service.queue_query(CLI, service.Queue(due_within_days=soon)))
        ).all()
        slugs = dict((await session.execute(select(col(Entity.id), col(Entity.slug)))).all())

        def line(request: RightsRequest) -> str:
            due = deadline(request)
            return (
                f"#{request.id} {request.kind.value} ({request.status.value}) "
                f"to {slugs[request.controller_id]}, due {due:%Y-%m-%d %H:%M} UTC"
            )

        late_ids = {r.id for r in late}
        return [line(r) for r in late], [
            line(r) for r in sorted(upcoming, key=deadline) if r.id not in late_ids
        ]

    late, upcoming = run(Settings(), work)
    typer.echo(f"{len(late)} overdue")
    for text in late:
        typer.echo(f"  {text}")
    typer.echo(f"{len(upcoming)} due within {soon} days")
    for text in upcoming:
        typer.echo(f"  {text}")
    if late:
        # A scheduler tells a failed daily check apart from a clean one.
        raise typer.Exit(2)
