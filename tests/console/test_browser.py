"""The console in a real headless Chromium: sign in, browse, edit, refusals, accessibility.

Debian's ``chromium`` is driven by Playwright (never a browser Playwright downloads);
``scripts/test.sh`` installs it where it is missing and it can. Without it these tests skip,
saying why, except under CI=true, where they fail. One browser serves the module, one server
on SQLite (the same pages are tested over HTTP on both backends in test_pages.py). Each page
visited is checked with axe-core (vendored, injected by the test) and screenshotted into
build/screenshots/.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry import clock
from registry.access.policy import Role
from registry.audit.service import AuditLog
from registry.blobs import LocalBlobStore
from registry.crypto import KeyRing
from registry.db import transaction
from registry.recordings import calls, erasure, retention, storage
from registry.recordings.models import Direction, HoldGround, Segment, SubjectKind
from registry.rights import completion
from registry.rights import service as rights
from registry.rights.models import RequestKind
from registry.upkeep.sweeping import sweep_all
from tests.access.test_oidc import CLIENT_ID, ROLE_MAP, person, provider
from tests.conftest import NOW, OFFICER, ROOT
from tests.console.served import Served, served
from tests.recordings.conftest import chunks

CHROMIUM = Path("/usr/bin/chromium")
# No download, update, sync or QUIC: the browser talks to the test's server alone.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
SCREENSHOTS = ROOT / "build" / "screenshots"
# What an accessibility check must not find; minor and moderate findings are reported only.
BLOCKING = {"serious", "critical"}


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: install Debian's chromium (scripts/test.sh does)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server(
    sqlite_templates: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    with served(sqlite_templates, tmp_path_factory.mktemp("console")) as running:
        yield running


@pytest.fixture
def page(chromium: Browser, server: Served) -> Iterator[Page]:
    context = chromium.new_context(base_url=server.base_url)
    yield context.new_page()
    context.close()


def sign_in(page: Page, server: Served, role: Role = Role.PRIVACY_OFFICER) -> None:
    page.goto("/console/sign-in")
    page.get_by_label("Personal API token").fill(server.tokens[role])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("The record of processing")


def accessible(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical findings on the page as it stands."""
    # Evaluated by the test's driver, not loaded by the page: the CSP allows no inline script.
    page.evaluate(AXE.read_text(encoding="utf-8"))
    found: list[dict[str, Any]] = page.evaluate(
        """async () => (await axe.run()).violations.map(
            v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))}))"""
    )
    return [violation for violation in found if violation["impact"] in BLOCKING]


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def headings_in_order(page: Page) -> bool:
    levels = [
        int(tag[1])
        for tag in page.eval_on_selector_all(
            "h1, h2, h3, h4, h5, h6", "nodes => nodes.map(n => n.tagName.toLowerCase())"
        )
    ]
    return levels[:1] == [1] and all(b - a <= 1 for a, b in pairwise(levels))


def test_sign_in_and_browse_the_record(page: Page, server: Served) -> None:
    sign_in(page, server)
    shot(page, "home")

    for link, heading, name in (
        ("Entities", "Entities", "entities"),
        ("Activity", "Processing activities", "activity"),
        ("Transfers", "Transfers", "transfers"),
        ("Gaps", "Gaps in the record", "gaps"),
        ("Who processes what", "Who processes what", "who-processes"),
        ("Exports", "Exports of the record (Art. 30)", "exports"),
    ):
        page.get_by_role("navigation", name="Main").get_by_role("link", name=link).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        assert accessible(page) == [], name
        assert headings_in_order(page), name
        shot(page, name)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Entities").click()
    page.get_by_label("Name contains").fill("talk")
    page.get_by_role("button", name="Filter").click()
    page.get_by_role("link", name="Talkdesk Inc.").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Talkdesk Inc.")
    expect(page.get_by_role("heading", name="History")).to_be_visible()
    assert accessible(page) == []
    shot(page, "entity")


