"""The console's forms for an activity's purposes and legal bases: through the services
GraphQL's mutations call, refusals at their field with nothing saved, per role."""

from __future__ import annotations

from registry.access.policy import Role
from registry.record.answers import PurposeWithBases
from registry.record.taxonomy import service as taxonomy
from tests.conftest import OFFICER
from tests.console.conftest import Browser, csrf_of
from tests.console.filled import history_section, submit
from tests.console.test_pages import _error_at
from tests.history.past import Sessions

SLUG = "call-recording-and-monitoring"
ACTIVITY = f"/console/activities/{SLUG}"
PURPOSE = f"{ACTIVITY}/purposes/quality-control"


async def _purposes(seeded: Sessions) -> dict[str, PurposeWithBases]:
    async with seeded() as session:
        found = await taxonomy.list_purposes(session=session, actor=OFFICER, activity_slug=SLUG)
    return {item.purpose.key: item for item in found}


async def _bases(seeded: Sessions) -> list[tuple[str, str, str | None]]:
    found = (await _purposes(seeded))["quality-control"].bases
    return [(b.subject_category.key, b.legal_basis.value, b.note) for b in found]


async def test_r_inv_4_a_purpose_renamed_shows_in_its_history(
    browser: Browser, seeded: Sessions
) -> None:
    """R-INV-4: the write is kept as a typed change in the history the page shows."""
    await browser.sign_in()

    saved = await submit(
        browser, PURPOSE, {"name": "Quality control of calls", "reason": "shorter"}
    )

    assert saved.status_code == 303 and saved.headers["location"] == PURPOSE
    changes = history_section((await browser.client.get(PURPOSE)).text)
    assert "name: Quality control of customer service → Quality control of calls" in changes
    assert (await _purposes(seeded))["quality-control"].purpose.name == "Quality control of calls"


async def test_a_purpose_without_a_name_is_refused_at_its_field(
    browser: Browser, seeded: Sessions
) -> None:
    await browser.sign_in()

    refused = await submit(browser, PURPOSE, {"name": ""})

    assert refused.status_code == 422
    assert _error_at(refused.text, "name") == "INVALID_INPUT name may not be blank"
    name = (await _purposes(seeded))["quality-control"].purpose.name
    assert name == "Quality control of customer service"


async def test_a_purpose_added_then_removed(browser: Browser, seeded: Sessions) -> None:
    await browser.sign_in()

    bad_key = await submit(
        browser, f"{ACTIVITY}/purposes/new", {"key": "Fraud Prevention", "name": "Fraud"}
    )
    added = await submit(
        browser, f"{ACTIVITY}/purposes/new", {"key": "fraud-prevention", "name": "Fraud"}
    )
    page = (await browser.client.get(f"{ACTIVITY}/purposes/fraud-prevention")).text
    removed = await submit(
        browser, f"{ACTIVITY}/purposes/fraud-prevention/remove", {"reason": "not pursued"}
    )

    assert bad_key.status_code == 422
    assert _error_at(bad_key.text, "key") == (
        "INVALID_INPUT key must be lower-case words joined by hyphens"
    )
    assert added.status_code == 303
    assert "purpose added" in history_section(page)
    assert removed.status_code == 303 and removed.headers["location"] == ACTIVITY
    assert "fraud-prevention" not in await _purposes(seeded)


async def test_r_inv_4_a_legal_basis_set_shows_in_the_purpose_history(
    browser: Browser, seeded: Sessions
) -> None:
    """R-INV-4: the write is kept as a typed change in the history the page shows."""
    await browser.sign_in()

    saved = await submit(
        browser,
        f"{PURPOSE}/basis",
        {
            "subject_category": "customer",
            "legal_basis": "art6_1_f",
            "note": "Legitimate interest in the quality of service",
            "reason": "consent withdrawn too often",
        },
    )

    assert saved.status_code == 303 and saved.headers["location"] == PURPOSE
    changes = history_section((await browser.client.get(PURPOSE)).text)
    assert "legal basis set" in changes and "legal_basis: art6_1_a → art6_1_f" in changes
    assert ("customer", "art6_1_f", "Legitimate interest in the quality of service") in (
        await _bases(seeded)
    )


async def test_a_basis_for_no_subject_of_the_activity_or_without_a_basis_is_refused(
    browser: Browser, seeded: Sessions
) -> None:
    await browser.sign_in()
    before = await _bases(seeded)

    stranger = await submit(
        browser, f"{PURPOSE}/basis", {"subject_category": "supplier", "legal_basis": "art6_1_b"}
    )
    no_basis = await submit(browser, f"{PURPOSE}/basis", {"legal_basis": ""})

    assert stranger.status_code == no_basis.status_code == 422
    assert _error_at(stranger.text, "subject_category") == (
        "INVALID_INPUT 'supplier' is not one of the choices"
    )
    assert _error_at(no_basis.text, "legal_basis") == "INVALID_INPUT choose one"
    assert await _bases(seeded) == before


async def test_a_role_without_the_write_right_gets_no_form(
    browser: Browser, seeded: Sessions
) -> None:
    await browser.sign_in(Role.QA_SPECIALIST)

    activity = await browser.client.get(ACTIVITY)
    token = csrf_of(activity)
    refused = [
        await browser.client.get(PURPOSE),
        await browser.client.get(f"{ACTIVITY}/purposes/new"),
        await browser.client.post(PURPOSE, data={"csrf_token": token, "name": "Forged"}),
        await browser.client.post(f"{PURPOSE}/remove", data={"csrf_token": token}),
    ]

    assert activity.status_code == 200 and "/purposes/" not in activity.text
    for response in refused:
        assert response.status_code == 403 and 'name="name"' not in response.text
    assert "quality-control" in await _purposes(seeded)


async def test_a_post_without_its_csrf_token_is_refused(browser: Browser, seeded: Sessions) -> None:
    await browser.sign_in()

    forged = await browser.client.post(PURPOSE, data={"name": "Forged"})

    assert forged.status_code == 403
    assert (await _purposes(seeded))["quality-control"].purpose.name != "Forged"


async def test_a_legal_basis_removed_leaves_the_purpose(browser: Browser, seeded: Sessions) -> None:
    await browser.sign_in()

    offered_none = await submit(
        browser, f"{PURPOSE}/basis/remove", {"subject_category": "supplier", "reason": "x"}
    )
    removed = await submit(
        browser, f"{PURPOSE}/basis/remove", {"subject_category": "customer", "reason": "dropped"}
    )

    assert offered_none.status_code == 422
    assert _error_at(offered_none.text, "subject_category") == (
        "INVALID_INPUT 'supplier' is not one of the choices"
    )
    assert removed.status_code == 303
    assert "legal basis removed" in history_section((await browser.client.get(PURPOSE)).text)
    assert [key for key, _, _ in await _bases(seeded)] == ["employee.agent"]
