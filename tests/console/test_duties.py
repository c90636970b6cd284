"""The deletions owed in the console: management's duty (R-CON-2), audited when read."""

from __future__ import annotations

from registry.access.policy import Role
from registry.audit.models import Outcome
from registry.audit.service import AuditLog
from registry.db import transaction
from registry.recordings import calls
from registry.recordings.models import Direction
from tests.access.test_policy_walk import handle_of
from tests.console.conftest import Browser
from tests.recordings.conftest import SYSTEM, Scene, scene
from tests.recordings.test_http import events

__all__ = ["scene"]


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