def test_keyboard_reaches_the_main_links(page: Page, server: Served) -> None:
    sign_in(page, server)
    reached = []

    # Through the menu, however long it is for the role, to its last stop.
    while "Sign out" not in reached and len(reached) < 40:
        page.keyboard.press("Tab")
        reached.append(page.evaluate("() => document.activeElement.textContent.trim()"))

    assert reached[0] == "Skip to content"
    assert {"Entities", "Transfers", "Gaps", "Sign out"} <= set(reached)


def test_an_edit_refused_at_its_field_then_one_accepted_in_the_history(
    page: Page, server: Served
) -> None:
    sign_in(page, server)
    page.goto("/console/entities/talkdesk")
    page.get_by_role("link", name="Edit this entity").click()

    page.get_by_label("Country code").fill("ZZ")
    page.get_by_role("button", name="Save").click()

    error = page.locator("#country_code-error")
    expect(error).to_have_text("INVALID_INPUT unknown country 'ZZ'")
    expect(page.get_by_label("Country code")).to_have_attribute("aria-invalid", "true")
    assert accessible(page) == []
    shot(page, "entity-edit-refused")

    page.get_by_label("Country code").fill("US")
    page.get_by_label("Registered office").fill("55 Hawthorne St, San Francisco, CA 94105")
    page.get_by_label("Reason for the change (kept in the history)").fill("office confirmed")
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Talkdesk Inc.")
    history = page.locator("h2:text('History') + table")
    expect(history).to_contain_text("registered_office: None → 55 Hawthorne St")
    expect(history).to_contain_text("office confirmed")
    expect(history).not_to_contain_text("unknown country")
    shot(page, "entity-history")


def test_a_new_entity_refused_at_its_field_then_recorded_and_retired(
    page: Page, server: Served
) -> None:
    """R-INV-4: a new entity and its retirement are kept in the history its page shows."""
    sign_in(page, server)
    page.goto("/console/entities")
    page.get_by_role("link", name="Record an entity").click()

    page.get_by_label("Short name used in links (slug)").fill("acme-speech")
    page.get_by_label("Role").select_option("sub_processor")
    page.get_by_label("Legal name").fill("Acme Speech GmbH")
    page.get_by_label("Country code").fill("ZZ")
    page.get_by_role("button", name="Record").click()

    expect(page.locator("#country_code-error")).to_have_text("INVALID_INPUT unknown country 'ZZ'")
    expect(page.get_by_label("Country code")).to_have_attribute("aria-invalid", "true")
    assert accessible(page) == []

    page.get_by_label("Country code").fill("DE")
    page.get_by_role("button", name="Record").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Acme Speech GmbH")
    assert accessible(page) == []
    page.get_by_label("Reason for the change (kept in the history)").fill("Contract ended")
    page.get_by_role("button", name="Retire").click()

    expect(page.locator(".retired")).to_contain_text("Contract ended")
    history = page.locator("h2:text('History') + table")
    expect(history).to_contain_text("entity retired")
    expect(history).to_contain_text("entity created")
    assert accessible(page) == []


def test_the_activity_forms_are_accessible(page: Page, server: Served) -> None:
    sign_in(page, server)
    page.goto("/console/activities/call-recording-and-monitoring")
    assert accessible(page) == []

    for link in ("Set the security measures", "Add a party", "Set the categories of recipients"):
        page.get_by_role("link", name=link).click()
        assert accessible(page) == []
        page.get_by_role("link", name="Cancel").click()

    page.goto("/console/activities")
    page.get_by_role("link", name="Record an activity").click()
    page.get_by_role("button", name="Record").click()
    expect(page.get_by_label("Short name used in links (slug)")).to_have_attribute(
        "aria-invalid", "true"
    )
    assert accessible(page) == []


