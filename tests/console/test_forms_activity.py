"""The console's activity form: its own facts through ``update_activity``, refusals at
their field with nothing saved, per role."""

from __future__ import annotations

from registry.access.policy import Role
from registry.record.activities import service as activities
from registry.record.inventory.models import Activity
from tests.console.conftest import Browser, csrf_of
from tests.console.filled import history_section, logged, submit
from tests.console.test_pages import _error_at
from tests.history.past import Sessions

SLUG = "call-recording-and-monitoring"
PAGE = f"/console/activities/{SLUG}"
EDIT = f"{PAGE}/edit"


async def _activity(seeded: Sessions) -> Activity:
    async with seeded() as session:
        return await activities.activity_by_slug(session, SLUG)


async def _changes(seeded: Sessions) -> int:
    return len(await logged(seeded, "activity", SLUG))


async def test_r_inv_4_an_accepted_activity_edit_shows_in_its_history(
    browser: Browser, seeded: Sessions
) -> None:
    """R-INV-4: the change is kept with who made it, what changed and why."""
    await browser.sign_in()

    saved = await submit(
        browser,
        EDIT,
        {
            "dpia_status": "in_progress",
            "dpia_reference": "DPIA-2026-01",
            "reason": "DPIA started",
        },
    )

    assert saved.status_code == 303 and saved.headers["location"] == PAGE
    changes = history_section((await browser.client.get(PAGE)).text)
    assert "dpia_reference: None → DPIA-2026-01" in changes and "DPIA started" in changes
    activity = await _activity(seeded)
    assert activity.dpia_status == "in_progress" and activity.dpia_reference == "DPIA-2026-01"


async def test_the_activity_form_as_shown_changes_nothing(
    browser: Browser, seeded: Sessions
) -> None:
    """Its long texts and its list of operations come back as they were: no change."""
    await browser.sign_in()
    before = await _changes(seeded)

    saved = await submit(browser, EDIT, {})

    assert saved.status_code == 303
    assert await _changes(seeded) == before


async def test_a_notice_date_that_is_no_month_is_refused_at_its_field(
    browser: Browser, seeded: Sessions
) -> None:
    await browser.sign_in()
    before = await _changes(seeded)

    refused = await submit(
        browser, EDIT, {"notice_last_updated": "2022-13", "platform": "Talkdesk"}
    )

    assert refused.status_code == 422
    assert _error_at(refused.text, "notice_last_updated") == (
        "INVALID_INPUT notice_last_updated is a month (2022-08) or a day (2022-08-31)"
    )
    assert 'aria-describedby="notice_last_updated-error"' in refused.text
    activity = await _activity(seeded)
    assert activity.notice_last_updated != "2022-13" and activity.platform != "Talkdesk"
    assert await _changes(seeded) == before


async def test_a_blank_name_is_refused_at_its_field(browser: Browser, seeded: Sessions) -> None:
    await browser.sign_in()
    name = (await _activity(seeded)).name

    refused = await submit(browser, EDIT, {"name": "  "})

    assert refused.status_code == 422
    assert _error_at(refused.text, "name").startswith("INVALID_INPUT name")
    assert (await _activity(seeded)).name == name


async def test_a_status_that_is_not_offered_is_refused_at_its_field(
    browser: Browser, seeded: Sessions
) -> None:
    await browser.sign_in()

    refused = await submit(browser, EDIT, {"dpia_status": "finished"})

    assert refused.status_code == 422
    assert _error_at(refused.text, "dpia_status") == (
        "INVALID_INPUT 'finished' is not one of the choices"
    )
    assert (await _activity(seeded)).dpia_status != "finished"


async def test_a_role_without_the_write_right_gets_no_form(
    browser: Browser, seeded: Sessions
) -> None:
    await browser.sign_in(Role.QA_SPECIALIST)
    name = (await _activity(seeded)).name

    page = await browser.client.get(PAGE)
    form = await browser.client.get(EDIT)
    forged = await browser.client.post(EDIT, data={"csrf_token": csrf_of(page), "name": "X"})

    assert page.status_code == 200 and name in page.text
    assert "/edit" not in page.text and "<h2>History</h2>" not in page.text
    for refused in (form, forged):
        assert refused.status_code == 403 and 'name="name"' not in refused.text
    assert (await _activity(seeded)).name == name


async def test_a_post_without_its_csrf_token_is_refused(browser: Browser, seeded: Sessions) -> None:
    await browser.sign_in()

    forged = await browser.client.post(EDIT, data={"name": "Forged"})

    assert forged.status_code == 403
    assert (await _activity(seeded)).name != "Forged"
