"""The console's forms for countries and adequacy decisions: through the services GraphQL's
mutations call, refusals at their field with nothing saved, per role."""

from __future__ import annotations

import pytest

from registry.access.policy import Role
from registry.countries import AdequacyDecision, Country
from registry.errors import NotFound
from registry.record.countries import service as countries
from registry.record.transfers import decisions
from tests.console.conftest import Browser, csrf_of
from tests.console.filled import history_section, submit
from tests.console.test_pages import _error_at
from tests.history.past import Sessions


async def _country(seeded: Sessions, code: str) -> Country:
    async with seeded() as session:
        return await countries.country_by_code(session, code)


async def _decision(seeded: Sessions, slug: str) -> AdequacyDecision:
    async with seeded() as session:
        return await decisions.decision_by_slug(session, slug)


# ------------------------------------------------------------------------ countries


async def test_r_inv_4_an_accepted_country_edit_shows_in_its_history(
    browser: Browser, seeded: Sessions
) -> None:
    """R-INV-4: the write is kept as a typed change in the history the page shows."""
    await browser.sign_in()

    saved = await submit(
        browser,
        "/console/countries/PH/edit",
        {"name": "Republic of the Philippines", "reason": "official name"},
    )

    assert saved.status_code == 303 and saved.headers["location"] == "/console/countries/PH"
    changes = history_section((await browser.client.get("/console/countries/PH")).text)
    assert "name: Philippines → Republic of the Philippines" in changes
    assert "official name" in changes
    assert (await _country(seeded, "PH")).name == "Republic of the Philippines"


async def test_an_eu_member_outside_the_eea_is_refused_at_its_field(
    browser: Browser, seeded: Sessions
) -> None:
    await browser.sign_in()

    refused = await submit(browser, "/console/countries/PH/edit", {"eu": "on", "name": "X"})

    assert refused.status_code == 422
    assert _error_at(refused.text, "eea") == "INVALID_INPUT a member of the EU is in the EEA too"
    country = await _country(seeded, "PH")
    assert not country.eu and country.name == "Philippines"


async def test_a_country_added_shows_its_addition_in_its_history(
    browser: Browser, seeded: Sessions
) -> None:
    await browser.sign_in()

    saved = await submit(browser, "/console/countries/new", {"code": "mx", "name": "Mexico"})

    assert saved.status_code == 303 and saved.headers["location"] == "/console/countries/MX"
    assert "country added" in history_section(
        (await browser.client.get("/console/countries/MX")).text
    )
    assert (await _country(seeded, "MX")).name == "Mexico"


async def test_a_code_iso_does_not_assign_is_refused_at_its_field(
    browser: Browser, seeded: Sessions
) -> None:
    await browser.sign_in()

    refused = await submit(
        browser, "/console/countries/new", {"code": "UK", "name": "United Kingdom"}
    )
    taken = await submit(browser, "/console/countries/new", {"code": "US", "name": "USA"})

    assert refused.status_code == 422
    assert _error_at(refused.text, "code") == (
        "INVALID_INPUT 'UK' is not an ISO 3166-1 alpha-2 country code"
    )
    with pytest.raises(NotFound):
        await _country(seeded, "UK")
    assert taken.status_code == 422
    assert _error_at(taken.text, "code") == "CONFLICT the country US is on record already"
    assert (await _country(seeded, "US")).name == "United States"


# ------------------------------------------------------------------------ adequacy decisions


async def test_r_inv_4_an_accepted_decision_edit_shows_in_its_history(
    browser: Browser, seeded: Sessions
) -> None:
    """R-INV-4: the write is kept as a typed change in the history the page shows."""
    await browser.sign_in()

    saved = await submit(
        browser,
        "/console/adequacy-decisions/uk-gdpr/edit",
        {"verified": "on", "reason": "checked against the Official Journal"},
    )

    assert saved.status_code == 303
    assert saved.headers["location"] == "/console/adequacy-decisions/uk-gdpr"
    page = (await browser.client.get("/console/adequacy-decisions/uk-gdpr")).text
    assert "verified: False → True" in history_section(page)
    assert "checked against the Official Journal" in history_section(page)
    assert (await _decision(seeded, "uk-gdpr")).verified


