"""The console's entity forms: a new entity through ``create_entity``, its retirement through
``retire_entity`` and a processor's sub-processors through ``link_sub_processor``; refusals
at their field with nothing saved, each attempt audited as its mutation, per role."""

from __future__ import annotations

from datetime import date

import pytest

from registry.access.policy import Role
from registry.audit.models import Outcome
from registry.audit.service import AuditLog
from registry.errors import NotFound
from registry.record.inventory import service as inventory
from registry.record.inventory.models import Entity, EntityKind
from tests.access.test_policy_walk import handle_of
from tests.console.conftest import Browser, csrf_of
from tests.console.filled import Fields, history_section, logged, submit
from tests.console.test_pages import _error_at
from tests.history.past import Sessions
from tests.recordings.test_http import events

NEW = "/console/entities/new"
# The processor the notice names; it engages no sub-processor yet.
PROCESSOR = "talkdesk"
SUB = "acme-speech"
# The roles the privacy team's record may be written by: the privacy officer keeps the
# Art. 30 record (R-INV-4's history names who changed it); no other role edits it.
WRITERS = {Role.PRIVACY_OFFICER}


async def _entity(seeded: Sessions, slug: str) -> Entity:
    async with seeded() as session:
        return await inventory.entity_by_slug(session, slug)


def _sub_processor(slug: str = SUB) -> Fields:
    return {
        "slug": slug,
        "kind": "sub_processor",
        "legal_name": "Acme Speech GmbH",
        "country_code": "DE",
        "contact": "privacy@acme-speech.example",
    }


async def _recorded(browser: Browser, slug: str = SUB) -> None:
    made = await submit(browser, NEW, _sub_processor(slug))
    assert made.status_code == 303, made.text


async def test_r_inv_4_a_new_entity_is_recorded_and_its_page_shows_its_creation(
    browser: Browser, seeded: Sessions
) -> None:
    """R-INV-4: the new entity's page lists its creation, with who made it."""
    await browser.sign_in()

    made = await submit(browser, NEW, {**_sub_processor(), "active_from": "2026-02-01"})

    assert made.status_code == 303, made.text
    assert made.headers["location"] == f"/console/entities/{SUB}"
    page = (await browser.client.get(made.headers["location"])).text
    assert "Acme Speech GmbH" in page and "sub processor" in page
    changes = history_section(page)
    assert "entity created" in changes and handle_of(Role.PRIVACY_OFFICER) in changes
    entity = await _entity(seeded, SUB)
    assert entity.kind is EntityKind.SUB_PROCESSOR and entity.active_from == date(2026, 2, 1)
    assert entity.contact == "privacy@acme-speech.example" and not entity.verified


async def test_a_slug_taken_already_is_refused_at_its_field_and_nothing_is_saved(
    browser: Browser, seeded: Sessions
) -> None:
    await browser.sign_in()
    before = await _entity(seeded, PROCESSOR)

    refused = await submit(
        browser, NEW, {**_sub_processor(PROCESSOR), "legal_name": "Another Talkdesk"}
    )

    assert refused.status_code == 422
    assert _error_at(refused.text, "slug") == "CONFLICT an entity 'talkdesk' exists already"
    assert 'aria-describedby="slug-error"' in refused.text
    assert (await _entity(seeded, PROCESSOR)).legal_name == before.legal_name


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("slug", "Acme Speech", "INVALID_INPUT slug must be lower-case words joined by hyphens"),
        ("country_code", "ZZ", "INVALID_INPUT unknown country 'ZZ'"),
        ("kind", "", "INVALID_INPUT kind: Field required"),
        ("active_from", "2026-02-30", "INVALID_INPUT '2026-02-30' is not a day (YYYY-MM-DD)"),
    ],
)
async def test_a_new_entity_the_service_refuses_is_refused_at_its_field(
    browser: Browser, seeded: Sessions, field: str, value: str, said: str
) -> None:
    await browser.sign_in()

    refused = await submit(browser, NEW, {**_sub_processor(), field: value})

    assert refused.status_code == 422
    assert _error_at(refused.text, field) == said
    # What was typed is shown again, to be corrected.
    assert 'value="Acme Speech GmbH"' in refused.text
    with pytest.raises(NotFound):
        await _entity(seeded, SUB)
    with pytest.raises(NotFound):
        await _entity(seeded, "Acme Speech")


async def test_a_new_entity_without_a_legal_name_is_refused_at_that_field(
    browser: Browser, seeded: Sessions
) -> None:
    await browser.sign_in()

    refused = await submit(browser, NEW, {**_sub_processor(), "legal_name": ""})

    assert refused.status_code == 422
    assert _error_at(refused.text, "legal_name").startswith("INVALID_INPUT legal_name")
    with pytest.raises(NotFound):
        await _entity(seeded, SUB)


