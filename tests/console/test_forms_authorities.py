"""The console's forms for supervisory authorities and a controller's authority per role:
through the services GraphQL's mutations call, refusals at their field with nothing saved,
per role."""

from __future__ import annotations

import httpx
import pytest

from registry.access.policy import Role
from registry.errors import NotFound
from registry.record.inventory import service as inventory
from registry.record.supervision import service as supervision
from registry.record.supervision.models import AuthorityRole, SupervisoryAuthority
from tests.console.conftest import Browser, csrf_of
from tests.console.filled import history_section, submit
from tests.console.test_pages import _error_at
from tests.history.past import Sessions

BFDI = {"slug": "de-bfdi", "name": "BfDI", "country_code": "de"}
LEAD = "/console/entities/mood-media-germany/authorities/lead"
COMPLAINT = "/console/entities/mood-media-germany/authorities/complaint"


async def _authority(seeded: Sessions, slug: str) -> SupervisoryAuthority:
    async with seeded() as session:
        return await supervision.authority_by_slug(session, slug)


async def _entry(
    seeded: Sessions, role: AuthorityRole
) -> tuple[SupervisoryAuthority | None, str | None] | None:
    async with seeded() as session:
        entity = await inventory.entity_by_slug(session, "mood-media-germany")
        return (await supervision.assignments(session, [entity.id])).get((entity.id, role))


async def _clear(browser: Browser, entry: str, reason: str) -> httpx.Response:
    """The entry's clear form, posted from the entry's page that shows it."""
    shown = await browser.client.get(entry)
    data = {"csrf_token": csrf_of(shown), "reason": reason}
    return await browser.client.post(f"{entry}/clear", data=data)


async def _add_bfdi(browser: Browser) -> None:
    added = await submit(browser, "/console/authorities/new", BFDI)
    assert added.status_code == 303, added.text


# ------------------------------------------------------------------------ authorities


async def test_r_inv_4_an_authority_added_then_edited_shows_both_in_its_history(
    browser: Browser, seeded: Sessions
) -> None:
    """R-INV-4: the write is kept as a typed change in the history the page shows."""
    await browser.sign_in()
    await _add_bfdi(browser)

    saved = await submit(
        browser,
        "/console/authorities/de-bfdi/edit",
        {"website": "https://www.bfdi.bund.de", "reason": "its own site"},
    )

    assert saved.status_code == 303
    assert saved.headers["location"] == "/console/authorities/de-bfdi"
    changes = history_section((await browser.client.get("/console/authorities/de-bfdi")).text)
    assert "supervisory authority added" in changes
    assert "website: None → https://www.bfdi.bund.de" in changes and "its own site" in changes
    authority = await _authority(seeded, "de-bfdi")
    assert authority.country_code == "DE" and authority.website == "https://www.bfdi.bund.de"


async def test_an_authority_in_an_unknown_country_or_with_a_bad_slug_is_not_added(
    browser: Browser, seeded: Sessions
) -> None:
    await browser.sign_in()

    unknown = await submit(browser, "/console/authorities/new", {**BFDI, "country_code": "ZZ"})
    bad_slug = await submit(browser, "/console/authorities/new", {**BFDI, "slug": "De BfDI"})

    assert unknown.status_code == bad_slug.status_code == 422
    assert _error_at(unknown.text, "country_code") == "INVALID_INPUT unknown country 'ZZ'"
    assert _error_at(bad_slug.text, "slug") == (
        "INVALID_INPUT slug must be lower-case words joined by hyphens"
    )
    with pytest.raises(NotFound):
        await _authority(seeded, "de-bfdi")


async def test_an_authority_without_a_name_is_refused_at_its_field(
    browser: Browser, seeded: Sessions
) -> None:
    await browser.sign_in()
    await _add_bfdi(browser)

    refused = await submit(
        browser, "/console/authorities/de-bfdi/edit", {"name": "", "website": "https://x.test"}
    )

    assert refused.status_code == 422
    assert _error_at(refused.text, "name").startswith("INVALID_INPUT name")
    authority = await _authority(seeded, "de-bfdi")
    assert authority.name == "BfDI" and authority.website is None


