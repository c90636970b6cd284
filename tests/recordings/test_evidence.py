"""The evidence of retention: holds in force, each sweep's counts, tombstones (R-RET-1..3).

Read from the recordings' own tables by the privacy team, never from the audit log, which
is the security team's alone (R-ACC-6).
"""

from __future__ import annotations

from datetime import timedelta

from registry import clock
from registry.access.policy import Role
from registry.audit.models import Outcome
from registry.audit.service import AuditLog
from registry.blobs import LocalBlobStore
from registry.crypto import KeyRing
from registry.db import transaction
from registry.recordings import evidence, retention
from registry.recordings.models import ErasureReason
from registry.upkeep.sweeping import sweep_all
from tests.conftest import NOW, OFFICER, Api
from tests.recordings.conftest import Scene
from tests.recordings.test_http import events
from tests.recordings.test_retention import hold, recorded

DAY = timedelta(days=1)
EVIDENCE = "{ retentionEvidence { endingSoonBy holdsInForce { id recordingId endsOn placedBy } sweeps { finishedAt shredded keptByHolds blobsDeleted } tombstones { recordingId erasedAt reason erasedBy } } }"


async def test_r_ret_2_a_sweep_leaves_its_counts_and_what_holds_kept(
    scene: Scene,
    ring: KeyRing,
    blobs: LocalBlobStore,
    audit_log: AuditLog,
    frozen_clock: clock.FrozenClock,
) -> None:
    """R-RET-1: the sweep erases what is past its period and leaves a tombstone; R-RET-2: a
    hold in force keeps its recording, and the sweep's run says how many were kept."""
    held, free = await recorded(scene, ring, blobs, count=2)
    placed = await hold(scene, held, (NOW + 40 * DAY).date())
    # The seeded period for recordings is 30 days.
    frozen_clock.advance(31 * DAY)

    await sweep_all(sessions=scene.sessions, blobs=blobs, audit_log=audit_log)

    async with scene.sessions() as session:
        found = await evidence.retention_evidence(session=session, actor=OFFICER)
    (run,) = found.sweeps
    assert (run.finished_at, run.shredded, run.blobs_deleted, run.kept_by_holds) == (
        NOW + 31 * DAY,
        1,
        1,
        1,
    )
    assert [hold_.id for hold_ in found.holds] == [placed.id]
    # Nine days left: within the 30 days that make a hold "ending soon".
    assert placed.ends_on <= found.ending_soon_by
    assert [(t.recording_id, t.reason, t.erased_by) for t in found.tombstones] == [
        (free, ErasureReason.EXPIRED, retention.SWEEPER.handle)
    ]


async def test_r_ret_2_a_released_or_ended_hold_is_no_longer_in_force(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore, frozen_clock: clock.FrozenClock
) -> None:
    """R-RET-2: a hold keeps its recording until its end or its release, and no longer."""
    first, second = await recorded(scene, ring, blobs, count=2)
    ending = await hold(scene, first, (NOW + 5 * DAY).date())
    released = await hold(scene, second, (NOW + 90 * DAY).date())
    async with transaction(scene.sessions) as session:
        await retention.release_hold(session=session, actor=OFFICER, hold_id=released.id)

    async with scene.sessions() as session:
        today = await evidence.retention_evidence(session=session, actor=OFFICER)
    frozen_clock.advance(6 * DAY)
    async with scene.sessions() as session:
        later = await evidence.retention_evidence(session=session, actor=OFFICER)

    assert [h.id for h in today.holds] == [ending.id]
    assert later.holds == []


async def test_r_acc_6_the_privacy_officer_reads_the_evidence_over_graphql_audited(
    api: Api,
    scene: Scene,
    ring: KeyRing,
    blobs: LocalBlobStore,
    audit_log: AuditLog,
    frozen_clock: clock.FrozenClock,
) -> None:
    """R-ACC-6: the evidence comes from the recordings' tables, and reading it is audited
    like any read of personal data; the security auditor, who reads the log, gets none."""
    (recording_id,) = await recorded(scene, ring, blobs)
    frozen_clock.advance(31 * DAY)
    await sweep_all(sessions=scene.sessions, blobs=blobs, audit_log=audit_log)

    read = (await api.data(EVIDENCE))["retentionEvidence"]
    refused = await api.query(EVIDENCE, role=Role.SECURITY_AUDITOR)

    assert read["holdsInForce"] == []
    assert [(s["shredded"], s["keptByHolds"]) for s in read["sweeps"]] == [(1, 0)]
    assert [(t["recordingId"], t["reason"]) for t in read["tombstones"]] == [
        (recording_id, "EXPIRED")
    ]
    assert refused["data"] is None
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    (audited,) = await events(audit_log, action="retentionEvidence", outcome=Outcome.ALLOWED)
    # What was shown, by IDs only: the holds, the sweeps, the recordings erased.
    assert audited.detail is not None
    assert (audited.detail["holds"], audited.detail["sweeps"]) == ([], 1)
    assert audited.detail["recordings_erased"] == [recording_id]