async def test_r_inv_4_a_retired_entity_keeps_its_page_and_history(
    browser: Browser, seeded: Sessions
) -> None:
    """R-INV-4: retiring never deletes the history; the page says the entity is retired."""
    await browser.sign_in()
    await _recorded(browser)
    page = f"/console/entities/{SUB}"

    # The entity's page holds the form; it posts where the form page does.
    assert f'action="{page}/retire"' in (await browser.client.get(page)).text
    retired = await submit(
        browser, f"{page}/retire", {"retired_on": "2026-03-31", "reason": "Contract ended"}
    )

    assert retired.status_code == 303, retired.text
    assert retired.headers["location"] == page
    shown = (await browser.client.get(page)).text
    assert "Retired on 2026-03-31:</strong> Contract ended" in shown
    changes = history_section(shown)
    assert "entity retired" in changes and "entity created" in changes
    assert "Contract ended" in changes
    # Nothing more is offered for a retired entity.
    assert f"/entities/{SUB}/retire" not in shown and f"/entities/{SUB}/edit" not in shown
    entity = await _entity(seeded, SUB)
    assert entity.retired_on == date(2026, 3, 31) and entity.retirement_reason == "Contract ended"


async def test_retiring_without_a_reason_is_refused_at_the_reason(
    browser: Browser, seeded: Sessions
) -> None:
    await browser.sign_in()
    before = len(await logged(seeded, "entity", PROCESSOR))

    refused = await submit(browser, f"/console/entities/{PROCESSOR}/retire", {"reason": ""})

    assert refused.status_code == 422
    assert _error_at(refused.text, "reason").startswith("INVALID_INPUT ")
    assert 'aria-describedby="reason-error"' in refused.text
    assert (await _entity(seeded, PROCESSOR)).retired_on is None
    assert len(await logged(seeded, "entity", PROCESSOR)) == before


async def test_a_processor_engages_a_sub_processor_and_its_page_shows_it(
    browser: Browser, seeded: Sessions
) -> None:
    """Art. 28(2): the processor's page lists the sub-processors it engages, and the link
    is kept in the history as ``linkSubProcessor`` records it."""
    await browser.sign_in()
    await _recorded(browser)
    processor_page = f"/console/entities/{PROCESSOR}"
    assert (
        f"/entities/{PROCESSOR}/sub-processors/new"
        in (await browser.client.get(processor_page)).text
    )

    linked = await submit(
        browser,
        f"/console/entities/{PROCESSOR}/sub-processors/new",
        {"sub_processor": SUB, "since": "2026-02-01", "reason": "Speech analytics"},
    )

    assert linked.status_code == 303, linked.text
    assert linked.headers["location"] == processor_page
    page = (await browser.client.get(processor_page)).text
    assert f'<a href="/console/entities/{SUB}">Acme Speech GmbH</a> since 2026-02-01' in page
    [change] = await logged(seeded, "engagement", f"{PROCESSOR}>{SUB}")
    assert change.reason == "Speech analytics" and change.after is not None
    assert change.after["sub_processor"] == SUB


async def test_a_sub_processor_engaged_already_is_refused_at_its_field(
    browser: Browser, seeded: Sessions
) -> None:
    await browser.sign_in()
    await _recorded(browser)
    path = f"/console/entities/{PROCESSOR}/sub-processors/new"
    assert (await submit(browser, path, {"sub_processor": SUB})).status_code == 303

    refused = await submit(browser, path, {"sub_processor": SUB, "since": "2026-05-01"})

    assert refused.status_code == 422
    assert _error_at(refused.text, "form") == f"CONFLICT {PROCESSOR} already engages {SUB}"
    assert len(await logged(seeded, "engagement", f"{PROCESSOR}>{SUB}")) == 1


async def test_only_a_processor_may_engage_and_only_a_sub_processor_be_engaged(
    browser: Browser, seeded: Sessions
) -> None:
    await browser.sign_in()
    await _recorded(browser)

    group_page = (await browser.client.get("/console/entities/mood-media-germany")).text
    refused = await submit(
        browser, "/console/entities/mood-media-germany/sub-processors/new", {"sub_processor": SUB}
    )
    offered = (await browser.client.get(f"/console/entities/{PROCESSOR}/sub-processors/new")).text

    assert "/sub-processors/new" not in group_page
    assert _error_at(refused.text, "form") == "INVALID_INPUT mood-media-germany is not a processor"
    # A group company is not offered as a sub-processor; one posted anyway is refused.
    assert f'value="{SUB}"' in offered and 'value="mood-media-germany"' not in offered
    forged = await submit(
        browser,
        f"/console/entities/{PROCESSOR}/sub-processors/new",
        {"sub_processor": "mood-media-germany"},
    )
    assert forged.status_code == 422
    assert "is not one of the choices" in _error_at(forged.text, "sub_processor")