def test_a_transfer_edit_refused_at_its_field_then_accepted_in_the_history(
    page: Page, server: Served
) -> None:
    """R-INV-3: controller to processor needs SCC Module 2; Module 1 is refused at its field."""
    sign_in(page, server)
    page.goto("/console/transfers")
    page.get_by_role("link", name="mood-media-germany--talkdesk").click()
    page.get_by_role("link", name="Edit this transfer").click()

    page.get_by_label("SCC module").select_option("1")
    page.get_by_role("button", name="Save").click()

    expect(page.locator("#scc_module-error")).to_contain_text("R-INV-3")
    expect(page.get_by_label("SCC module")).to_have_attribute("aria-invalid", "true")
    assert accessible(page) == []
    shot(page, "transfer-edit-refused")

    page.get_by_label("SCC module").select_option("2")
    page.get_by_label("Transfer impact assessment (reference)").fill("TIA-2026-07")
    page.get_by_label("Reason for the change (kept in the history)").fill("TIA filed")
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Transfer mood-media-germany--talkdesk"
    )
    history = page.locator("h2:text('History') + table")
    expect(history).to_contain_text("tia_reference: None → TIA-2026-07")
    expect(history).to_contain_text("TIA filed")


def test_a_role_without_the_right_sees_no_data(page: Page, server: Served) -> None:
    sign_in(page, server, Role.QA_SPECIALIST)

    page.goto("/console/entities/talkdesk")
    expect(page.get_by_role("link", name="Edit this entity")).to_have_count(0)
    expect(page.get_by_role("heading", name="History")).to_have_count(0)
    response = page.goto("/console/entities/talkdesk/edit")

    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("Not for your role")
    expect(page.locator("main input")).to_have_count(0)
    expect(page.locator("main")).not_to_contain_text("Talkdesk")
    shot(page, "refused")


def test_a_form_without_its_csrf_token_is_refused(page: Page, server: Served) -> None:
    sign_in(page, server)

    # Posted with the session's cookie, as a forged form would be, but without the secret.
    forged = page.request.post(
        "/console/entities/talkdesk/edit", form={"legal_name": "Forged Ltd", "country_code": "US"}
    )

    assert forged.status == 403
    page.goto("/console/entities/talkdesk")
    expect(page.get_by_role("heading", level=1)).not_to_have_text(re.compile("Forged"))


def test_sign_out_ends_the_session(page: Page, server: Served) -> None:
    sign_in(page, server)

    page.get_by_role("button", name="Sign out").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    assert accessible(page) == []
    shot(page, "sign-in")
    page.goto("/console/entities")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")


def test_the_rights_queue_puts_overdue_then_due_soon_first(page: Page, server: Served) -> None:
    ring = KeyRing.load_or_create(server.folder / "keyring.json")

    async def receive(sessions: async_sessionmaker[AsyncSession]) -> list[int]:
        made = []
        for days_ago, kind in (
            (2, RequestKind.ACCESS),
            (45, RequestKind.ERASURE),
            (27, RequestKind.OBJECTION),
        ):
            clock.set_now(clock.FrozenClock(NOW - timedelta(days=days_ago)))
            async with transaction(sessions) as session:
                request = await rights.receive(
                    session=session,
                    actor=OFFICER,
                    ring=ring,
                    received=rights.Received(
                        kind=kind, controller="mood-media-austria", email="someone@example.test"
                    ),
                )
                made.append(request.id)
        clock.set_now(clock.FrozenClock(NOW))
        return made

    later, overdue, soon = server.run(receive)
    sign_in(page, server)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Rights requests").click()

    rows = page.locator("main tbody tr")
    expect(rows.nth(0)).to_contain_text(f"#{overdue}")
    expect(rows.nth(0)).to_contain_text("overdue")
    expect(rows.nth(1)).to_contain_text(f"#{soon}")
    expect(rows.nth(1)).to_contain_text("due soon")
    expect(rows.nth(2)).to_contain_text(f"#{later}")
    assert accessible(page) == []
    shot(page, "rights-queue")
    page.get_by_role("link", name=f"#{overdue}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Rights request #{overdue}")
    expect(page.get_by_role("heading", name="Steps")).to_be_visible()
    shot(page, "rights-request")


# Sign-in through the identity provider, and the entity list's import.


