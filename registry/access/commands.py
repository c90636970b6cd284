"""`registry principals ...` and `registry tokens ...`."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

import typer

from registry._commands import CLI, run
from registry.access import service as access
from registry.access.policy import Role
from registry.settings import Settings

principals_app = typer.Typer(
    help="People and integrations that use the registry.", no_args_is_help=True
)
tokens_app = typer.Typer(help="Bearer tokens of principals.", no_args_is_help=True)


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
    run(
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
    token, _ = run(
        Settings(),
        lambda s: access.issue_token(
            session=s, actor=CLI, handle=handle, label=label, lifetime=timedelta(days=days)
        ),
    )
    typer.echo(token)
