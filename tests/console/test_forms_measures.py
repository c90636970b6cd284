"""The console's security-measures form: the activity's measures set through
``set_security_measures``, refusals on the form with nothing saved, audited as
``setSecurityMeasures``, per role."""

from __future__ import annotations

import pytest

from registry.access.policy import Role
from registry.audit.models import Outcome
from registry.audit.service import AuditLog
from registry.record.activities import service as activities
from registry.record.inventory.models import Activity
from tests.console.conftest import Browser, csrf_of
from tests.console.filled import history_section, logged, submit
from tests.console.test_pages import _error_at
from tests.history.past import Sessions
from tests.recordings.test_http import events

SLUG = "call-recording-and-monitoring"
PAGE = f"/console/activities/{SLUG}"
FORM = f"{PAGE}/security-measures"
WRITERS = {Role.PRIVACY_OFFICER}


async def _activity(seeded: Sessions) -> Activity:
    async with seeded() as session:
        return await activities.activity_by_slug(session, SLUG)


async def _changes(seeded: Sessions) -> int:
    return len(await logged(seeded, "activity", SLUG))


async def test_the_form_as_shown_changes_nothing(browser: Browser, seeded: Sessions) -> None:
    await browser.sign_in()
    before, measures = await _changes(seeded), (await _activity(seeded)).security_measures

    saved = await submit(browser, FORM, {})

    assert saved.status_code == 303, saved.text
    assert (await _activity(seeded)).security_measures == measures
    assert await _changes(seeded) == before


async def test_a_measure_added_in_the_empty_group_shows_on_the_page_and_in_the_history(
    browser: Browser, seeded: Sessions
) -> None:
    await browser.sign_in()
    new = len((await _activity(seeded)).security_measures) + 1

    saved = await submit(
        browser,
        FORM,
        {
            f"m{new}_key": "pseudonymised-exports",
            f"m{new}_description": "Exports carry no names",
            f"m{new}_software": "on",
            "reason": "Export review",
        },
    )

    assert saved.status_code == 303, saved.text
    page = (await browser.client.get(PAGE)).text
    assert "pseudonymised-exports: Exports carry no names (enforced by the software)" in page
    assert "Export review" in history_section(page)
    measures = (await _activity(seeded)).security_measures
    assert measures[-1] == {
        "key": "pseudonymised-exports",
        "description": "Exports carry no names",
        "enforced_by_software": True,
    }


async def test_a_measure_given_twice_is_refused_and_nothing_is_saved(
    browser: Browser, seeded: Sessions
) -> None:
    await browser.sign_in()
    activity = await _activity(seeded)
    new, first = len(activity.security_measures) + 1, activity.security_measures[0]["key"]
    before = await _changes(seeded)

    refused = await submit(browser, FORM, {f"m{new}_key": first, f"m{new}_description": "Again"})

    assert refused.status_code == 422
    assert _error_at(refused.text, "form") == (
        f"INVALID_INPUT security measure {first!r} is given twice"
    )
    assert (await _activity(seeded)).security_measures == activity.security_measures
    assert await _changes(seeded) == before


@pytest.mark.parametrize("role", [role for role in Role if role not in WRITERS])
async def test_a_role_that_may_not_write_the_inventory_gets_no_form(
    browser: Browser, seeded: Sessions, role: Role
) -> None:
    await browser.sign_in(role)
    token = csrf_of(await browser.client.get("/console/"))
    measures = (await _activity(seeded)).security_measures

    page = await browser.client.get(PAGE)
    form = await browser.client.get(FORM)
    forged = await browser.client.post(FORM, data={"csrf_token": token, "m1_key": "forged"})

    assert "/security-measures" not in page.text
    for refused in (form, forged):
        assert refused.status_code == 403
        assert '<form method="post" action="/console/activities' not in refused.text
    assert (await _activity(seeded)).security_measures == measures


async def test_r_acc_6_each_attempt_is_audited_as_its_mutation_is(
    browser: Browser, audit_log: AuditLog
) -> None:
    """R-ACC-6: each attempt to set the security measures is in the audit log under its
    mutation's name, a refused one as failed."""
    await browser.sign_in()

    await submit(browser, FORM, {"m1_key": "Not A Key"})
    await submit(browser, FORM, {"reason": "reviewed"})

    attempts = await events(audit_log, action="setSecurityMeasures")
    assert [(e.outcome, e.target) for e in attempts] == [
        (Outcome.FAILED, f"slug={SLUG}"),
        (Outcome.ALLOWED, f"slug={SLUG}"),
    ]