@pytest.mark.parametrize("role", [role for role in Role if role not in WRITERS])
async def test_a_role_that_may_not_write_the_inventory_gets_no_form_and_changes_nothing(
    browser: Browser, seeded: Sessions, role: Role
) -> None:
    await browser.sign_in(role)
    home = await browser.client.get("/console/")
    token = csrf_of(home)

    listed = await browser.client.get("/console/entities")
    page = await browser.client.get(f"/console/entities/{PROCESSOR}")
    shown = [
        await browser.client.get(path)
        for path in (
            NEW,
            f"/console/entities/{PROCESSOR}/retire",
            f"/console/entities/{PROCESSOR}/sub-processors/new",
        )
    ]
    forged = [
        await browser.client.post(NEW, data={"csrf_token": token, **_sub_processor()}),
        await browser.client.post(
            f"/console/entities/{PROCESSOR}/retire", data={"csrf_token": token, "reason": "forged"}
        ),
        await browser.client.post(
            f"/console/entities/{PROCESSOR}/sub-processors/new",
            data={"csrf_token": token, "sub_processor": PROCESSOR},
        ),
    ]

    for read in (listed, page):
        assert "/entities/new" not in read.text
        assert "/retire" not in read.text and "/sub-processors/new" not in read.text
    for refused in (*shown, *forged):
        assert refused.status_code == 403
        assert '<form method="post" action="/console/entities' not in refused.text
    with pytest.raises(NotFound):
        await _entity(seeded, SUB)
    assert (await _entity(seeded, PROCESSOR)).retired_on is None


async def test_the_writers_see_the_links(browser: Browser) -> None:
    for role in WRITERS:
        await browser.sign_in(role)
        listed = (await browser.client.get("/console/entities")).text
        page = (await browser.client.get(f"/console/entities/{PROCESSOR}")).text
        assert 'href="/console/entities/new"' in listed
        assert f'action="/console/entities/{PROCESSOR}/retire"' in page
        assert f'href="/console/entities/{PROCESSOR}/sub-processors/new"' in page


async def test_the_record_as_of_a_day_offers_no_new_entity_nor_retirement(
    browser: Browser,
) -> None:
    await browser.sign_in()

    listed = await browser.client.get("/console/entities?asOf=2026-01-01")
    page = await browser.client.get(f"/console/entities/{PROCESSOR}?asOf=2026-01-01")

    assert "/entities/new" not in listed.text
    assert "/retire" not in page.text and "/sub-processors/new" not in page.text


async def test_a_post_without_its_csrf_token_is_refused(browser: Browser, seeded: Sessions) -> None:
    await browser.sign_in()

    forged = await browser.client.post(NEW, data=_sub_processor())
    retired = await browser.client.post(
        f"/console/entities/{PROCESSOR}/retire", data={"reason": "forged"}
    )

    assert forged.status_code == 403 and retired.status_code == 403
    with pytest.raises(NotFound):
        await _entity(seeded, SUB)
    assert (await _entity(seeded, PROCESSOR)).retired_on is None


async def test_r_acc_6_each_attempt_is_audited_as_its_mutation_is(
    browser: Browser, audit_log: AuditLog
) -> None:
    """R-ACC-6: the forms' attempts are in the audit log as GraphQL's ``createEntity``,
    ``retireEntity`` and ``linkSubProcessor`` would be, a refusal as failed."""
    await browser.sign_in()

    await submit(browser, NEW, {**_sub_processor(), "country_code": "ZZ"})
    await _recorded(browser)
    await submit(
        browser, f"/console/entities/{PROCESSOR}/sub-processors/new", {"sub_processor": SUB}
    )
    await submit(browser, f"/console/entities/{SUB}/retire", {"reason": ""})
    await submit(browser, f"/console/entities/{SUB}/retire", {"reason": "Contract ended"})

    created = await events(audit_log, action="createEntity")
    assert [e.outcome for e in created] == [Outcome.FAILED, Outcome.ALLOWED]
    assert created[0].detail == {"code": "INVALID_INPUT"}
    linked = await events(audit_log, action="linkSubProcessor")
    assert [(e.outcome, e.target) for e in linked] == [(Outcome.ALLOWED, f"slug={PROCESSOR}")]
    retired = await events(audit_log, action="retireEntity")
    assert [(e.outcome, e.target) for e in retired] == [
        (Outcome.FAILED, f"slug={SUB}"),
        (Outcome.ALLOWED, f"slug={SUB}"),
    ]
    assert {e.principal for e in [*created, *linked, *retired]} == {handle_of(Role.PRIVACY_OFFICER)}
