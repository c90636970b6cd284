"""The rights queue in the console: nearest deadline first, audited, for the privacy team only."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry import clock
from registry.access.policy import Role
from registry.audit.models import Outcome
from registry.audit.service import AuditLog
from registry.crypto import KeyRing
from registry.db import transaction
from registry.rights import service
from registry.rights.models import RequestKind
from tests.access.test_policy_walk import handle_of
from tests.conftest import NOW, OFFICER
from tests.console.conftest import Browser
from tests.recordings.test_http import events


async def _received(
    sessions: async_sessionmaker[AsyncSession],
    ring: KeyRing,
    frozen: clock.FrozenClock,
    days_ago: int,
    kind: RequestKind,
) -> int:
    frozen.current = NOW - timedelta(days=days_ago)
    async with transaction(sessions) as session:
        request = await service.receive(
            session=session,
            actor=OFFICER,
            ring=ring,
            received=service.Received(kind=kind, controller="mood-media-austria", email="a@b.test"),
        )
    frozen.current = NOW
    return request.id


async def test_r_acc_6_the_queue_shows_overdue_then_due_soon_and_is_audited(
    browser: Browser,
    seeded: async_sessionmaker[AsyncSession],
    ring: KeyRing,
    frozen_clock: clock.FrozenClock,
    audit_log: AuditLog,
) -> None:
    """R-ACC-6: reading the queue is audited as GraphQL's rightsRequests is."""
    later = await _received(seeded, ring, frozen_clock, 1, RequestKind.ACCESS)
    overdue = await _received(seeded, ring, frozen_clock, 40, RequestKind.ERASURE)
    soon = await _received(seeded, ring, frozen_clock, 26, RequestKind.OBJECTION)
    await browser.sign_in()

    page = (await browser.client.get("/console/rights")).text

    shown = [int(found) for found in re.findall(r'href="/console/rights/(\d+)"', page)]
    assert shown == [overdue, soon, later]
    rows = page.split("<tbody>")[1].split("</tr>")
    assert "overdue" in rows[0] and "due soon" in rows[1] and "due soon" not in rows[2]
    (event,) = await events(audit_log, action="rightsRequests")
    assert (event.principal, event.outcome) == (handle_of(Role.PRIVACY_OFFICER), Outcome.ALLOWED)
    request = await browser.client.get(f"/console/rights/{overdue}")
    assert request.status_code == 200 and "received" in request.text
    (read,) = await events(audit_log, action="rightsRequest")
    assert read.target == f"rights_request:{overdue}"


async def test_a_manager_sees_neither_the_queue_nor_its_link(
    browser: Browser,
    seeded: async_sessionmaker[AsyncSession],
    ring: KeyRing,
    frozen_clock: clock.FrozenClock,
) -> None:
    request_id = await _received(seeded, ring, frozen_clock, 3, RequestKind.ACCESS)
    await browser.sign_in(Role.MANAGER)

    home = await browser.client.get("/console/")
    listed = await browser.client.get("/console/rights")
    one = await browser.client.get(f"/console/rights/{request_id}")

    assert "/console/rights" not in home.text
    assert listed.status_code == one.status_code == 403
    assert "access" not in one.text.split('<main id="main">')[1]
