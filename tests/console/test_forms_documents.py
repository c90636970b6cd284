"""The console's document forms: add, edit, withdraw, attach and detach through the
services GraphQL's mutations call; refusals at their field with nothing saved, per role."""

from __future__ import annotations

import pytest

from registry.access.policy import Role
from registry.errors import NotFound
from registry.record.documents import service as documents
from registry.record.documents.models import Document
from tests.console.conftest import Browser, csrf_of
from tests.console.filled import history_section, logged, submit
from tests.console.test_pages import _error_at
from tests.history.past import Sessions

# SCCs Module 2 from the group's EEA and UK companies to Talkdesk, covering those transfers.
SLUG = "scc-group-to-talkdesk"
PAGE = f"/console/documents/{SLUG}"
EDIT = f"{PAGE}/edit"
TRANSFER = "mood-media-germany--talkdesk"


async def _document(seeded: Sessions, slug: str = SLUG) -> Document:
    async with seeded() as session:
        return await documents.document_by_slug(session, slug)


async def _snapshot(seeded: Sessions) -> dict[str, object] | None:
    """The document as its last change logged it, parties and transfers included."""
    found = await logged(seeded, "document", SLUG)
    return found[-1].after if found else None


async def test_r_inv_4_an_accepted_document_edit_shows_in_its_history(
    browser: Browser, seeded: Sessions
) -> None:
    """R-INV-4: the write is kept as a typed change in the history the page shows."""
    await browser.sign_in()

    saved = await submit(
        browser,
        EDIT,
        {"signed_on": "2023-05-02", "location": "Contracts folder 7", "reason": "copy found"},
    )

    assert saved.status_code == 303 and saved.headers["location"] == PAGE
    changes = history_section((await browser.client.get(PAGE)).text)
    assert "signed_on: None → 2023-05-02" in changes and "copy found" in changes
    document = await _document(seeded)
    assert str(document.signed_on) == "2023-05-02" and document.location == "Contracts folder 7"


async def test_the_document_form_as_shown_changes_nothing(
    browser: Browser, seeded: Sessions
) -> None:
    """Its parties come back as they are: sent back untouched, nothing is logged."""
    await browser.sign_in()
    before = await _snapshot(seeded)

    saved = await submit(browser, EDIT, {})

    assert saved.status_code == 303
    assert await _snapshot(seeded) == before


async def test_r_inv_3_a_module_the_covered_transfers_do_not_have_is_refused(
    browser: Browser, seeded: Sessions
) -> None:
    """R-INV-3: the SCCs it covers are Module 2; the document cannot become Module 1."""
    await browser.sign_in()

    refused = await submit(browser, EDIT, {"scc_module": "1", "note": "changed"})

    assert refused.status_code == 422
    assert _error_at(refused.text, "scc_module").startswith("R-INV-3 scc-group-to-talkdesk")
    document = await _document(seeded)
    assert document.scc_module == 2 and document.note != "changed"


async def test_a_party_line_that_names_no_role_is_refused_at_its_field(
    browser: Browser, seeded: Sessions
) -> None:
    await browser.sign_in()
    before = await _snapshot(seeded)

    refused = await submit(browser, EDIT, {"parties": "talkdesk signatory"})

    assert refused.status_code == 422
    assert _error_at(refused.text, "parties").startswith(
        "INVALID_INPUT 'talkdesk signatory' is not an entity's slug and its role"
    )
    assert await _snapshot(seeded) == before


async def test_papers_that_drop_a_covered_transfer_s_importer_are_refused(
    browser: Browser, seeded: Sessions
) -> None:
    await browser.sign_in()
    before = await _snapshot(seeded)

    refused = await submit(browser, EDIT, {"parties": "mood-media-germany exporter"})

    assert refused.status_code == 422
    assert "does not name" in _error_at(refused.text, "parties")
    assert await _snapshot(seeded) == before


