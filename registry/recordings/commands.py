"""`registry sweep` and `registry keys rotate`."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from registry.audit.models import Outcome
from registry.audit.service import AuditLog, Entry
from registry.blobs import LocalBlobStore
from registry.crypto import KeyRing
from registry.db import create_engine, session_factory
from registry.recordings import keys, retention
from registry.settings import Settings

keys_app = typer.Typer(help="The key ring that protects the recordings.", no_args_is_help=True)


async def _sweep(settings: Settings, batch: int) -> retention.SweepReport:
    # Each transaction takes SQLite's write lock at once, so sweepers never interleave.
    engine = create_engine(settings.resolved_database_url, serial_writes=True)
    log = AuditLog.open(settings.resolved_audit_database_url)
    try:
        report = await retention.sweep(
            sessions=session_factory(engine),
            blobs=LocalBlobStore(settings.resolved_blob_dir),
            batch=batch,
        )
        await log.append(
            [
                Entry(
                    principal=retention.SWEEPER.handle,
                    action="sweep",
                    outcome=Outcome.ALLOWED,
                    detail={"shredded": report.shredded, "blobs_deleted": report.blobs_deleted},
                )
            ]
        )
        return report
    finally:
        await engine.dispose()
        await log.close()


def sweep(batch: Annotated[int, typer.Option(min=1, max=10_000)] = 500) -> None:
    """Erase recordings past their retention and not held (safe on many replicas at once)."""
    report = asyncio.run(_sweep(Settings(), batch))
    typer.echo(
        f"registry: {report.shredded} recordings shredded, {report.blobs_deleted} blobs deleted"
    )


async def _rotate(settings: Settings) -> tuple[str, int]:
    ring = KeyRing.load_or_create(settings.resolved_keyring_file)
    primary = ring.add_primary()
    engine = create_engine(settings.resolved_database_url, serial_writes=True)
    log = AuditLog.open(settings.resolved_audit_database_url)
    try:
        count = await keys.rewrap_all(sessions=session_factory(engine), ring=ring)
        await log.append(
            [
                Entry(
                    principal="system:cli",
                    action="keys.rotate",
                    outcome=Outcome.ALLOWED,
                    detail={"primary": primary, "rewrapped": count},
                )
            ]
        )
        return primary, count
    finally:
        await engine.dispose()
        await log.close()


@keys_app.command("rotate")
def rotate() -> None:
    """Add a new primary key and re-wrap every data key under it; audio is not touched."""
    primary, count = asyncio.run(_rotate(Settings()))
    typer.echo(f"registry: primary key is now {primary}; {count} data keys re-wrapped")
