"""`registry sweep` and `registry keys rotate`."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Annotated, NoReturn

import typer
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from registry._commands import run
from registry._progress import Tracker, progress
from registry.audit.commands import require_apart
from registry.audit.models import Outcome
from registry.audit.service import AuditLog, AuditUnavailable, Entry
from registry.blobs import open_blob_store
from registry.crypto import KekUnavailable
from registry.db import create_engine, session_factory
from registry.kms import remote_keks
from registry.recordings import retention
from registry.settings import Settings
from registry.upkeep import dry_run, index_rotation, keys
from registry.upkeep.sweeping import Swept, sweep_all

keys_app = typer.Typer(help="The key ring that protects the recordings.", no_args_is_help=True)
CLI_PRINCIPAL = "system:cli"


def _fail(message: str) -> NoReturn:
    typer.echo(f"registry: {message}", err=True)
    raise typer.Exit(1)


async def _sweep(settings: Settings, batch: int, tracker: Tracker) -> Swept:
    # Each transaction takes SQLite's write lock at once, so sweepers never interleave.
    engine = create_engine(settings.resolved_database_url, serial_writes=True)
    log = AuditLog.open(settings.resolved_audit_database_url)
    # Each batch that erases is audited before it commits: the count of appends is the
    # sweep's progress, batch by batch, however many steps it has.
    appended = 0

    def counted(_seconds: float, failed: bool) -> None:
        nonlocal appended
        appended += not failed

    log.on_append = counted
    try:
        return await tracker.follow(
            lambda: appended,
            sweep_all(
                sessions=session_factory(engine),
                blobs=open_blob_store(settings),
                audit_log=log,
                batch=batch,
            ),
        )
    finally:
        await engine.dispose()
        await log.close()


def sweep(
    batch: Annotated[int, typer.Option(min=1, max=10_000)] = retention.SWEEP_BATCH,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="List what would be erased and what holds keep; change nothing.",
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="With --dry-run: the list as JSON.")
    ] = False,
) -> None:
    """Erase recordings past their retention and not held (safe on many replicas at once);
    then remove temp files that writes killed with their process left in the blob folder."""
    if as_json and not dry_run:
        raise typer.BadParameter("only a dry run is listed", param_hint="--json")
    settings = Settings()
    require_apart(settings)
    if dry_run:
        _preview(settings, as_json=as_json)
        return
    with progress("sweeping: erasing batches") as tracker:
        swept = asyncio.run(_sweep(settings, batch, tracker))
    line = (
        f"registry: {swept.report.shredded} recordings shredded,"
        f" {swept.report.blobs_deleted} blobs deleted,"
        f" {swept.expired_packages} expired packages erased"
    )
    if swept.temp_files is not None:
        line += f", {swept.temp_files} stale temp files removed"
    typer.echo(line)


def _preview(settings: Settings, *, as_json: bool) -> None:
    """Lists what a sweep would do now; the audit log is told that a dry run looked."""

    async def audited(session: AsyncSession) -> dry_run.Preview:
        preview = await dry_run.preview(session=session)
        log = AuditLog.open(settings.resolved_audit_database_url)
        try:
            await log.append([dry_run.audited(preview, retention.SWEEPER.handle)])
        finally:
            await log.close()
        return preview

    preview = run(settings, audited, snapshot=True)
    if as_json:
        typer.echo(json.dumps(asdict(preview), default=_iso, indent=2))
        return
    for line in _listed(preview):
        typer.echo(line)
    counts = preview.counts()
    typer.echo(
        f"registry: dry run, nothing changed: {counts['recordings']} recordings would be"
        f" erased, {counts['held']} kept by holds, {counts['shredded']} shredded blobs"
        f" deleted, {counts['pending_blobs']} blobs of erased recordings deleted,"
        f" {counts['subjects']} subjects' identifiers erased,"
        f" {counts['packages']} expired packages erased,"
        f" {counts['unfinished_uploads']} unfinished uploads removed"
    )


def _listed(preview: dry_run.Preview) -> list[str]:
    return [
        *(f"erase recording {r.id}: expired on {_iso(r.since)}" for r in preview.recordings),
        *(
            f"keep recording {h.recording_id}: hold on {h.ground} until {h.until.isoformat()}"
            for h in preview.held
        ),
        *(f"delete the blob of recording {r}: shredded already" for r in preview.shredded),
        *(
            f"delete blob {key}: its recording was erased on {_iso(p.since)}"
            for p in preview.pending_blobs
            for key in p.blob_keys
        ),
        *(f"erase the identifiers of subject {s}" for s in preview.subjects),
        *(f"erase package {p.id}: expired on {_iso(p.since)}" for p in preview.packages),
        *(
            f"remove unfinished upload {u.id}: deadline passed on {_iso(u.since)}"
            for u in preview.unfinished_uploads
        ),
    ]


def _iso(value: date | datetime) -> str:
    return value.isoformat()


class _Stopped(Exception):
    """The rotation could not start, or stopped; the message says in what state it left things."""


@dataclass
class Rotation:
    primary: str
    rewrapped: keys.Rewrapped
    # Still under older keys: held by another worker meanwhile, or wrapped since by a server
    # that has not reloaded the ring. Readable all the same.
    left: int


def _summary(error: BaseException) -> str:
    # The first line only: a database error goes on with the statement and its parameters.
    lines = str(error).splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def _rotation_entry(primary: str, rewrapped: keys.Rewrapped, outcome: Outcome) -> Entry:
    return Entry(
        principal=CLI_PRINCIPAL,
        action="keys.rotate",
        outcome=outcome,
        detail={
            "primary": primary,
            "rewrapped": rewrapped.done,
            "unreadable": rewrapped.unreadable,
        },
    )


async def _rotate(settings: Settings, batch: int, tracker: Tracker) -> Rotation:
    ring_file = settings.resolved_keyring_file
    try:
        ring = keys.ring_to_rotate(ring_file, remote=remote_keks(settings))
    except (keys.KeyRingUnavailable, KekUnavailable, ValueError) as error:
        # Each names the file or the KMS setting and what is wrong, never a key.
        raise _Stopped(str(error)) from None
    engine = create_engine(settings.resolved_database_url, serial_writes=True)
    log = AuditLog.open(settings.resolved_audit_database_url)
    sessions = session_factory(engine)
    try:
        # The database must answer before the ring changes: a new key would serve nothing.
        try:
            async with engine.connect():
                pass
        except (SQLAlchemyError, OSError) as error:
            raise _Stopped(
                f"the database cannot be reached ({_summary(error)}); the key ring is unchanged"
            ) from None
        try:
            # KMS keys are made in the KMS: the first of REGISTRY_KMS_KEY_IDS is the new one.
            primary = ring.add_primary() if ring.remote is None else ring.primary_id
        except OSError as error:
            raise _Stopped(
                f"cannot write the key ring {ring_file}: {error.strerror or error}; it is unchanged"
            ) from None
        progress = keys.Rewrapped()
        total = await keys.under_older_keys(sessions=sessions, ring=ring)
        tracker.update(completed=0, total=total)
        try:
            await tracker.follow(
                lambda: progress.done + len(progress.unreadable),
                keys.rewrap_all(sessions=sessions, ring=ring, batch=batch, progress=progress),
            )
        except Exception as error:
            with contextlib.suppress(AuditUnavailable):
                await log.append([_rotation_entry(primary, progress, Outcome.FAILED)])
            raise _Stopped(
                f"the rotation stopped after re-wrapping {progress.done} data keys under"
                f" {primary} ({_summary(error)}); every recording stays readable, since older"
                " keys stay in the ring: run `registry keys rotate` again to finish"
            ) from error
        left = await keys.under_older_keys(sessions=sessions, ring=ring)
        outcome = Outcome.FAILED if progress.unreadable else Outcome.ALLOWED
        try:
            await log.append([_rotation_entry(primary, progress, outcome)])
        except AuditUnavailable:
            raise _Stopped(
                f"the primary key is now {primary} and {progress.done} data keys were"
                " re-wrapped, but the audit log cannot be written"
            ) from None
        return Rotation(primary, progress, left - len(progress.unreadable))
    finally:
        await engine.dispose()
        await log.close()


@keys_app.command("rotate")
def rotate(batch: Annotated[int, typer.Option(min=1, max=10_000)] = 500) -> None:
    """Add a new primary key and re-wrap every data key under it; audio is not touched.

    Safe to run again after a failure: older keys stay in the ring, so every recording
    stays readable, and the next run re-wraps what is left.
    """
    settings = Settings()
    require_apart(settings)
    try:
        with progress("re-wrapping data keys") as tracker:
            rotation = asyncio.run(_rotate(settings, batch, tracker))
    except _Stopped as stopped:
        _fail(str(stopped))
    done = rotation.rewrapped
    typer.echo(f"registry: primary key is now {rotation.primary}; {done.done} data keys re-wrapped")
    if rotation.left:
        typer.echo(
            f"registry: {rotation.left} data keys are still under older keys (busy, or wrapped"
            " since by a server that has not reloaded the ring); they stay readable"
        )
    if done.unreadable:
        _fail(
            f"{len(done.unreadable)} data keys do not unwrap and were left as they were, so their"
            f" audio cannot be opened: recordings {', '.join(_shown(done.unreadable))}"
        )


def _shown(ids: list[str], most: int = 10) -> list[str]:
    return ids if len(ids) <= most else [*ids[:most], f"and {len(ids) - most} more"]


async def _rotate_index(settings: Settings, batch: int) -> index_rotation.IndexRotation:
    # The index secrets are always in the file, KMS or not: no KMS is asked.
    ring = keys.ring_to_rotate(settings.resolved_keyring_file)
    engine = create_engine(settings.resolved_database_url, serial_writes=True)
    log = AuditLog.open(settings.resolved_audit_database_url)
    try:
        return await index_rotation.rotate_index(
            sessions=session_factory(engine),
            ring=ring,
            audit_log=log,
            principal=CLI_PRINCIPAL,
            batch=batch,
        )
    finally:
        await engine.dispose()
        await log.close()


@keys_app.command("rotate-index")
def rotate_index(batch: Annotated[int, typer.Option(min=1, max=10_000)] = 500) -> None:
    """Make a new blind-index secret current and recompute every phone and e-mail index under
    it; the older secret is retired once no index is left under it.

    Safe to run again after a failure: it goes on with the rotation begun, and lookups match
    under the older secret until then.
    """
    settings = Settings()
    require_apart(settings)
    try:
        rotation = asyncio.run(_rotate_index(settings, batch))
    except (keys.KeyRingUnavailable, index_rotation.RotationStopped) as stopped:
        _fail(str(stopped))
    done = rotation.reindexed
    typer.echo(
        f"registry: index secret {rotation.version} is current; indexes of {done.subjects}"
        f" subjects and {done.requests} rights requests recomputed"
    )
    if done.cleared:
        cleared = ", ".join(_shown([str(request_id) for request_id in done.cleared]))
        typer.echo(
            f"registry: {len(done.cleared)} closed rights requests had indexes no linked subject"
            f" proves, which were cleared: requests {cleared}"
        )
    if rotation.retired:
        retired = ", ".join(map(str, rotation.retired))
        typer.echo(f"registry: every index is under the current secret; retired {retired}")
    elif rotation.left:
        typer.echo(
            f"registry: {rotation.left} rows are still under an older secret, which stays in the"
            " ring so that they are found (open rights requests whose subject is not linked,"
            " rows busy or written since): run `registry keys rotate-index` again later"
        )
    if done.unreadable:
        unreadable = ", ".join(_shown([str(subject_id) for subject_id in done.unreadable]))
        _fail(
            f"{len(done.unreadable)} subjects' sealed phone or e-mail does not open; their indexes"
            f" were left as they were: subjects {unreadable}"
        )
