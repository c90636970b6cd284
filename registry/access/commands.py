"""`registry principals ...` and `registry tokens ...`, each audited as "system:cli"."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from registry._commands import CLI, Work, run
from registry.access import service as access
from registry.access.policy import Role
from registry.audit.commands import require_apart
from registry.audit.models import Outcome
from registry.audit.service import AuditLog, AuditUnavailable, Entry
from registry.errors import DomainError, error_extensions
from registry.settings import Settings

T = TypeVar("T")

principals_app = typer.Typer(
    help="People and integrations that use the registry.", no_args_is_help=True
)
tokens_app = typer.Typer(help="Bearer tokens of principals.", no_args_is_help=True)

HandleArgument = Annotated[str, typer.Argument(help="The principal's personal ID.")]
DateOption = Annotated[str | None, typer.Option(help="A date as YYYY-MM-DD.")]


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter("expected a date as YYYY-MM-DD", param_hint=option) from None


def _audited(
    action: str,
    work: Work[T],
    *,
    target: str | None = None,
    detail: Callable[[T], dict[str, Any]] | None = None,
) -> T:
    """Runs ``work`` as one transaction and audits it under ``action`` (R-ACC-6).

    The event is written before the transaction commits: if the log cannot take it, the
    command fails and nothing it did stays done, as for a GraphQL request. ``detail`` tells
    what the work changed, for the event.
    """
    settings = Settings()

    async def audited(session: AsyncSession) -> T:
        log = AuditLog.open(settings.resolved_audit_database_url)
        try:
            try:
                result = await work(session)
            except DomainError as error:
                await log.append([_entry(action, Outcome.FAILED, target, error_extensions(error))])
                raise
            done = detail(result) if detail is not None else None
            await log.append([_entry(action, Outcome.ALLOWED, target, done)])
            return result
        finally:
            await log.close()

    require_apart(settings)
    try:
        return run(settings, audited)
    except AuditUnavailable:
        typer.echo("registry: the audit log cannot be written, so nothing was done", err=True)
        raise typer.Exit(1) from None


def _entry(
    action: str, outcome: Outcome, target: str | None, detail: dict[str, Any] | None = None
) -> Entry:
    return Entry(principal=CLI.handle, action=action, outcome=outcome, target=target, detail=detail)


def _when(value: date | datetime | None) -> str:
    if isinstance(value, datetime):
        return value.isoformat(timespec="minutes")
    return value.isoformat() if value is not None else "-"


def _echo_rows(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


@principals_app.command("create")
def principals_create(
    handle: Annotated[str, typer.Argument(help="Personal ID; never reassigned.")],
    name: Annotated[str, typer.Option(help="Display name.")],
    role: Annotated[list[Role], typer.Option(help="A role; repeat for several.")],
    confidentiality_committed_on: DateOption = None,
    trained_on: DateOption = None,
) -> None:
    """Create a principal with its roles."""
    committed = _date(confidentiality_committed_on, "--confidentiality-committed-on")
    trained = _date(trained_on, "--trained-on")
    _audited(
        "createPrincipal",
        lambda s: access.create_principal(
            session=s,
            actor=CLI,
            handle=handle,
            display_name=name,
            roles=role,
            confidentiality_committed_on=committed,
            trained_on=trained,
        ),
        target=f"handle={handle}",
    )
    typer.echo(f"registry: created {handle}")


@principals_app.command("update")
def principals_update(
    handle: HandleArgument,
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    role: Annotated[
        list[Role] | None, typer.Option(help="A role; repeat for several. Replaces them all.")
    ] = None,
    confidentiality_committed_on: DateOption = None,
    trained_on: DateOption = None,
    reason: Annotated[
        str | None, typer.Option(help="Why; needed for a new name, kept in the audit log.")
    ] = None,
) -> None:
    """Change a principal's name, roles or dates. Its ID never changes."""
    given = {
        "display_name": name,
        "roles": role,
        "confidentiality_committed_on": _date(
            confidentiality_committed_on, "--confidentiality-committed-on"
        ),
        "trained_on": _date(trained_on, "--trained-on"),
    }
    # An option left out changes nothing (typer gives a repeatable one left out as []).
    changes = {field: value for field, value in given.items() if value not in (None, [])}
    if not changes:
        raise typer.BadParameter("nothing to change: give at least one option")
    _audited(
        "updatePrincipal",
        lambda s: access.update_principal(
            session=s, actor=CLI, handle=handle, changes=changes, reason=reason
        ),
        target=f"handle={handle}",
        detail=access.PrincipalChange.audit_detail,
    )
    typer.echo(f"registry: updated {handle}")


@principals_app.command("deactivate")
def principals_deactivate(handle: HandleArgument) -> None:
    """End a principal's access for good and revoke its tokens. Its ID stays reserved."""
    _audited(
        "deactivatePrincipal",
        lambda s: access.deactivate_principal(session=s, actor=CLI, handle=handle),
        target=f"handle={handle}",
    )
    typer.echo(f"registry: deactivated {handle}; its tokens are revoked")


@principals_app.command("list")
def principals_list() -> None:
    """List principals, deactivated ones included."""
    rows = _audited("principals", lambda s: access.list_principals(session=s, actor=CLI))
    _echo_rows(
        ("handle", "name", "roles", "committed", "trained", "deactivated"),
        [
            (
                p.handle,
                p.display_name,
                ",".join(p.roles),
                _when(p.confidentiality_committed_on),
                _when(p.trained_on),
                _when(p.deactivated_at),
            )
            for p in rows
        ],
    )


@tokens_app.command("issue")
def tokens_issue(
    handle: HandleArgument,
    label: Annotated[str, typer.Option(help="What the token is for.")] = "cli",
    days: Annotated[int, typer.Option(min=1, max=365, help="Lifetime in days.")] = 90,
) -> None:
    """Issue a token for a principal. It is printed once and never stored."""
    token, _ = _audited(
        "issueToken",
        lambda s: access.issue_token(
            session=s, actor=CLI, handle=handle, label=label, lifetime=timedelta(days=days)
        ),
        target=f"handle={handle}",
    )
    typer.echo(token)


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: Annotated[int, typer.Argument(help="The token's number, from `tokens list`.")],
) -> None:
    """Stop a token at once."""
    revoked = _audited(
        "revokeToken",
        lambda s: access.revoke_token(session=s, actor=CLI, token_id=token_id),
        target=f"id={token_id}",
    )
    typer.echo(f"registry: revoked token {revoked.id} of {revoked.handle}")


@tokens_app.command("list")
def tokens_list(
    handle: Annotated[str | None, typer.Argument(help="Only this principal's tokens.")] = None,
) -> None:
    """List tokens: whose, what for, until when, when last used. Never the tokens."""
    found = _audited(
        "tokens",
        lambda s: access.list_tokens(session=s, actor=CLI, handle=handle),
        target=f"handle={handle}" if handle is not None else None,
    )
    _echo_rows(
        ("id", "principal", "label", "created", "expires", "revoked", "last used"),
        [
            (
                str(t.id),
                t.handle,
                t.label,
                _when(t.created_at),
                _when(t.expires_at),
                _when(t.revoked_at),
                _when(t.last_used_at),
            )
            for t in found
        ],
    )
