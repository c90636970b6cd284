"""The console's forms for an activity's data (retention, detaching) and the taxonomy
(adding data and subject categories): through the services GraphQL's mutations call,
refusals at their field with nothing saved, per role."""

from __future__ import annotations

from registry.access.policy import Role
from registry.record import answers
from registry.record.taxonomy import service as taxonomy
from tests.conftest import OFFICER
from tests.console.conftest import Browser, csrf_of
from tests.console.filled import history_section, submit
from tests.console.test_pages import _error_at
from tests.history.past import Sessions

SLUG = "call-recording-and-monitoring"
ACTIVITY = f"/console/activities/{SLUG}"
RETENTION = f"{ACTIVITY}/data/user.name/retention"
DETACH = f"{ACTIVITY}/data/user.location/detach"


async def _retention(seeded: Sessions, key: str) -> answers.Retention | None:
    async with seeded() as session:
        facts = await answers.load_activity_facts(session)
    (activity,) = [f for f in facts.values() if f.activity.slug == SLUG]
    found = [item for item in activity.retention if item.data_category.key == key]
    return found[0] if found else None


async def _data_keys(seeded: Sessions) -> set[str]:
    async with seeded() as session:
        rows = await taxonomy.list_data_categories(session=session, actor=OFFICER)
        return {row.key for row in rows}


# ------------------------------------------------------------------------ retention


async def test_r_inv_6_a_retention_stated_shows_in_its_history_and_ends_the_gap(
    browser: Browser, seeded: Sessions
) -> None:
    """R-INV-6: the source stated none for names; once given, it is stated, and logged."""
    await browser.sign_in()

    saved = await submit(
        browser,
        RETENTION,
        {
            "retention_criterion": "Kept with the recording",
            "retention_days": "30",
            "reason": "the team's decision",
        },
    )

    assert saved.status_code == 303 and saved.headers["location"] == ACTIVITY
    changes = history_section((await browser.client.get(RETENTION)).text)
    assert "retention changed" in changes and "the team&#39;s decision" in changes
    kept = await _retention(seeded, "user.name")
    assert kept is not None and kept.stated and kept.days == 30


async def test_r_inv_6_a_retention_without_a_criterion_is_refused_at_its_field(
    browser: Browser, seeded: Sessions
) -> None:
    await browser.sign_in()

    blank = await submit(browser, RETENTION, {"retention_criterion": " ", "retention_days": "30"})
    words = await submit(browser, RETENTION, {"retention_days": "thirty"})
    zero = await submit(browser, RETENTION, {"retention_days": "0"})

    assert blank.status_code == words.status_code == zero.status_code == 422
    assert _error_at(blank.text, "retention_criterion") == (
        "R-INV-6 every data category needs a retention period or criterion on record"
    )
    assert _error_at(words.text, "retention_days") == "INVALID_INPUT 'thirty' is not a whole number"
    assert _error_at(zero.text, "retention_days") == (
        "INVALID_INPUT retention_days must be positive"
    )
    # The refused form still shows the history of what it edits.
    assert "<h2>History</h2>" in blank.text
    kept = await _retention(seeded, "user.name")
    assert kept is not None and not kept.stated and kept.days is None


async def test_a_data_category_detached_leaves_the_activity(
    browser: Browser, seeded: Sessions
) -> None:
    await browser.sign_in()

    saved = await submit(browser, DETACH, {"reason": "no longer collected"})

    assert saved.status_code == 303
    assert await _retention(seeded, "user.location") is None
    assert "Detach user.location" not in (await browser.client.get(ACTIVITY)).text


# ------------------------------------------------------------------------ the taxonomy


async def test_r_inv_4_a_data_category_added_shows_in_the_taxonomy_history(
    browser: Browser, seeded: Sessions
) -> None:
    """R-INV-4: the write is kept as a typed change in the history the page shows."""
    await browser.sign_in()

    saved = await submit(
        browser,
        "/console/taxonomy/data-categories/new",
        {"parent_key": "user.contact", "key": "fax", "name": "Fax number"},
    )

    assert saved.status_code == 303 and saved.headers["location"] == "/console/taxonomy"
    page = (await browser.client.get("/console/taxonomy")).text
    assert "data category added" in page.split("History of the data categories")[1]
    assert "user.contact.fax" in await _data_keys(seeded)


async def test_r_inv_1_nothing_is_added_in_the_special_categories_branch(
    browser: Browser, seeded: Sessions
) -> None:
    """R-INV-1: the record holds no special category data; its branch takes no new key."""
    await browser.sign_in()

    refused = await submit(
        browser,
        "/console/taxonomy/data-categories/new",
        {"parent_key": "user.special", "key": "genetic_extra", "name": "More genetic data"},
    )

    assert refused.status_code == 422
    assert _error_at(refused.text, "parent_key").startswith("R-INV-1 user.special is in")
    assert "user.special.genetic_extra" not in await _data_keys(seeded)


async def test_a_subject_category_added_and_one_that_exists_refused(
    browser: Browser, seeded: Sessions
) -> None:
    await browser.sign_in()

    saved = await submit(
        browser,
        "/console/taxonomy/subject-categories/new",
        {"key": "customer.prospect", "name": "Prospective customers"},
    )
    taken = await submit(
        browser, "/console/taxonomy/subject-categories/new", {"key": "customer", "name": "X"}
    )

    assert saved.status_code == 303
    assert "customer.prospect" in (await browser.client.get("/console/taxonomy")).text
    assert taken.status_code == 422
    assert _error_at(taken.text, "key") == ("CONFLICT a subject category 'customer' exists already")


# ------------------------------------------------------------------------ rights


async def test_a_role_without_the_write_right_gets_no_form(
    browser: Browser, seeded: Sessions
) -> None:
    await browser.sign_in(Role.QA_SPECIALIST)

    activity = await browser.client.get(ACTIVITY)
    listed = await browser.client.get("/console/taxonomy")
    token = csrf_of(listed)
    refused = [
        await browser.client.get(RETENTION),
        await browser.client.get(DETACH),
        await browser.client.get("/console/taxonomy/data-categories/new"),
        await browser.client.post(DETACH, data={"csrf_token": token, "reason": "x"}),
        await browser.client.post(
            "/console/taxonomy/data-categories/new",
            data={"csrf_token": token, "parent_key": "user.contact", "key": "fax", "name": "F"},
        ),
    ]

    assert activity.status_code == listed.status_code == 200
    assert "/retention" not in activity.text and "/new" not in listed.text
    assert "History of the data categories" not in listed.text
    for response in refused:
        assert response.status_code == 403 and 'name="reason"' not in response.text
    assert await _retention(seeded, "user.location") is not None
    assert "user.contact.fax" not in await _data_keys(seeded)


async def test_a_post_without_its_csrf_token_is_refused(browser: Browser, seeded: Sessions) -> None:
    await browser.sign_in()

    forged = await browser.client.post(DETACH, data={"reason": "forged"})

    assert forged.status_code == 403
    assert await _retention(seeded, "user.location") is not None
