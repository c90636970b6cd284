"""The console's pages: the record through the same services as GraphQL, per role."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlmodel import col

from registry import clock
from registry.access.policy import Role
from registry.audit.models import Outcome
from registry.audit.service import AuditLog
from registry.db import transaction
from registry.record.history.models import Change, ChangeEvent
from tests.access.test_policy_walk import handle_of
from tests.console.conftest import Browser, csrf_of
from tests.history.past import Sessions, day_after_seeding
from tests.recordings.test_http import events

PAGES = ("/", "/entities", "/activities", "/transfers", "/gaps", "/who-processes", "/exports")


def _error_at(page: str, field: str) -> str:
    found = re.search(rf'<span class="error" id="{field}-error" role="alert">(.*?)</span>', page)
    assert found, page
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(1)))


@pytest.mark.parametrize("role", [Role.PRIVACY_OFFICER, Role.SECURITY_AUDITOR])
async def test_every_record_page_answers_each_role_that_reads_the_record(
    browser: Browser, role: Role
) -> None:
    await browser.sign_in(role)

    for path in PAGES:
        response = await browser.client.get(f"/console{path}")
        assert response.status_code == 200, (path, response.text)
        assert "<h1>" in response.text


async def test_the_entities_are_filtered_by_role_country_name_and_gap(browser: Browser) -> None:
    await browser.sign_in()

    processors = await browser.client.get("/console/entities?kind=processor")
    in_us = await browser.client.get("/console/entities?country=us")
    named = await browser.client.get("/console/entities?q=talk")
    with_gaps = await browser.client.get("/console/entities?gap=yes")
    everyone = await browser.client.get("/console/entities")

    assert "Talkdesk Inc." in processors.text and "Mood Media GmbH" not in processors.text
    assert "Talkdesk Inc." in in_us.text and "Mood Media GmbH" not in in_us.text
    assert "Talkdesk Inc." in named.text and "Mood Media GmbH" not in named.text
    # Mood Media France has its office on record and a name the notice gives whole: no gap.
    assert "Talkdesk Inc." in with_gaps.text and "Mood Media SAS" not in with_gaps.text
    assert "Talkdesk Inc." in everyone.text and "Mood Media GmbH" in everyone.text


async def test_r_inv_5_the_gaps_page_names_what_an_entity_lacks(browser: Browser) -> None:
    """R-INV-5: Talkdesk's record has no office and no contact; the page says so."""
    await browser.sign_in()

    gaps = await browser.client.get("/console/gaps")

    row = re.search(r"<tr><td><a href=\"/console/entities/talkdesk\">.*?</tr>", gaps.text)
    assert row and "no registered office" in row.group(0) and "no contact" in row.group(0)


async def test_r_inv_4_an_accepted_edit_shows_in_the_entity_history(browser: Browser) -> None:
    """R-INV-4: the change is kept with who made it, before and after, and the reason."""
    await browser.sign_in()

    saved = await browser.post(
        "/console/entities/talkdesk/edit",
        {
            "legal_name": "Talkdesk, Inc.",
            "country_code": "US",
            "verified": "on",
            "reason": "name as registered",
        },
    )

    assert saved.status_code == 303 and saved.headers["location"] == "/console/entities/talkdesk"
    page = (await browser.client.get("/console/entities/talkdesk")).text
    assert "<h1>Talkdesk, Inc.</h1>" in page
    history = page.split("<h2>History</h2>")[1]
    assert handle_of(Role.PRIVACY_OFFICER) in history
    assert "legal_name: Talkdesk Inc. → Talkdesk, Inc." in history
    assert "name as registered" in history


async def test_a_refused_edit_shows_the_error_at_its_field_and_saves_nothing(
    browser: Browser,
) -> None:
    await browser.sign_in()

    refused = await browser.post(
        "/console/entities/talkdesk/edit",
        {"legal_name": "Talkdesk, Inc.", "country_code": "ZZ", "verified": "on"},
    )

    assert refused.status_code == 422
    assert _error_at(refused.text, "country_code") == "INVALID_INPUT unknown country 'ZZ'"
    assert 'aria-describedby="country_code-error"' in refused.text
    page = (await browser.client.get("/console/entities/talkdesk")).text
    assert "<h1>Talkdesk Inc.</h1>" in page
    assert "entity updated" not in page.split("<h2>History</h2>")[1]