async def test_a_document_added_covers_its_transfer_and_shows_its_addition(
    browser: Browser, seeded: Sessions
) -> None:
    await browser.sign_in()

    saved = await submit(
        browser,
        "/console/documents/new",
        {
            "slug": "tia-germany-talkdesk",
            "kind": "tia",
            "title": "Transfer impact assessment, Germany to Talkdesk",
            "parties": "mood-media-germany party\ntalkdesk party",
            "transfers": [TRANSFER],
        },
    )

    assert saved.status_code == 303, saved.text
    page = (await browser.client.get(saved.headers["location"])).text
    assert "document added" in history_section(page) and f"/console/transfers/{TRANSFER}" in page
    assert (await _document(seeded, "tia-germany-talkdesk")).kind == "tia"


async def test_r_inv_3_a_new_scc_without_its_module_is_not_added(
    browser: Browser, seeded: Sessions
) -> None:
    await browser.sign_in()

    refused = await submit(
        browser,
        "/console/documents/new",
        {"slug": "scc-without-module", "kind": "scc_2021_914", "title": "SCCs"},
    )

    assert refused.status_code == 422
    assert _error_at(refused.text, "scc_module").startswith("R-INV-3 scc_2021_914 names")
    with pytest.raises(NotFound):
        await _document(seeded, "scc-without-module")


async def test_a_detached_then_attached_transfer_shows_both_in_the_history(
    browser: Browser, seeded: Sessions
) -> None:
    await browser.sign_in()

    detached = await submit(
        browser, f"{PAGE}/detach", {"transfer": TRANSFER, "reason": "re-papered"}
    )
    attached = await submit(browser, f"{PAGE}/attach", {"transfer": TRANSFER})
    again = await submit(browser, f"{PAGE}/attach", {"transfer": TRANSFER})

    assert detached.status_code == attached.status_code == 303
    changes = history_section((await browser.client.get(PAGE)).text)
    assert "document detached" in changes and "document attached" in changes
    assert again.status_code == 422
    assert _error_at(again.text, "transfer") == f"CONFLICT {SLUG} covers {TRANSFER} already"


async def test_a_withdrawal_needs_a_reason_and_a_day_that_has_come(
    browser: Browser, seeded: Sessions
) -> None:
    await browser.sign_in()

    no_reason = await submit(browser, f"{PAGE}/withdraw", {"reason": ""})
    future = await submit(browser, f"{PAGE}/withdraw", {"on": "2999-01-01", "reason": "ended"})
    assert (await _document(seeded)).withdrawn_on is None
    withdrawn = await submit(browser, f"{PAGE}/withdraw", {"reason": "replaced"})

    assert no_reason.status_code == future.status_code == 422
    assert _error_at(no_reason.text, "reason") == "INVALID_INPUT reason may not be blank"
    assert _error_at(future.text, "on") == (
        "INVALID_INPUT a withdrawal is recorded once it happened"
    )
    assert withdrawn.status_code == 303
    page = (await browser.client.get(PAGE)).text
    assert "document withdrawn" in history_section(page) and f"{PAGE}/edit" not in page
    assert (await _document(seeded)).withdrawn_on is not None


async def test_a_role_without_the_write_right_gets_no_form(
    browser: Browser, seeded: Sessions
) -> None:
    await browser.sign_in(Role.QA_SPECIALIST)
    before = await _snapshot(seeded)

    page = await browser.client.get(PAGE)
    listed = await browser.client.get("/console/documents")
    token = csrf_of(page)
    refused = [
        *[await browser.client.get(f"{PAGE}/{verb}") for verb in ("edit", "withdraw", "detach")],
        await browser.client.get("/console/documents/new"),
        await browser.client.post(f"{PAGE}/withdraw", data={"csrf_token": token, "reason": "x"}),
        await browser.client.post(
            f"{PAGE}/detach", data={"csrf_token": token, "transfer": TRANSFER, "reason": "x"}
        ),
    ]

    assert page.status_code == 200 and f"{PAGE}/edit" not in page.text
    assert "<h2>History</h2>" not in page.text and "/documents/new" not in listed.text
    for response in refused:
        assert response.status_code == 403 and 'name="reason"' not in response.text
    assert (await _document(seeded)).withdrawn_on is None
    assert await _snapshot(seeded) == before


async def test_a_post_without_its_csrf_token_is_refused(browser: Browser, seeded: Sessions) -> None:
    await browser.sign_in()

    forged = await browser.client.post(f"{PAGE}/withdraw", data={"reason": "forged"})

    assert forged.status_code == 403
    assert (await _document(seeded)).withdrawn_on is None