# ------------------------------------------------------------------------ per controller


async def test_r_inv_4_a_lead_authority_set_shows_on_the_controller_and_in_its_history(
    browser: Browser, seeded: Sessions
) -> None:
    """R-INV-4: the write is kept as a typed change in the history the page shows."""
    await browser.sign_in()
    await _add_bfdi(browser)

    saved = await browser.post(LEAD, {"authority": "de-bfdi", "note": "", "reason": "named"})

    assert saved.status_code == 303 and saved.headers["location"] == LEAD
    assert "controller authority set" in history_section((await browser.client.get(LEAD)).text)
    entity_page = (await browser.client.get("/console/entities/mood-media-germany")).text
    assert '<a href="/console/authorities/de-bfdi">BfDI</a>' in entity_page
    entry = await _entry(seeded, AuthorityRole.LEAD)
    assert entry is not None and entry[0] is not None and entry[0].slug == "de-bfdi"


async def test_an_entry_naming_neither_authority_nor_rule_is_refused_at_its_field(
    browser: Browser, seeded: Sessions
) -> None:
    await browser.sign_in()

    refused = await browser.post(LEAD, {"authority": "", "note": " ", "reason": "x"})

    assert refused.status_code == 422
    assert _error_at(refused.text, "authority") == (
        "INVALID_INPUT name an authority, or say in a note which one stands (the notice's rule)"
    )
    assert await _entry(seeded, AuthorityRole.LEAD) is None


async def test_r_inv_5_an_entry_cleared_leaves_the_record_and_shows_in_its_history(
    browser: Browser, seeded: Sessions
) -> None:
    """R-INV-5: the complaint rule the seeds record is taken off; a lead never set cannot be."""
    await browser.sign_in()
    assert await _entry(seeded, AuthorityRole.COMPLAINT) is not None

    cleared = await _clear(browser, COMPLAINT, "superseded")
    nothing = await _clear(browser, LEAD, "none")

    assert cleared.status_code == 303
    changes = history_section((await browser.client.get(COMPLAINT)).text)
    assert "controller authority cleared" in changes and "superseded" in changes
    assert await _entry(seeded, AuthorityRole.COMPLAINT) is None
    assert nothing.status_code == 422
    assert _error_at(nothing.text, "form") == (
        "NOT_FOUND mood-media-germany has no lead authority on record"
    )


# ------------------------------------------------------------------------ rights


async def test_a_role_without_the_write_right_gets_no_form(
    browser: Browser, seeded: Sessions
) -> None:
    await browser.sign_in(Role.QA_SPECIALIST)

    entity_page = await browser.client.get("/console/entities/mood-media-germany")
    listed = await browser.client.get("/console/authorities")
    token = csrf_of(entity_page)
    refused = [
        await browser.client.get(LEAD),
        await browser.client.get("/console/authorities/new"),
        await browser.client.post(LEAD, data={"csrf_token": token, "note": "forged"}),
        await browser.client.post(f"{COMPLAINT}/clear", data={"csrf_token": token}),
        await browser.client.post("/console/authorities/new", data={"csrf_token": token, **BFDI}),
    ]

    assert "Supervisory authorities" in entity_page.text and "/authorities/lead" not in (
        entity_page.text
    )
    assert listed.status_code == 200 and "/authorities/new" not in listed.text
    for response in refused:
        assert response.status_code == 403 and 'name="note"' not in response.text
    assert await _entry(seeded, AuthorityRole.LEAD) is None
    assert await _entry(seeded, AuthorityRole.COMPLAINT) is not None
    with pytest.raises(NotFound):
        await _authority(seeded, "de-bfdi")


async def test_a_post_without_its_csrf_token_is_refused(browser: Browser, seeded: Sessions) -> None:
    await browser.sign_in()

    forged = await browser.client.post(f"{COMPLAINT}/clear", data={"reason": "forged"})

    assert forged.status_code == 403
    assert await _entry(seeded, AuthorityRole.COMPLAINT) is not None
