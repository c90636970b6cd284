"""`registry audit ...`: the security team's checks of the audit log."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.exc import InterfaceError, OperationalError

from registry.audit import apart, checkpoints
from registry.audit.service import AuditLog, Verification
from registry.settings import Settings

T = TypeVar("T")

audit_app = typer.Typer(help="The audit log (security team).", no_args_is_help=True)


def require_apart(settings: Settings) -> None:
    """Stops, in one line, a command that opens the record and the audit log when they are
    one database (R-ACC-6)."""
    try:
        asyncio.run(
            apart.ensure_urls_apart(
                settings.resolved_database_url, settings.resolved_audit_database_url
            )
        )
    except apart.NotApart as error:
        typer.echo(f"registry: {error}", err=True)
        raise typer.Exit(1) from None
    except (OperationalError, InterfaceError, OSError):
        # A database that does not answer cannot be compared; nor can the command use it,
        # and it says so in its own words. Any other error (say, no right to read the
        # server's identity) stops the command.
        return


async def _with_audit_log(settings: Settings, work: Callable[[AuditLog], Awaitable[T]]) -> T:
    log = AuditLog.open(settings.resolved_audit_database_url)
    try:
        return await work(log)
    finally:
        await log.close()


@audit_app.command("verify")
def audit_verify(
    public_key: Annotated[
        Path | None,
        typer.Option(help="PEM public key the checkpoints were signed with (default: our own)."),
    ] = None,
) -> None:
    """Walk the chain and the signed checkpoints; name the first broken link (exit 1)."""
    settings = Settings()

    async def check(log: AuditLog) -> list[Verification]:
        results = [await log.verify()]
        key = _verifying_key(settings, public_key)
        if key is not None:
            results.append(await checkpoints.verify_checkpoints(log, key))
        return results

    chain_result, *checkpoint_results = asyncio.run(_with_audit_log(settings, check))
    for result, what in (
        (chain_result, "events"),
        *((r, "checkpoints") for r in checkpoint_results),
    ):
        if not result.intact:
            typer.echo(
                f"registry: audit log BROKEN at event {result.first_broken}: {result.reason}"
            )
            raise typer.Exit(1)
        typer.echo(f"registry: {result.checked} {what} verified")


def _verifying_key(settings: Settings, given: Path | None) -> Ed25519PublicKey | None:
    if given is not None:
        key = serialization.load_pem_public_key(given.read_bytes())
        if not isinstance(key, Ed25519PublicKey):
            raise typer.BadParameter("not an Ed25519 public key", param_hint="--public-key")
        return key
    if settings.signing_key_file.exists():
        return checkpoints.load_or_create_key(settings.signing_key_file).public_key()
    return None


@audit_app.command("checkpoint")
def audit_checkpoint() -> None:
    """Sign the chain's head and print it as JSON, to be kept somewhere else as well."""
    settings = Settings()
    key = checkpoints.load_or_create_key(settings.signing_key_file)
    made = asyncio.run(_with_audit_log(settings, lambda log: checkpoints.make_checkpoint(log, key)))
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    statement = {
        "seq": made.seq,
        "hash": made.hash,
        "at": made.at.isoformat(),
        "key_id": made.key_id,
        "signature": made.signature,
        "public_key": public.decode(),
    }
    typer.echo(json.dumps(statement, indent=2))
