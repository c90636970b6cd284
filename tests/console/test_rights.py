"""The rights queue in the console: nearest deadline first, audited, for the privacy team only;
a request's next actions, and an answered request's side steps (R-DSR-1)."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry import clock
from registry.access.policy import Role
from registry.audit.models import Outcome
from registry.audit.service import AuditLog
from registry.blobs import LocalBlobStore
from registry.crypto import KeyRing
from registry.db import transaction
from registry.rights import completion, service
from registry.rights.models import (
    Objection,
    RecipientNotice,
    RequestKind,
    RequestStatus,
    Restriction,
    RightsRequest,
)
from tests.access.test_policy_walk import handle_of
from tests.conftest import NOW, OFFICER
from tests.console.conftest import Browser, csrf_of
from tests.recordings.conftest import Scene, scene
from tests.recordings.test_http import events
from tests.rights.test_effects import answered

__all__ = ["scene"]


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


STEP_FORM = re.compile(r'action="/console/rights/\d+/steps/([a-z_]+)"')


async def _request_row(
    sessions: async_sessionmaker[AsyncSession], request_id: int
) -> RightsRequest:
    async with sessions() as session:
        return await session.get_one(RightsRequest, request_id)


async def test_r_dsr_3_a_received_request_offers_its_next_steps_and_takes_one(
    browser: Browser,
    seeded: async_sessionmaker[AsyncSession],
    ring: KeyRing,
    frozen_clock: clock.FrozenClock,
    audit_log: AuditLog,
) -> None:
    """R-DSR-3: a request just received asks for proof of identity, establishes it or is
    refused; it cannot be started or answered yet. The step taken is audited as GraphQL's."""
    request_id = await _received(seeded, ring, frozen_clock, 1, RequestKind.ACCESS)
    await browser.sign_in()

    page = await browser.client.get(f"/console/rights/{request_id}")
    offered = STEP_FORM.findall(page.text)
    asked = await browser.client.post(
        f"/console/rights/{request_id}/steps/ask_for_proof", data={"csrf_token": csrf_of(page)}
    )
    after = await browser.client.get(f"/console/rights/{request_id}")

    # Registration waits for established identity (R-DSR-3).
    assert offered == ["ask_for_proof", "establish_identity", "refuse"]
    assert asked.status_code == 303
    assert (await _request_row(seeded, request_id)).status is RequestStatus.IDENTITY_PENDING
    assert "identity proof requested" in after.text
    assert "ask_for_proof" not in STEP_FORM.findall(after.text)
    (taken,) = await events(audit_log, action="requestIdentityProof")
    assert (taken.principal, taken.outcome, taken.target) == (
        handle_of(Role.PRIVACY_OFFICER),
        Outcome.ALLOWED,
        f"rights_request:{request_id}",
    )


async def test_r_dsr_3_a_step_out_of_turn_is_refused_at_the_form_and_changes_nothing(
    browser: Browser,
    seeded: async_sessionmaker[AsyncSession],
    ring: KeyRing,
    frozen_clock: clock.FrozenClock,
    audit_log: AuditLog,
) -> None:
    """R-DSR-3: without established identity the request is not registered; a step the
    table does not allow, posted all the same, is refused by the service and changes nothing."""
    request_id = await _received(seeded, ring, frozen_clock, 1, RequestKind.ACCESS)
    await browser.sign_in()
    page = await browser.client.get(f"/console/rights/{request_id}")

    started = await browser.client.post(
        f"/console/rights/{request_id}/steps/start", data={"csrf_token": csrf_of(page)}
    )
    registered = await browser.client.post(
        f"/console/rights/{request_id}/steps/register", data={"csrf_token": csrf_of(page)}
    )
    blank = await browser.client.post(
        f"/console/rights/{request_id}/steps/establish_identity",
        data={"csrf_token": csrf_of(page), "evidence": "  "},
    )

    assert started.status_code == registered.status_code == blank.status_code == 422
    assert "cannot start a request that is received" in started.text
    assert "R-DSR-3" in registered.text
    assert 'id="step-error"' in blank.text
    row = await _request_row(seeded, request_id)
    assert (row.status, row.identity_established_at) == (RequestStatus.RECEIVED, None)
    refusals = await events(audit_log, action="registerRightsRequest")
    assert [(e.outcome, e.detail) for e in refusals] == [(Outcome.DENIED, {"error": "RULE_BROKEN"})]


