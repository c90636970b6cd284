"""The console's transfer forms: edits and new transfers through ``update_transfer`` and
``create_transfer``, refusals at their field with nothing saved, per role."""

from __future__ import annotations

import pytest

from registry import clock
from registry.access.policy import Role
from registry.audit.models import Outcome
from registry.audit.service import AuditLog
from registry.errors import NotFound
from registry.record.transfers import service as transfers
from registry.record.transfers.models import Transfer
from tests.access.test_policy_walk import handle_of
from tests.console.conftest import Browser, csrf_of
from tests.console.filled import history_section, logged, submit
from tests.console.test_pages import _error_at
from tests.history.past import Sessions, day_after_seeding
from tests.recordings.test_http import events

# Mood Media Germany (controller, EEA) to Talkdesk (processor, US): SCCs, Module 2.
SLUG = "mood-media-germany--talkdesk"
EDIT = f"/console/transfers/{SLUG}/edit"
PAGE = f"/console/transfers/{SLUG}"


async def _transfer(seeded: Sessions, slug: str = SLUG) -> Transfer:
    async with seeded() as session:
        return await transfers.transfer_by_slug(session, slug)


async def _changes(seeded: Sessions, slug: str = SLUG) -> int:
    return len(await logged(seeded, "transfer", slug))


async def test_r_inv_4_an_accepted_transfer_edit_shows_in_its_history(
    browser: Browser, seeded: Sessions
) -> None:
    """R-INV-4: the change is kept with who made it, what changed and why."""
    await browser.sign_in()

    saved = await submit(
        browser,
        EDIT,
        {"tia_reference": "TIA-2026-07", "tia_date": "2026-01-15", "reason": "TIA filed"},
    )

    assert saved.status_code == 303 and saved.headers["location"] == PAGE
    page = (await browser.client.get(PAGE)).text
    changes = history_section(page)
    assert handle_of(Role.PRIVACY_OFFICER) in changes
    assert "tia_reference: None → TIA-2026-07" in changes and "TIA filed" in changes
    transfer = await _transfer(seeded)
    assert transfer.tia_reference == "TIA-2026-07" and transfer.scc_module == 2


async def test_the_form_as_shown_changes_nothing(browser: Browser, seeded: Sessions) -> None:
    """The form shows the record as it is: sent back untouched, it records no change."""
    await browser.sign_in()
    before = await _changes(seeded)

    saved = await submit(browser, EDIT, {})

    assert saved.status_code == 303
    assert await _changes(seeded) == before


async def test_r_inv_3_a_module_the_roles_do_not_call_for_is_refused_at_its_field(
    browser: Browser, seeded: Sessions
) -> None:
    """R-INV-3: controller to processor needs Module 2; Module 1 is refused, nothing saved."""
    await browser.sign_in()
    before = await _changes(seeded)

    refused = await submit(browser, EDIT, {"scc_module": "1", "tia_reference": "TIA-9"})

    assert refused.status_code == 422
    assert _error_at(refused.text, "scc_module").startswith(
        "R-INV-3 mood-media-germany (controller) to talkdesk"
    )
    assert 'aria-describedby="scc_module-error"' in refused.text
    transfer = await _transfer(seeded)
    assert transfer.scc_module == 2 and transfer.tia_reference is None
    assert await _changes(seeded) == before


async def test_r_inv_2_an_adequacy_decision_that_does_not_cover_the_importer_is_refused(
    browser: Browser, seeded: Sessions
) -> None:
    """R-INV-2: the DPF covers only certified importers; Talkdesk is not on record as one."""
    await browser.sign_in()

    refused = await submit(
        browser,
        EDIT,
        {
            "mechanism": "adequacy_decision",
            "scc_module": "",
            "adequacy_decision": "us-data-privacy-framework",
        },
    )

    assert refused.status_code == 422
    assert _error_at(refused.text, "adequacy_decision").startswith("R-INV-2 ")
    transfer = await _transfer(seeded)
    assert transfer.mechanism == "scc_2021_914" and transfer.adequacy_decision_id is None


async def test_r_inv_7_a_uk_mechanism_from_the_eea_is_refused_at_its_field(
    browser: Browser, seeded: Sessions
) -> None:
    """R-INV-7: the UK's mechanisms safeguard exports under UK GDPR, not from the EEA."""
    await browser.sign_in()

    refused = await submit(browser, EDIT, {"mechanism": "uk_idta", "scc_module": ""})

    assert refused.status_code == 422
    assert "is a UK mechanism" in _error_at(refused.text, "mechanism")
    assert (await _transfer(seeded)).mechanism == "scc_2021_914"


async def test_an_unknown_destination_country_is_refused_at_its_field(
    browser: Browser, seeded: Sessions
) -> None:
    await browser.sign_in()

    refused = await submit(browser, EDIT, {"destination_country_code": "ZZ"})

    assert refused.status_code == 422
    assert _error_at(refused.text, "destination_country_code") == (
        "INVALID_INPUT unknown country 'ZZ'"
    )
    assert (await _transfer(seeded)).destination_country_code == "US"


async def test_a_day_that_does_not_parse_is_refused_at_its_field_and_nothing_is_saved(
    browser: Browser, seeded: Sessions
) -> None:
    await browser.sign_in()
    before = await _changes(seeded)

    refused = await submit(browser, EDIT, {"signed_on": "2026-13-01", "note": "signed"})

    assert refused.status_code == 422
    assert _error_at(refused.text, "signed_on") == (
        "INVALID_INPUT '2026-13-01' is not a day (YYYY-MM-DD)"
    )
    # What was typed is shown again, to be corrected.
    assert 'value="2026-13-01"' in refused.text and ">signed</textarea>" in refused.text
    transfer = await _transfer(seeded)
    assert transfer.signed_on is None and transfer.note is None
    assert await _changes(seeded) == before