async def test_a_decision_that_ends_before_its_adoption_is_refused_at_its_field(
    browser: Browser, seeded: Sessions
) -> None:
    await browser.sign_in()

    refused = await submit(
        browser, "/console/adequacy-decisions/uk-gdpr/edit", {"valid_until": "2020-01-01"}
    )

    assert refused.status_code == 422
    assert _error_at(refused.text, "valid_until").startswith(
        "INVALID_INPUT valid_until may not be before the decision was adopted"
    )
    assert str((await _decision(seeded, "uk-gdpr")).valid_until) == "2031-12-27"


async def test_a_day_that_does_not_parse_is_refused_before_the_service(
    browser: Browser, seeded: Sessions
) -> None:
    await browser.sign_in()

    refused = await submit(
        browser,
        "/console/adequacy-decisions/uk-gdpr/edit",
        {"adopted_on": "28/06/2021", "note": "changed"},
    )

    assert refused.status_code == 422
    assert _error_at(refused.text, "adopted_on") == (
        "INVALID_INPUT '28/06/2021' is not a day (YYYY-MM-DD)"
    )
    assert (await _decision(seeded, "uk-gdpr")).note != "changed"


async def test_a_decision_recorded_shows_its_creation_in_its_history(
    browser: Browser, seeded: Sessions
) -> None:
    await browser.sign_in()

    saved = await submit(
        browser,
        "/console/adequacy-decisions/new",
        {
            "slug": "ph-adequacy",
            "country_code": "ph",
            "reference": "A decision for the test",
            "adopted_on": "2025-01-01",
        },
    )

    assert saved.status_code == 303, saved.text
    page = (await browser.client.get(saved.headers["location"])).text
    assert "adequacy decision created" in history_section(page)
    decision = await _decision(seeded, "ph-adequacy")
    assert decision.country_code == "PH" and decision.scope == "whole_country"


async def test_a_decision_for_an_unknown_country_is_not_recorded(
    browser: Browser, seeded: Sessions
) -> None:
    await browser.sign_in()

    refused = await submit(
        browser,
        "/console/adequacy-decisions/new",
        {"slug": "zz-adequacy", "country_code": "ZZ", "reference": "None such"},
    )
    bad_slug = await submit(
        browser,
        "/console/adequacy-decisions/new",
        {"slug": "ZZ Adequacy", "country_code": "PH", "reference": "None such"},
    )

    assert refused.status_code == 422
    assert _error_at(refused.text, "country_code") == "INVALID_INPUT unknown country 'ZZ'"
    assert bad_slug.status_code == 422
    assert _error_at(bad_slug.text, "slug") == (
        "INVALID_INPUT slug must be lower-case words joined by hyphens"
    )
    with pytest.raises(NotFound):
        await _decision(seeded, "zz-adequacy")


# ------------------------------------------------------------------------ rights


@pytest.mark.parametrize(
    "path",
    [
        "/console/countries/new",
        "/console/countries/PH/edit",
        "/console/adequacy-decisions/new",
        "/console/adequacy-decisions/uk-gdpr/edit",
    ],
)
async def test_a_role_without_the_write_right_gets_no_form(
    browser: Browser, seeded: Sessions, path: str
) -> None:
    await browser.sign_in(Role.QA_SPECIALIST)

    listed = await browser.client.get("/console/countries")
    country = await browser.client.get("/console/countries/PH")
    form = await browser.client.get(path)
    forged = await browser.client.post(
        path, data={"csrf_token": csrf_of(listed), "name": "X", "code": "MX", "slug": "x"}
    )

    assert listed.status_code == 200 and "Philippines" in listed.text
    assert "/new" not in listed.text and "/edit" not in country.text
    assert "<h2>History</h2>" not in country.text
    for refused in (form, forged):
        assert refused.status_code == 403 and 'name="name"' not in refused.text
    assert (await _country(seeded, "PH")).name == "Philippines"
    with pytest.raises(NotFound):
        await _country(seeded, "MX")


async def test_a_post_without_its_csrf_token_is_refused(browser: Browser, seeded: Sessions) -> None:
    await browser.sign_in()

    forged = await browser.client.post("/console/countries/PH/edit", data={"name": "Forged"})
    added = await browser.client.post("/console/countries/new", data={"code": "MX", "name": "M"})

    assert forged.status_code == added.status_code == 403
    assert (await _country(seeded, "PH")).name == "Philippines"
    with pytest.raises(NotFound):
        await _country(seeded, "MX")
