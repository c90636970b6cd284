"""The console's activity forms beside its edit: a new activity through ``create_activity``,
its categories of recipients through ``set_recipient_categories`` and its retirement through
``retire_activity``; refusals at their field with nothing saved, audited as their mutation,
per role."""

from __future__ import annotations

import pytest

from registry.access.policy import Role
from registry.audit.models import Outcome
from registry.audit.service import AuditLog
from registry.errors import NotFound
from registry.record.activities import service as activities
from registry.record.inventory.models import Activity
from tests.access.test_policy_walk import handle_of
from tests.console.conftest import Browser, csrf_of
from tests.console.filled import Fields, history_section, logged, submit
from tests.console.test_pages import _error_at
from tests.history.past import Sessions
from tests.recordings.test_http import events

NEW = "/console/activities/new"
SLUG = "supplier-due-diligence"
PAGE = f"/console/activities/{SLUG}"
SEEDED = "call-recording-and-monitoring"
# The privacy officer keeps the record; no other role writes it.
WRITERS = {Role.PRIVACY_OFFICER}


async def _activity(seeded: Sessions, slug: str = SLUG) -> Activity:
    async with seeded() as session:
        return await activities.activity_by_slug(session, slug)


def _new() -> Fields:
    return {
        "slug": SLUG,
        "name": "Supplier due diligence",
        "description": "Checks of the suppliers the group engages.",
        "source": "The suppliers themselves.",
        "automated_decisions": "None.",
        "arrangement_summary": "The group companies decide together.",
        "transfer_summary": "None outside the EEA.",
        "operations": "collection\nstorage",
        "recipient_categories": "Auditors\nGroup companies",
    }


async def _recorded(browser: Browser) -> None:
    made = await submit(browser, NEW, _new())
    assert made.status_code == 303, made.text


async def test_r_inv_4_a_new_activity_is_recorded_and_its_page_shows_its_creation(
    browser: Browser, seeded: Sessions
) -> None:
    """R-INV-4: an activity recorded through the console is kept in the history, who and when,
    and its page shows its creation."""
    await browser.sign_in()
    assert (
        'href="/console/activities/new"' in (await browser.client.get("/console/activities")).text
    )

    made = await submit(browser, NEW, _new())

    assert made.status_code == 303, made.text
    assert made.headers["location"] == PAGE
    page = (await browser.client.get(PAGE)).text
    assert "Supplier due diligence" in page and "Auditors; Group companies" in page
    changes = history_section(page)
    assert "activity created" in changes and handle_of(Role.PRIVACY_OFFICER) in changes
    activity = await _activity(seeded)
    assert activity.operations == ["collection", "storage"]
    assert activity.recipient_categories == ["Auditors", "Group companies"]


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("slug", SEEDED, f"CONFLICT an activity '{SEEDED}' exists already"),
        ("slug", "Supplier Checks", "INVALID_INPUT "),
        ("name", "", "INVALID_INPUT "),
    ],
)
async def test_a_new_activity_the_service_refuses_is_refused_at_its_field(
    browser: Browser, seeded: Sessions, field: str, value: str, said: str
) -> None:
    await browser.sign_in()

    refused = await submit(browser, NEW, {**_new(), field: value})

    assert refused.status_code == 422
    assert _error_at(refused.text, field).startswith(said)
    assert f'aria-describedby="{field}-error"' in refused.text
    if field != "slug":
        with pytest.raises(NotFound):
            await _activity(seeded)
    assert (await _activity(seeded, SEEDED)).name != "Supplier due diligence"


async def test_the_categories_of_recipients_are_set_and_kept_in_the_history(
    browser: Browser, seeded: Sessions
) -> None:
    await browser.sign_in()
    await _recorded(browser)

    saved = await submit(
        browser,
        f"{PAGE}/recipients",
        {"recipient_categories": "Auditors\nCourts", "reason": "Courts added"},
    )

    assert saved.status_code == 303, saved.text
    assert saved.headers["location"] == PAGE
    page = (await browser.client.get(PAGE)).text
    assert "Auditors; Courts" in page
    assert "Courts added" in history_section(page)
    assert (await _activity(seeded)).recipient_categories == ["Auditors", "Courts"]


