"""The console's htmx answers over HTTP, on both backends: a list's filters get its results
alone, the back button's restore and a browser without script the whole page; a rights
request's form posted by htmx is checked (CSRF), taken and audited as without script."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry import clock
from registry.audit.models import Outcome
from registry.audit.service import AuditLog
from registry.crypto import KeyRing
from registry.rights.models import RequestKind
from tests.console.conftest import Browser, csrf_of
from tests.console.test_rights import _received
from tests.recordings.test_http import events

HTMX = {"HX-Request": "true", "HX-Request-Type": "partial"}


async def test_an_htmx_filter_gets_the_entity_results_alone(browser: Browser) -> None:
    await browser.sign_in()

    part = await browser.client.get("/console/entities?q=talk&kind=&country=", headers=HTMX)
    page = await browser.client.get("/console/entities?q=talk")

    assert part.status_code == 200 and "HX-Request" in part.headers["vary"]
    assert part.text.lstrip().startswith("<h2>1 entities</h2>")
    assert "Talkdesk Inc." in part.text and "Mood Media GmbH" not in part.text
    assert "<html" not in part.text and "<form" not in part.text
    assert "<html" in page.text and 'id="entity-results"' in page.text
    assert 'hx-get="/console/entities"' in page.text and "Talkdesk Inc." in page.text


async def test_the_back_buttons_restore_gets_the_whole_page(browser: Browser) -> None:
    """htmx restores history by asking for the page to replace the body: the page it gets."""
    await browser.sign_in()

    restored = await browser.client.get(
        "/console/entities?q=talk",
        headers={"HX-Request": "true", "HX-History-Restore-Request": "true"},
    )

    assert "<html" in restored.text and 'id="entity-results"' in restored.text


async def test_an_htmx_filter_gets_the_transfer_results_alone(browser: Browser) -> None:
    await browser.sign_in()

    part = await browser.client.get("/console/transfers?country=us", headers=HTMX)
    gaps_only = await browser.client.get("/console/transfers?gap=yes", headers=HTMX)

    assert part.status_code == 200 and "HX-Request" in part.headers["vary"]
    assert part.text.lstrip().startswith("<h2>Transfer records in force</h2>")
    assert "<html" not in part.text and "<form" not in part.text
    assert "Transfer records in force" not in gaps_only.text
    assert "Flows without a safeguard" in gaps_only.text


async def test_a_wrong_filter_asked_by_htmx_is_refused_as_a_page(browser: Browser) -> None:
    """A refusal is the refusal page, whose main part the form's htmx puts in place."""
    await browser.sign_in()

    refused = await browser.client.get("/console/entities?asOf=not-a-day", headers=HTMX)

    assert refused.status_code == 400 and '<main id="main">' in refused.text


async def test_a_step_posted_by_htmx_is_checked_taken_and_audited_as_without_script(
    browser: Browser,
    seeded: async_sessionmaker[AsyncSession],
    ring: KeyRing,
    frozen_clock: clock.FrozenClock,
    audit_log: AuditLog,
) -> None:
    """The form keeps its CSRF field under htmx: without it, refused; with it, the step is
    taken and the request's page that follows is read and audited as the page is (R-ACC-6)."""
    request_id = await _received(seeded, ring, frozen_clock, 1, RequestKind.ACCESS)
    await browser.sign_in()
    path = f"/console/rights/{request_id}"
    page = await browser.client.get(path)

    forged = await browser.client.post(f"{path}/steps/ask_for_proof", headers=HTMX, data={})
    taken = await browser.client.post(
        f"{path}/steps/ask_for_proof", headers=HTMX, data={"csrf_token": csrf_of(page)}
    )
    after = await browser.client.get(taken.headers["location"], headers=HTMX)

    assert f'hx-post="{path}/steps/ask_for_proof"' in page.text
    assert forged.status_code == 403 and '<main id="main">' in forged.text
    assert taken.status_code == 303
    assert "identity proof requested" in after.text and '<main id="main">' in after.text
    (step,) = await events(audit_log, action="requestIdentityProof")
    assert step.outcome == Outcome.ALLOWED
    reads = await events(audit_log, action="rightsRequest")
    assert [read.target for read in reads] == [f"rights_request:{request_id}"] * 2


async def test_htmx_without_a_session_is_sent_to_sign_in_not_given_the_form_in_place(
    browser: Browser,
) -> None:
    """A session ended (or none): htmx is told to send the browser to sign in, rather than
    following a redirect and putting the sign-in page in place of the results."""
    told = await browser.client.get("/console/entities?q=talk", headers=HTMX)
    page = await browser.client.get("/console/entities?q=talk")

    assert told.status_code == 200 and told.headers["hx-redirect"] == "/console/sign-in"
    assert "Talkdesk" not in told.text
    assert page.status_code == 303 and page.headers["location"] == "/console/sign-in"