async def test_the_record_as_of_a_day_shows_the_name_it_had_then(
    browser: Browser, frozen_clock: clock.FrozenClock, seeded: Sessions
) -> None:
    before = await day_after_seeding(seeded, frozen_clock)
    frozen_clock.advance(timedelta(days=1))
    await browser.sign_in()
    await browser.post(
        "/console/entities/talkdesk/edit",
        {"legal_name": "Talkdesk, Inc.", "country_code": "US", "verified": "on"},
    )

    then = await browser.client.get(f"/console/entities?asOf={before}&q=talk")
    now = await browser.client.get("/console/entities?q=talk")
    future = await browser.client.get(f"/console/entities?asOf={clock.today() + timedelta(1)}")

    assert "Talkdesk Inc." in then.text and "Talkdesk, Inc." not in then.text
    assert "Talkdesk, Inc." in now.text
    assert future.status_code == 400 and "the record knows no future" in future.text


async def test_a_role_that_may_not_edit_gets_a_refusal_without_data(
    browser: Browser, audit_log: AuditLog
) -> None:
    await browser.sign_in(Role.QA_SPECIALIST)

    page = await browser.client.get("/console/entities/talkdesk")
    form = await browser.client.get("/console/entities/talkdesk/edit")

    assert page.status_code == 200
    assert "/edit" not in page.text and "<h2>History</h2>" not in page.text
    assert form.status_code == 403
    assert "Talkdesk" not in form.text and '<input type="text"' not in form.text
    (denied,) = await events(audit_log, outcome=Outcome.DENIED)
    assert denied.principal == handle_of(Role.QA_SPECIALIST)


async def test_r_acc_6_an_export_downloaded_from_the_console_is_audited(
    browser: Browser, audit_log: AuditLog
) -> None:
    """R-ACC-6: who took the record of processing, as of which day, is in the audit log."""
    await browser.sign_in()

    download = await browser.client.get("/console/exports/ropa.json")

    assert download.status_code == 200
    assert download.headers["content-disposition"].startswith('attachment; filename="ropa-')
    (event,) = await events(audit_log, action="export.ropa")
    assert (event.principal, event.target) == (handle_of(Role.PRIVACY_OFFICER), "ropa.json")


async def test_r_inv_4_a_console_edit_names_the_request_that_made_it(
    browser: Browser, seeded: Sessions, audit_log: AuditLog
) -> None:
    """R-INV-4: a change made from the console names its request, as GraphQL's do; the
    request's ID is the caller's when well formed, sent back, and in the audit entries."""
    await browser.sign_in()
    form = await browser.client.get("/console/entities/talkdesk/edit")

    saved = await browser.client.post(
        "/console/entities/talkdesk/edit",
        data={"csrf_token": csrf_of(form), "legal_name": "Talkdesk, Inc.", "country_code": "US"},
        headers={"X-Request-ID": "console-edit-0001"},
    )
    viewed = await browser.client.get("/console/retention")
    badly_named = await browser.client.get("/console/entities", headers={"X-Request-ID": "a b"})

    assert saved.status_code == 303 and saved.headers["x-request-id"] == "console-edit-0001"
    async with transaction(seeded) as session:
        (change,) = (
            await session.scalars(
                select(Change).where(
                    col(Change.subject_slug) == "talkdesk",
                    col(Change.event) == ChangeEvent.ENTITY_UPDATED,
                )
            )
        ).all()
    assert change.request_id == "console-edit-0001"
    assert re.fullmatch(r"[0-9a-f]{32}", viewed.headers["x-request-id"])
    assert badly_named.headers["x-request-id"] != "a b"
    read = await events(audit_log, action="retentionEvidence")
    assert viewed.headers["x-request-id"] in {event.request_id for event in read}