async def test_a_manager_is_offered_no_step_and_may_take_none(
    browser: Browser,
    seeded: async_sessionmaker[AsyncSession],
    ring: KeyRing,
    frozen_clock: clock.FrozenClock,
) -> None:
    """Only the privacy team runs requests: a manager's post is refused (403) with nothing
    shown of the request, and nothing changes."""
    request_id = await _received(seeded, ring, frozen_clock, 1, RequestKind.ACCESS)
    await browser.sign_in(Role.MANAGER)
    home = await browser.client.get("/console/")

    posted = await browser.client.post(
        f"/console/rights/{request_id}/steps/extend",
        data={"csrf_token": csrf_of(home), "months": "x", "reason": "busy"},
    )

    assert posted.status_code == 403
    assert "steps" not in posted.text.split('<main id="main">')[1]
    assert (await _request_row(seeded, request_id)).status is RequestStatus.RECEIVED


async def test_a_step_posted_without_the_sessions_csrf_secret_is_refused(
    browser: Browser,
    seeded: async_sessionmaker[AsyncSession],
    ring: KeyRing,
    frozen_clock: clock.FrozenClock,
) -> None:
    request_id = await _received(seeded, ring, frozen_clock, 1, RequestKind.ACCESS)
    await browser.sign_in()

    posted = await browser.client.post(
        f"/console/rights/{request_id}/steps/ask_for_proof", data={"csrf_token": "forged"}
    )

    assert posted.status_code == 403
    assert (await _request_row(seeded, request_id)).status is RequestStatus.RECEIVED


# --- An answered request's side steps: grounds, a restriction lifted, recipients told ---------


async def _objection_of(sessions: async_sessionmaker[AsyncSession], request_id: int) -> Objection:
    async with sessions() as session:
        return (
            await session.scalars(select(Objection).where(Objection.request_id == request_id))
        ).one()


async def test_r_dsr_1_an_employees_objection_takes_compelling_grounds_stated_at_their_field(
    browser: Browser, scene: Scene, ring: KeyRing, blobs: LocalBlobStore, audit_log: AuditLog
) -> None:
    """R-DSR-1: an employee's objection stops evaluation until compelling grounds are
    recorded; the officer records them from the request's page, blank grounds refused at
    their field with nothing recorded, and the step is audited as GraphQL's."""
    request = await answered(scene, ring, blobs, RequestKind.OBJECTION, email="bo@example.test")
    objection = await _objection_of(scene.sessions, request.id)
    await browser.sign_in()
    path = f"/console/rights/{request.id}"

    page = await browser.client.get(path)
    blank = await browser.client.post(
        f"{path}/steps/record_grounds",
        data={"csrf_token": csrf_of(page), "objection": str(objection.id), "grounds": " "},
    )
    recorded = await browser.client.post(
        f"{path}/steps/record_grounds",
        data={
            "csrf_token": csrf_of(page),
            "objection": str(objection.id),
            "grounds": "evaluation is needed to defend a dismissal claim",
        },
    )
    after = await browser.client.get(path)

    assert STEP_FORM.findall(page.text) == ["record_grounds"]
    assert blank.status_code == 422
    assert f'id="grounds-{objection.id}-error"' in blank.text
    assert f'aria-describedby="grounds-{objection.id}-error"' in blank.text
    assert recorded.status_code == 303
    row = await _objection_of(scene.sessions, request.id)
    assert row.compelling_grounds == "evaluation is needed to defend a dismissal claim"
    assert row.grounds_recorded_by == handle_of(Role.PRIVACY_OFFICER)
    assert "defend a dismissal claim" in after.text and STEP_FORM.findall(after.text) == []
    taken = await events(audit_log, action="recordCompellingGrounds")
    assert [(event.outcome, event.target) for event in taken] == [
        (Outcome.FAILED, f"rights_request:{request.id}"),
        (Outcome.ALLOWED, f"rights_request:{request.id}"),
    ]


async def test_r_dsr_1_a_customers_objection_is_offered_no_grounds_and_refuses_them(
    browser: Browser, scene: Scene, ring: KeyRing, blobs: LocalBlobStore, audit_log: AuditLog
) -> None:
    """R-DSR-1: a customer's objection withdrew their consent, which no grounds outweigh:
    no form is offered, and grounds posted all the same are refused with the rule, shown at
    the objection, nothing recorded."""
    request = await answered(scene, ring, blobs, RequestKind.OBJECTION)
    objection = await _objection_of(scene.sessions, request.id)
    await browser.sign_in()
    path = f"/console/rights/{request.id}"
    page = await browser.client.get(path)

    posted = await browser.client.post(
        f"{path}/steps/record_grounds",
        data={"csrf_token": csrf_of(page), "objection": str(objection.id), "grounds": "needed"},
    )

    assert STEP_FORM.findall(page.text) == []
    assert "withdrew their consent" in page.text
    assert posted.status_code == 422
    error = posted.text.split(f'id="step-{objection.id}-error"')[1].split("</p>")[0]
    assert "R-DSR-1" in error
    assert (await _objection_of(scene.sessions, request.id)).compelling_grounds is None
    (refused,) = await events(audit_log, action="recordCompellingGrounds")
    assert (refused.outcome, refused.detail) == (Outcome.DENIED, {"error": "RULE_BROKEN"})


