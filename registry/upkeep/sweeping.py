"""One sweep, whoever runs it (`registry sweep` or the server's periodic task): recordings
and identifiers past their retention, packages past their expiry, temp files of killed
writes, and an audit entry saying what went (each erasing batch has its own as well); then
the run's counts for the privacy team (``recordings.evidence``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry.audit.models import Outcome
from registry.audit.service import AuditLog, Entry
from registry.blobs import BlobStore, LocalBlobStore
from registry.db import transaction
from registry.recordings import evidence, retention, uploads
from registry.rights.expiry import erase_expired_packages


@dataclass(frozen=True)
class Swept:
    report: retention.SweepReport
    expired_packages: int
    # None for a bucket: it has no temp files (a killed upload is left incomplete instead,
    # which the bucket's lifecycle rule aborts; see registry.blobs.s3).
    temp_files: int | None
    unfinished_uploads: int = 0

    @property
    def anything(self) -> bool:
        return bool(
            self.report.shredded
            or self.report.blobs_deleted
            or self.report.identifiers_erased
            or self.expired_packages
            or self.temp_files
            or self.unfinished_uploads
        )

    def detail(self) -> dict[str, Any]:
        detail: dict[str, Any] = {
            "shredded": self.report.shredded,
            "blobs_deleted": self.report.blobs_deleted,
            "identifiers_erased": self.report.identifiers_erased,
            "expired_packages_erased": self.expired_packages,
        }
        if self.unfinished_uploads:
            detail["unfinished_uploads_removed"] = self.unfinished_uploads
        if self.temp_files is not None:
            detail["stale_temp_files_removed"] = self.temp_files
        return detail


async def sweep_all(
    *,
    sessions: async_sessionmaker[AsyncSession],
    blobs: BlobStore,
    audit_log: AuditLog,
    batch: int = retention.SWEEP_BATCH,
) -> Swept:
    """Runs every part of the sweep, then audits it; safe beside other sweepers."""
    # Blobs of uploads that died before their recording was committed: no one's audio.
    unfinished = await uploads.remove_unfinished(sessions=sessions, blobs=blobs, batch=batch)
    report = await retention.sweep(sessions=sessions, blobs=blobs, audit_log=audit_log, batch=batch)
    # Answers handed out are copies of the same data, kept only until they expire.
    packages = await erase_expired_packages(sessions=sessions, blobs=blobs, batch=batch)
    # Then the temp files of writes whose process was killed: sealed audio all the same.
    temp_files = (
        await blobs.remove_stale_temp_files() if isinstance(blobs, LocalBlobStore) else None
    )
    swept = Swept(report, packages, temp_files, unfinished)
    await audit_log.append(
        [
            Entry(
                principal=retention.SWEEPER.handle,
                action="sweep",
                outcome=Outcome.ALLOWED,
                detail=swept.detail(),
            )
        ]
    )
    async with transaction(sessions) as session:
        await evidence.record_sweep(
            session,
            evidence.SweepCounts(
                shredded=report.shredded,
                blobs_deleted=report.blobs_deleted,
                identifiers_erased=report.identifiers_erased,
                expired_packages_erased=packages,
                unfinished_uploads_removed=unfinished,
            ),
        )
    return swept