async def test_r_inv_4_a_new_transfer_is_recorded_and_its_page_shows_its_creation(
    browser: Browser, seeded: Sessions
) -> None:
    """R-INV-4: the write is kept as a typed change in the history the page shows."""
    await browser.sign_in()

    saved = await submit(
        browser,
        "/console/transfers/new?exporter=mood-media-germany",
        {
            "activity": "call-recording-and-monitoring",
            "importer": "talkdesk",
            "slug": "mood-media-germany--talkdesk-addendum",
            "mechanism": "scc_2021_914",
            "scc_module": "2",
            "data_categories": ["user.name", "user.voice.recording"],
        },
    )

    # The form is posted where it was shown from; the exporter came with the link.
    assert saved.status_code == 303, saved.text
    made = saved.headers["location"]
    assert made == "/console/transfers/mood-media-germany--talkdesk-addendum"
    page = (await browser.client.get(made)).text
    assert "user.name, user.voice.recording" in page
    assert "transfer created" in history_section(page)
    transfer = await _transfer(seeded, "mood-media-germany--talkdesk-addendum")
    assert transfer.scc_module == 2


async def test_r_inv_3_a_new_transfer_with_the_wrong_module_is_not_recorded(
    browser: Browser, seeded: Sessions
) -> None:
    await browser.sign_in()

    refused = await submit(
        browser,
        "/console/transfers/new",
        {
            "activity": "call-recording-and-monitoring",
            "exporter": "mood-media-germany",
            "importer": "talkdesk",
            "slug": "refused-transfer",
            "mechanism": "scc_2021_914",
            "scc_module": "1",
        },
    )

    assert refused.status_code == 422
    assert _error_at(refused.text, "scc_module").startswith("R-INV-3 ")
    with pytest.raises(NotFound):
        await _transfer(seeded, "refused-transfer")


async def test_a_new_transfer_needs_two_parties(browser: Browser, seeded: Sessions) -> None:
    await browser.sign_in()

    refused = await submit(
        browser,
        "/console/transfers/new",
        {
            "activity": "call-recording-and-monitoring",
            "exporter": "talkdesk",
            "importer": "talkdesk",
            "slug": "to-itself",
            "mechanism": "scc_2021_914",
            "scc_module": "2",
        },
    )

    assert refused.status_code == 422
    assert _error_at(refused.text, "importer") == (
        "INVALID_INPUT exporter and importer must differ"
    )
    with pytest.raises(NotFound):
        await _transfer(seeded, "to-itself")


async def test_a_role_without_the_write_right_gets_no_form_and_changes_nothing(
    browser: Browser, seeded: Sessions
) -> None:
    await browser.sign_in(Role.QA_SPECIALIST)

    page = await browser.client.get(PAGE)
    listed = await browser.client.get("/console/transfers")
    form = await browser.client.get(EDIT)
    new = await browser.client.get("/console/transfers/new")
    forged = await browser.client.post(
        EDIT, data={"csrf_token": csrf_of(page), "scc_module": "1", "mechanism": "bcr"}
    )

    assert page.status_code == 200 and SLUG in page.text
    assert "/edit" not in page.text and "<h2>History</h2>" not in page.text
    assert "/transfers/new" not in listed.text
    for refused in (form, new, forged):
        assert refused.status_code == 403
        assert '<form method="post" action="/console/transfers' not in refused.text
    assert (await _transfer(seeded)).mechanism == "scc_2021_914"


async def test_a_post_without_its_csrf_token_is_refused(browser: Browser, seeded: Sessions) -> None:
    await browser.sign_in()

    forged = await browser.client.post(EDIT, data={"mechanism": "bcr", "scc_module": ""})

    assert forged.status_code == 403
    assert (await _transfer(seeded)).mechanism == "scc_2021_914"


async def test_the_record_as_of_a_day_offers_no_edit(
    browser: Browser, seeded: Sessions, frozen_clock: clock.FrozenClock
) -> None:
    day = await day_after_seeding(seeded, frozen_clock)
    await browser.sign_in()

    now = await browser.client.get("/console/transfers")
    then = await browser.client.get(f"/console/transfers?asOf={day}")
    entity_then = await browser.client.get(f"/console/entities/mood-media-germany?asOf={day}")
    entity_now = await browser.client.get("/console/entities/mood-media-germany")

    assert "/console/transfers/new" in now.text
    assert "/console/transfers/new" not in then.text
    assert "/console/transfers/new?exporter=mood-media-germany" in entity_now.text
    assert "/transfers/new" not in entity_then.text


async def test_r_acc_6_each_attempt_is_audited_as_its_mutation_is(
    browser: Browser, audit_log: AuditLog
) -> None:
    """R-ACC-6: a form's attempt is in the audit log as GraphQL's ``updateTransfer`` would
    be: under the mutation's name, its target, and a broken rule as denied."""
    await browser.sign_in()

    await submit(browser, EDIT, {"scc_module": "1"})
    await submit(browser, EDIT, {"note": "audited"})

    attempts = await events(audit_log, action="updateTransfer")
    assert [(e.outcome, e.target) for e in attempts] == [
        (Outcome.DENIED, f"slug={SLUG}"),
        (Outcome.ALLOWED, f"slug={SLUG}"),
    ]
    assert attempts[0].detail == {"code": "RULE_BROKEN", "ruleId": "R-INV-3"}
    assert {e.principal for e in attempts} == {handle_of(Role.PRIVACY_OFFICER)}
