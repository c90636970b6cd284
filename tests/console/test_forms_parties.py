"""The console's party form: an entity added to the activity through ``add_party``, shown
on the activity's page; refusals on the form with nothing saved, audited as
``addActivityParty``, per role."""

from __future__ import annotations

import pytest

from registry.access.policy import Role
from registry.audit.models import Outcome
from registry.audit.service import AuditLog
from tests.access.test_policy_walk import handle_of
from tests.console.conftest import Browser, csrf_of
from tests.console.filled import logged, submit
from tests.console.test_pages import _error_at
from tests.history.past import Sessions
from tests.recordings.test_http import events

ACTIVITY = "call-recording-and-monitoring"
PAGE = f"/console/activities/{ACTIVITY}"
NEW = f"{PAGE}/parties/new"
# A processor recorded for the test, not yet a party to the activity.
PROCESSOR = "acme-hosting"
# The privacy officer keeps the record; no other role writes it.
WRITERS = {Role.PRIVACY_OFFICER}


async def _record_processor(browser: Browser) -> None:
    made = await submit(
        browser,
        "/console/entities/new",
        {
            "slug": PROCESSOR,
            "kind": "processor",
            "legal_name": "Acme Hosting SE",
            "country_code": "DE",
        },
    )
    assert made.status_code == 303, made.text


async def _links(seeded: Sessions, entity: str = PROCESSOR) -> int:
    return len(await logged(seeded, "activity_party", f"{ACTIVITY}>{entity}"))


async def test_r_inv_4_a_processor_added_shows_on_the_page_and_in_the_history(
    browser: Browser, seeded: Sessions
) -> None:
    """R-INV-4: a party added to the activity shows on its page and is in the history, who and
    what."""
    await browser.sign_in()
    await _record_processor(browser)

    added = await submit(browser, NEW, {"entity": PROCESSOR, "role": "processor"})

    assert added.status_code == 303, added.text
    assert added.headers["location"] == PAGE
    page = (await browser.client.get(PAGE)).text
    assert f'<a href="/console/entities/{PROCESSOR}">Acme Hosting SE</a>: processor' in page
    [change] = await logged(seeded, "activity_party", f"{ACTIVITY}>{PROCESSOR}")
    assert change.after == {"activity": ACTIVITY, "entity": PROCESSOR, "role": "processor"}
    assert change.actor == handle_of(Role.PRIVACY_OFFICER)


async def test_a_processor_cannot_be_a_joint_controller(browser: Browser, seeded: Sessions) -> None:
    await browser.sign_in()
    await _record_processor(browser)

    refused = await submit(browser, NEW, {"entity": PROCESSOR, "role": "joint_controller"})

    assert refused.status_code == 422
    assert _error_at(refused.text, "form") == (
        "INVALID_INPUT a processor cannot be the activity's joint_controller"
    )
    assert await _links(seeded) == 0


async def test_a_party_already_is_refused_and_nothing_is_saved(
    browser: Browser, seeded: Sessions
) -> None:
    await browser.sign_in()
    await _record_processor(browser)
    assert (
        await submit(browser, NEW, {"entity": PROCESSOR, "role": "processor"})
    ).status_code == 303

    refused = await submit(browser, NEW, {"entity": PROCESSOR, "role": "processor"})

    assert refused.status_code == 422
    assert _error_at(refused.text, "form") == (
        f"CONFLICT {PROCESSOR} is already a party to {ACTIVITY}"
    )
    assert await _links(seeded) == 1


async def test_an_entity_left_unchosen_is_refused(browser: Browser) -> None:
    await browser.sign_in()

    refused = await submit(browser, NEW, {"entity": "", "role": "processor"})

    assert refused.status_code == 422
    assert _error_at(refused.text, "form").startswith("NOT_FOUND ")


@pytest.mark.parametrize("role", [role for role in Role if role not in WRITERS])
async def test_a_role_that_may_not_write_the_inventory_gets_no_form_and_adds_nothing(
    browser: Browser, seeded: Sessions, role: Role
) -> None:
    await browser.sign_in(role)
    token = csrf_of(await browser.client.get("/console/"))

    page = await browser.client.get(PAGE)
    form = await browser.client.get(NEW)
    forged = await browser.client.post(
        NEW, data={"csrf_token": token, "entity": "talkdesk", "role": "processor"}
    )

    assert "/parties/new" not in page.text
    for refused in (form, forged):
        assert refused.status_code == 403
        assert '<form method="post" action="/console/activities' not in refused.text


async def test_a_post_without_its_csrf_token_is_refused(browser: Browser) -> None:
    await browser.sign_in()

    forged = await browser.client.post(NEW, data={"entity": "talkdesk", "role": "processor"})

    assert forged.status_code == 403


async def test_r_acc_6_each_attempt_is_audited_as_its_mutation_is(
    browser: Browser, audit_log: AuditLog
) -> None:
    """R-ACC-6: each attempt to add a party is in the audit log under its mutation's name, a
    refused one as failed."""
    await browser.sign_in()
    await _record_processor(browser)
    assert (
        'href="/console/activities/' + ACTIVITY + '/parties/new"'
        in (await browser.client.get(PAGE)).text
    )

    await submit(browser, NEW, {"entity": PROCESSOR, "role": "joint_controller"})
    await submit(browser, NEW, {"entity": PROCESSOR, "role": "processor"})

    attempts = await events(audit_log, action="addActivityParty")
    assert [(e.outcome, e.target) for e in attempts] == [
        (Outcome.FAILED, f"slug={ACTIVITY}"),
        (Outcome.ALLOWED, f"slug={ACTIVITY}"),
    ]
    assert {e.principal for e in attempts} == {handle_of(Role.PRIVACY_OFFICER)}
