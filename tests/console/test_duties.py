"""The recordings' duties in the console: the deletions owed, management's (R-CON-2), and the
evidence of retention, the privacy team's (R-RET-1, R-RET-2); each audited when read."""

from __future__ import annotations

from datetime import timedelta

import pytest

from registry import clock
from registry.access.policy import Role
from registry.audit.models import Outcome
from registry.audit.service import AuditLog
from registry.blobs import LocalBlobStore
from registry.crypto import KeyRing
from registry.db import transaction
from registry.recordings import calls
from registry.recordings.models import Direction
from registry.upkeep.sweeping import sweep_all
from tests.access.test_policy_walk import handle_of
from tests.conftest import NOW
from tests.console.conftest import Browser
from tests.recordings.conftest import SYSTEM, Scene, scene
from tests.recordings.test_http import events
from tests.recordings.test_retention import hold, recorded

__all__ = ["scene"]

DAY = timedelta(days=1)


async def test_r_con_2_a_refused_outbound_call_shows_as_owed_to_the_manager(
    browser: Browser, scene: Scene, audit_log: AuditLog
) -> None:
    """R-CON-2: management sees the deletion it owes; reading it is audited (R-ACC-6)."""
    call_id = await scene.call(Direction.OUTBOUND)
    async with transaction(scene.sessions) as session:
        await calls.record_agent_answer(
            session=session, actor=SYSTEM, call_id=call_id, approved=False
        )
    await browser.sign_in(Role.MANAGER)

    home = await browser.client.get("/console/")
    owed = await browser.client.get("/console/deletions-owed")

    assert "/console/deletions-owed" in home.text
    assert owed.status_code == 200 and f"<td>{call_id}</td>" in owed.text
    (read,) = await events(audit_log, action="deletionsOwed")
    assert (read.principal, read.outcome, read.detail) == (
        handle_of(Role.MANAGER),
        Outcome.ALLOWED,
        {"calls": [call_id]},
    )


async def test_a_qa_specialist_sees_no_deletions_owed(browser: Browser, scene: Scene) -> None:
    call_id = await scene.call(Direction.OUTBOUND)
    async with transaction(scene.sessions) as session:
        await calls.record_agent_answer(
            session=session, actor=SYSTEM, call_id=call_id, approved=False
        )
    await browser.sign_in(Role.QA_SPECIALIST)

    home = await browser.client.get("/console/")
    refused = await browser.client.get("/console/deletions-owed")

    assert "/console/deletions-owed" not in home.text
    assert refused.status_code == 403 and call_id not in refused.text


async def test_r_ret_2_the_privacy_officer_sees_holds_ending_soon_sweeps_and_tombstones(
    browser: Browser,
    scene: Scene,
    ring: KeyRing,
    blobs: LocalBlobStore,
    audit_log: AuditLog,
    frozen_clock: clock.FrozenClock,
) -> None:
    """R-RET-2: the holds in force, the one ending soon marked; R-RET-1: the last sweep's
    counts and the tombstone it left; reading them is audited (R-ACC-6)."""
    held, erased = await recorded(scene, ring, blobs, count=2)
    placed = await hold(scene, held, (NOW + 40 * DAY).date())
    frozen_clock.advance(31 * DAY)
    await sweep_all(sessions=scene.sessions, blobs=blobs, audit_log=audit_log)
    await browser.sign_in()

    home = await browser.client.get("/console/")
    page = await browser.client.get("/console/retention")

    assert "/console/retention" in home.text
    assert page.status_code == 200
    holds, sweeps, tombstones = (page.text.split("<h2>")[n].split("</table>")[0] for n in (1, 2, 3))
    assert f"<td>{held}</td>" in holds and "ending soon" in holds
    # One shredded, one kept by the hold.
    assert "<td>1</td><td>1</td>" in sweeps
    assert f"<td>{erased}</td>" in tombstones and "expired" in tombstones
    (read,) = await events(audit_log, action="retentionEvidence")
    assert (read.principal, read.outcome) == (handle_of(Role.PRIVACY_OFFICER), Outcome.ALLOWED)
    assert read.detail is not None and read.detail["holds"] == [placed.id]


@pytest.mark.parametrize("role", [Role.MANAGER, Role.SECURITY_AUDITOR, Role.ADMIN])
async def test_other_roles_see_neither_the_evidence_nor_its_link(
    browser: Browser, scene: Scene, ring: KeyRing, blobs: LocalBlobStore, role: Role
) -> None:
    """Only the privacy team, who holds and erases, reads the evidence; the security auditor
    has the audit log, not the recordings' tables (R-ACC-6)."""
    (recording_id,) = await recorded(scene, ring, blobs)
    await hold(scene, recording_id, (NOW + 40 * DAY).date())
    await browser.sign_in(role)

    home = await browser.client.get("/console/")
    refused = await browser.client.get("/console/retention")

    assert "/console/retention" not in home.text
    assert refused.status_code == 403 and recording_id not in refused.text