@pytest.fixture(scope="module")
def oidc_server(
    sqlite_templates: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Served, str]]:
    with (
        provider() as issuer,
        served(
            sqlite_templates,
            tmp_path_factory.mktemp("console-oidc"),
            oidc_issuer=issuer,
            oidc_client_id=CLIENT_ID,
            oidc_client_secret="not-checked-by-the-mock",
            oidc_role_map=ROLE_MAP,
        ) as running,
    ):
        yield running, issuer


def test_sign_in_through_the_identity_providers_page(
    chromium: Browser, oidc_server: tuple[Served, str]
) -> None:
    running, issuer = oidc_server
    person(issuer, "ana@example.test", name="Ana Lima", groups=[])
    context = chromium.new_context(base_url=running.base_url)
    page = context.new_page()

    page.goto("/console/sign-in")
    assert accessible(page) == []
    shot(page, "sign-in-oidc")
    page.get_by_role("button", name=f"Sign in with {urlsplit(issuer).netloc}").click()
    page.get_by_placeholder("sub").fill("ana@example.test")
    page.get_by_role("button", name="Authorize").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("The record of processing")
    expect(page.locator("main")).to_contain_text("Signed in as ana-example.test.")
    assert accessible(page) == []
    shot(page, "home-oidc")
    context.close()


def test_an_import_shows_errors_at_their_cells_then_a_good_list_is_applied(
    page: Page, server: Served
) -> None:
    header = "slug,kind,legal_name,country\n"
    sign_in(page, server)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Import").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Import entities")
    assert accessible(page) == []
    shot(page, "import")

    bad = f"{header}acme-hosting,processor,Acme Hosting Ltd,XX\n".encode()
    page.get_by_label("Entity list (csv or xlsx)").set_input_files(
        files=[{"name": "entities.csv", "mimeType": "text/csv", "buffer": bad}]
    )
    page.get_by_role("button", name="Show the plan").click()
    errors = page.locator("#import-errors tbody tr")
    expect(errors).to_have_count(1)
    expect(errors.nth(0)).to_contain_text("2")
    expect(errors.nth(0).locator("td").nth(1)).to_have_text("country")
    expect(errors.nth(0).locator("td").nth(2)).to_have_text("D2")
    expect(errors.nth(0)).to_contain_text("XX")
    expect(page.get_by_role("button", name="Apply")).to_have_count(0)
    assert accessible(page) == []
    assert headings_in_order(page)
    shot(page, "import-errors")

    page.get_by_role("link", name="Import another file").click()
    good = f"{header}acme-hosting,processor,Acme Hosting Ltd,IE\n".encode()
    page.get_by_label("Entity list (csv or xlsx)").set_input_files(
        files=[{"name": "entities.csv", "mimeType": "text/csv", "buffer": good}]
    )
    page.get_by_role("button", name="Show the plan").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Import plan")
    expect(page.locator("#import-changes")).to_contain_text("legal_name: — → Acme Hosting Ltd")
    assert accessible(page) == []
    shot(page, "import-plan")
    page.get_by_role("button", name="Apply").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Import applied")
    expect(page.locator("#import-result")).to_contain_text("Import batch #")
    assert accessible(page) == []
    shot(page, "import-applied")
    page.get_by_role("link", name="acme-hosting").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Acme Hosting Ltd")


# --- The recordings' duties and a request's next actions -------------------------------------


def test_a_request_offers_its_next_actions_and_takes_one(page: Page, server: Served) -> None:
    """R-DSR-3: a request just received asks for proof of identity; once asked, that action
    is no longer offered, and the step shows in the request's steps."""
    ring = KeyRing.load_or_create(server.folder / "keyring.json")

    async def receive(sessions: async_sessionmaker[AsyncSession]) -> int:
        async with transaction(sessions) as session:
            request = await rights.receive(
                session=session,
                actor=OFFICER,
                ring=ring,
                received=rights.Received(
                    kind=RequestKind.ACCESS,
                    controller="mood-media-austria",
                    email="asker@example.test",
                ),
            )
        return request.id

    request_id = server.run(receive)
    sign_in(page, server)
    page.goto(f"/console/rights/{request_id}")

    expect(page.get_by_role("heading", name="Next actions")).to_be_visible()
    expect(page.get_by_role("button", name="Register")).to_have_count(0)
    assert accessible(page) == []
    assert headings_in_order(page)
    shot(page, "rights-request-actions")
    page.get_by_role("button", name="Ask for proof").click()

    expect(page.locator("main dl")).to_contain_text("identity pending")
    expect(page.locator("main tbody")).to_contain_text("identity proof requested")
    expect(page.get_by_role("button", name="Ask for proof")).to_have_count(0)
    assert accessible(page) == []