async def test_r_dsr_1_a_restriction_is_lifted_from_its_request_and_no_other(
    browser: Browser, scene: Scene, ring: KeyRing, blobs: LocalBlobStore
) -> None:
    """R-DSR-1: a restriction lasts a limited time; the officer may lift it sooner, from its
    own request's page: another request's restriction is not found there, nor lifted."""
    terms = completion.Terms(NOW.date() + timedelta(days=30), "accuracy contested")
    request = await answered(scene, ring, blobs, RequestKind.RESTRICTION, terms=terms)
    other = await answered(scene, ring, blobs, RequestKind.RESTRICTION, terms=terms)
    assert request.outcome is not None and other.outcome is not None
    await browser.sign_in()
    path = f"/console/rights/{request.id}"
    page = await browser.client.get(path)

    elsewhere = await browser.client.post(
        f"{path}/steps/lift_restriction",
        data={"csrf_token": csrf_of(page), "restriction": str(other.outcome["restriction"])},
    )
    lifted = await browser.client.post(
        f"{path}/steps/lift_restriction",
        data={"csrf_token": csrf_of(page), "restriction": str(request.outcome["restriction"])},
    )
    after = await browser.client.get(path)

    assert "lift_restriction" in STEP_FORM.findall(page.text)
    assert elsewhere.status_code == 404 and lifted.status_code == 303
    async with scene.sessions() as session:
        mine = await session.get_one(Restriction, request.outcome["restriction"])
        theirs = await session.get_one(Restriction, other.outcome["restriction"])
    assert mine.lifted_by == handle_of(Role.PRIVACY_OFFICER) and theirs.lifted_at is None
    assert "Lifted by" in after.text and "lift_restriction" not in STEP_FORM.findall(after.text)


async def test_r_dsr_1_an_erasures_recipients_acknowledge_once_each(
    browser: Browser, scene: Scene, ring: KeyRing, blobs: LocalBlobStore, audit_log: AuditLog
) -> None:
    """R-DSR-1 (erasure), Art. 19: every recipient is owed a notice until it acknowledges;
    each acknowledgement is taken once, a second refused at its row, a note too long at its
    field."""
    request = await answered(scene, ring, blobs, RequestKind.ERASURE)
    await browser.sign_in()
    path = f"/console/rights/{request.id}"
    page = await browser.client.get(path)
    notices = [int(found) for found in re.findall(r'name="notice" value="(\d+)"', page.text)]
    first = notices[0]

    too_long = await browser.client.post(
        f"{path}/steps/acknowledge_recipient",
        data={"csrf_token": csrf_of(page), "notice": str(first), "note": "x" * 5000},
    )
    taken = await browser.client.post(
        f"{path}/steps/acknowledge_recipient",
        data={"csrf_token": csrf_of(page), "notice": str(first), "note": "confirmed by e-mail"},
    )
    again = await browser.client.post(
        f"{path}/steps/acknowledge_recipient",
        data={"csrf_token": csrf_of(page), "notice": str(first)},
    )

    assert len(notices) == request.outcome["recipients_to_tell"]  # type: ignore[index]
    assert too_long.status_code == 422 and f'id="note-{first}-error"' in too_long.text
    assert taken.status_code == 303
    assert again.status_code == 422
    assert "acknowledged already" in again.text.split(f'id="step-{first}-error"')[1]
    async with scene.sessions() as session:
        notice = await session.get_one(RecipientNotice, first)
    assert (notice.acknowledged_by, notice.note) == (
        handle_of(Role.PRIVACY_OFFICER),
        "confirmed by e-mail",
    )
    after = await browser.client.get(path)
    assert f'name="notice" value="{first}"' not in after.text
    assert len(re.findall(r'name="notice" value="', after.text)) == len(notices) - 1
    outcomes = [event.outcome for event in await events(audit_log, action="acknowledgeRecipient")]
    assert outcomes == [Outcome.FAILED, Outcome.ALLOWED, Outcome.FAILED]


async def test_a_manager_is_offered_no_side_step_and_may_take_none(
    browser: Browser, scene: Scene, ring: KeyRing, blobs: LocalBlobStore
) -> None:
    """Only the privacy team takes a side step: a manager's post is refused (403)."""
    request = await answered(scene, ring, blobs, RequestKind.OBJECTION, email="bo@example.test")
    objection = await _objection_of(scene.sessions, request.id)
    await browser.sign_in(Role.MANAGER)
    home = await browser.client.get("/console/")

    posted = await browser.client.post(
        f"/console/rights/{request.id}/steps/record_grounds",
        data={"csrf_token": csrf_of(home), "objection": str(objection.id), "grounds": "needed"},
    )

    assert posted.status_code == 403
    assert (await _objection_of(scene.sessions, request.id)).compelling_grounds is None