async def test_r_inv_4_a_retired_activity_keeps_its_page_and_history(
    browser: Browser, seeded: Sessions
) -> None:
    """R-INV-4: retiring an activity keeps its page and its history, the retirement added to it."""
    await browser.sign_in()
    await _recorded(browser)
    assert f'action="{PAGE}/retire"' in (await browser.client.get(PAGE)).text

    retired = await submit(browser, f"{PAGE}/retire", {"reason": "No longer done"})

    assert retired.status_code == 303, retired.text
    page = (await browser.client.get(PAGE)).text
    assert "No longer done" in page and "Retired on" in page
    changes = history_section(page)
    assert "activity retired" in changes and "activity created" in changes
    assert f"{PAGE}/retire" not in page and f"{PAGE}/recipients" not in page
    assert (await _activity(seeded)).retirement_reason == "No longer done"


async def test_retiring_without_a_reason_is_refused_at_the_reason(
    browser: Browser, seeded: Sessions
) -> None:
    await browser.sign_in()
    before = len(await logged(seeded, "activity", SEEDED))

    refused = await submit(browser, f"/console/activities/{SEEDED}/retire", {"reason": ""})

    assert refused.status_code == 422
    assert _error_at(refused.text, "reason").startswith("INVALID_INPUT ")
    assert (await _activity(seeded, SEEDED)).retired_on is None
    assert len(await logged(seeded, "activity", SEEDED)) == before


@pytest.mark.parametrize("role", [role for role in Role if role not in WRITERS])
async def test_a_role_that_may_not_write_the_inventory_gets_no_form_and_changes_nothing(
    browser: Browser, seeded: Sessions, role: Role
) -> None:
    await browser.sign_in(role)
    token = csrf_of(await browser.client.get("/console/"))
    page = f"/console/activities/{SEEDED}"

    read = [await browser.client.get(path) for path in ("/console/activities", page)]
    shown = [await browser.client.get(p) for p in (NEW, f"{page}/retire", f"{page}/recipients")]
    forged = [
        await browser.client.post(NEW, data={"csrf_token": token, **_new()}),
        await browser.client.post(f"{page}/retire", data={"csrf_token": token, "reason": "x"}),
        await browser.client.post(
            f"{page}/recipients", data={"csrf_token": token, "recipient_categories": "x"}
        ),
    ]

    for answer in read:
        assert "/activities/new" not in answer.text and "/retire" not in answer.text
        assert "/recipients" not in answer.text
    for refused in (*shown, *forged):
        assert refused.status_code == 403
        assert '<form method="post" action="/console/activities' not in refused.text
    with pytest.raises(NotFound):
        await _activity(seeded)
    assert (await _activity(seeded, SEEDED)).retired_on is None


async def test_a_post_without_its_csrf_token_is_refused(browser: Browser, seeded: Sessions) -> None:
    await browser.sign_in()

    forged = await browser.client.post(NEW, data=_new())

    assert forged.status_code == 403
    with pytest.raises(NotFound):
        await _activity(seeded)


async def test_r_acc_6_each_attempt_is_audited_as_its_mutation_is(
    browser: Browser, audit_log: AuditLog
) -> None:
    """R-ACC-6: each attempt through the activity forms is in the audit log under its mutation's
    name, a refused one as failed."""
    await browser.sign_in()

    await submit(browser, NEW, {**_new(), "slug": SEEDED})
    await _recorded(browser)
    await submit(browser, f"{PAGE}/recipients", {"recipient_categories": "Auditors"})
    await submit(browser, f"{PAGE}/retire", {"reason": "No longer done"})

    created = await events(audit_log, action="createActivity")
    assert [e.outcome for e in created] == [Outcome.FAILED, Outcome.ALLOWED]
    recipients = await events(audit_log, action="setRecipientCategories")
    retired = await events(audit_log, action="retireActivity")
    assert [(e.outcome, e.target) for e in [*recipients, *retired]] == [
        (Outcome.ALLOWED, f"slug={SLUG}"),
        (Outcome.ALLOWED, f"slug={SLUG}"),
    ]