def test_the_privacy_officer_reads_the_evidence_of_retention(page: Page, server: Served) -> None:
    """R-RET-2: holds in force, the one ending soon marked; R-RET-1: the sweeps and the
    tombstones of erasures, with when, why and by whom."""
    ring = KeyRing.load_or_create(server.folder / "keyring.json")
    blobs = LocalBlobStore(server.folder / "blobs")

    async def hold_erase_and_sweep(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
        async with transaction(sessions) as session:
            customer = await calls.register_subject(
                session=session,
                actor=OFFICER,
                ring=ring,
                kind=SubjectKind.CUSTOMER,
                identifiers=calls.Identifiers(None, "+44 20 7946 0001", None),
                country_code="GB",
            )
            call = await calls.register_call(
                session=session,
                actor=OFFICER,
                direction=Direction.INBOUND,
                company_slug="mood-media-uk",
                customer_id=customer.id,
                agent_id=None,
                customer_country_code="GB",
            )
            await calls.record_ivr_choice(
                session=session, actor=OFFICER, call_id=call.id, digit="1"
            )
            made = [
                await storage.store(
                    session=session,
                    actor=OFFICER,
                    ring=ring,
                    blobs=blobs,
                    call_id=call.id,
                    segment=Segment.FULL,
                    audio=chunks(b"a recorded call " * 100),
                )
                for _ in range(2)
            ]
        held, erased = (recording.id for recording in made)
        async with transaction(sessions) as session:
            await retention.place_hold(
                session=session,
                actor=OFFICER,
                recording_id=held,
                ground=HoldGround.LEGAL_CLAIMS,
                justification="Claim 2026-114 filed",
                ends_on=(NOW + timedelta(days=10)).date(),
            )
            await erasure.erase_recording(session=session, actor=OFFICER, recording_id=erased)
        log = AuditLog.open(f"sqlite+aiosqlite:///{server.folder / 'audit.db'}")
        try:
            await sweep_all(sessions=sessions, blobs=blobs, audit_log=log)
        finally:
            await log.close()
        return [held, erased]

    held, erased = server.run(hold_erase_and_sweep)
    sign_in(page, server)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Retention").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Evidence of retention")
    holds = page.locator("main table").nth(0)
    expect(holds.get_by_role("row", name=re.compile(held))).to_contain_text("ending soon")
    expect(page.locator("main table").nth(1).locator("tbody tr")).not_to_have_count(0)
    tombstones = page.locator("main table").nth(2)
    expect(tombstones.get_by_role("row", name=re.compile(erased))).to_contain_text(
        "erasure request"
    )
    assert accessible(page) == []
    assert headings_in_order(page)
    shot(page, "retention-evidence")


# --- htmx: the lists' filters in place, a side step posted in place, no CSP violation -------


def csp_violations(page: Page) -> list[str]:
    """What the page's Content-Security-Policy refuses from now on, as the browser reports it
    (its console, and the ``securitypolicyviolation`` events of every document loaded)."""
    found: list[str] = []
    page.on(
        "console",
        lambda message: (
            found.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => console.error("
        "'Content Security Policy violation: ' + e.violatedDirective + ' ' + e.blockedURI))"
    )
    return found


def test_the_entity_filter_updates_the_table_in_place(page: Page, server: Served) -> None:
    """htmx: typing in the filter updates the table and the address, the page is not
    reloaded, the browser reports no CSP violation; back, the list is whole again."""
    violations = csp_violations(page)
    sign_in(page, server)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Entities").click()
    expect(page.locator("#entity-results")).to_contain_text("Mood Media GmbH")
    # A mark on this document: a reload would lose it.
    page.evaluate("() => { window.notReloaded = true; }")

    page.get_by_label("Name contains").press_sequentially("talk")

    expect(page.locator("#entity-results h2")).to_have_text("1 entities")
    expect(page.locator("#entity-results")).to_contain_text("Talkdesk Inc.")
    expect(page).to_have_url(re.compile(r"/console/entities\?q=talk"))
    assert page.evaluate("() => window.notReloaded === true")
    assert accessible(page) == []
    shot(page, "entities-filtered-htmx")
    page.go_back()
    expect(page.locator("#entity-results")).to_contain_text("Mood Media GmbH")
    expect(page.get_by_role("heading", level=1)).to_have_text("Entities")
    assert violations == []
    # And it would be heard: an inline style, which the policy refuses, is reported.
    page.evaluate(
        "() => document.head.append(Object.assign(document.createElement('style'), "
        "{textContent: 'main { color: red }'}))"
    )
    page.wait_for_timeout(500)
    assert violations and "style-src" in violations[-1]


def test_an_employees_objection_takes_compelling_grounds_in_place(
    page: Page, server: Served
) -> None:
    """R-DSR-1: an answered employee's objection offers its side step; blank grounds are
    refused at their field, stated ones recorded, each answer put in place by htmx with no
    CSP violation."""
    ring = KeyRing.load_or_create(server.folder / "keyring.json")
    blobs = LocalBlobStore(server.folder / "blobs")

    async def objection_answered(sessions: async_sessionmaker[AsyncSession]) -> int:
        async with transaction(sessions) as session:
            await calls.register_subject(
                session=session,
                actor=OFFICER,
                ring=ring,
                kind=SubjectKind.AGENT,
                identifiers=calls.Identifiers("Cy Agent", None, "cy.agent@example.test"),
            )
            request = await rights.receive(
                session=session,
                actor=OFFICER,
                ring=ring,
                received=rights.Received(
                    kind=RequestKind.OBJECTION,
                    controller="mood-media-uk",
                    email="cy.agent@example.test",
                ),
            )
            await rights.establish_identity(
                session=session,
                actor=OFFICER,
                request_id=request.id,
                evidence="staff card",
                subject_id=None,
            )
            await rights.register(session=session, actor=OFFICER, request_id=request.id)
            await rights.start(session=session, actor=OFFICER, request_id=request.id)
            await completion.complete(
                session=session,
                actor=OFFICER,
                ring=ring,
                blobs=blobs,
                request_id=request.id,
                terms=completion.Terms(privacy_contact="privacy@example.test"),
            )
        return request.id

    request_id = server.run(objection_answered)
    violations = csp_violations(page)
    sign_in(page, server)
    page.goto(f"/console/rights/{request_id}")
    expect(page.get_by_role("heading", name="Objection (R-DSR-1)")).to_be_visible()
    page.evaluate("() => { window.notReloaded = true; }")

    page.get_by_role("button", name="Record compelling grounds").click()

    grounds = page.get_by_label("Compelling legitimate grounds (or legal claims)")
    expect(grounds).to_have_attribute("aria-invalid", "true")
    expect(page.locator("main .error")).to_contain_text("the compelling grounds are stated")
    assert accessible(page) == []
    shot(page, "rights-grounds-refused")
    grounds.fill("evaluation is needed to defend a dismissal claim")
    page.get_by_role("button", name="Record compelling grounds").click()

    expect(page.locator("main")).to_contain_text("Compelling grounds recorded by")
    expect(page.get_by_role("button", name="Record compelling grounds")).to_have_count(0)
    assert page.evaluate("() => window.notReloaded === true")
    assert accessible(page) == []
    assert headings_in_order(page)
    shot(page, "rights-grounds-recorded")
    assert violations == []
