"""The entity list's import in the console, over HTTP on both backends: upload, the plan,
apply; through the import service, so its rules; audited as its HTTP route is."""

from __future__ import annotations

import base64
import html
import re

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry.access.policy import Role
from registry.audit.models import Outcome
from registry.audit.service import AuditLog
from registry.record.inventory.models import Entity
from tests.access.test_policy_walk import handle_of
from tests.console.conftest import Browser, csrf_of
from tests.imports.test_service import Rows, csv_of, new_row, row_for, rows_of
from tests.recordings.test_http import bearer, events

Sessions = async_sessionmaker[AsyncSession]
ACTION = "import.entities"
HIDDEN = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">')


async def exported(browser: Browser) -> Rows:
    response = await browser.client.get(
        "/exports/ropa.csv?part=entities", headers=bearer(browser.tokens[Role.PRIVACY_OFFICER])
    )
    assert response.status_code == 200, response.text
    return rows_of(response.content)


async def upload(browser: Browser, data: bytes, **options: str) -> httpx.Response:
    form = await browser.client.get("/console/imports")
    assert form.status_code == 200, form.text
    return await browser.client.post(
        "/console/imports",
        data={"csrf_token": csrf_of(form), **options},
        files={"file": ("entities.csv", data, "text/csv")},
    )


def apply_form(page: httpx.Response) -> dict[str, str]:
    """What the plan page's "Apply" form sends back."""
    form = page.text.split('action="/console/imports/apply"')[1].split("</form>")[0]
    return {name: html.unescape(value) for name, value in HIDDEN.findall(form)}


def table(page: httpx.Response, table_id: str) -> list[list[str]]:
    body = page.text.split(f'<table id="{table_id}">')[1].split("</table>")[0]
    return [
        [
            html.unescape(re.sub(r"<[^>]+>", " ", cell)).strip()
            for cell in re.findall(r"<td>(.*?)</td>", row)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>")[1], re.S)
    ]


async def legal_name_of(sessions: Sessions, slug: str) -> str | None:
    async with sessions() as session:
        return await session.scalar(select(Entity.legal_name).where(Entity.slug == slug))


async def test_the_plan_shows_each_change_before_and_after_and_writes_nothing(
    browser: Browser, seeded: Sessions, audit_log: AuditLog
) -> None:
    await browser.sign_in()
    rows = await exported(browser)
    row_for(rows, "talkdesk")["legal_name"] = "Talkdesk, Inc."
    rows.append(new_row(rows[0]))

    planned = await upload(browser, csv_of(rows))

    assert planned.status_code == 200, planned.text
    changes = table(planned, "import-changes")
    assert [row[1:3] for row in changes] == [["talkdesk", "update"], ["acme-hosting", "create"]]
    assert "legal_name: Talkdesk Inc. → Talkdesk, Inc." in changes[0][3]
    summary = f"1 to create, 1 to update, 0 to retire, {len(rows) - 2} unchanged; 0 errors"
    assert summary in planned.text and "import-errors" not in planned.text
    assert apply_form(planned)["plan_hash"]
    assert await legal_name_of(seeded, "talkdesk") == "Talkdesk Inc."
    assert await legal_name_of(seeded, "acme-hosting") is None
    (event,) = await events(audit_log, action=ACTION)
    assert (event.principal, event.outcome) == (handle_of(Role.PRIVACY_OFFICER), Outcome.ALLOWED)
    assert event.detail is not None
    assert (event.detail["applied"], event.detail["update"], event.detail["create"]) == (
        "false",
        "1",
        "1",
    )


async def test_each_error_is_shown_at_its_row_and_column_and_nothing_may_be_applied(
    browser: Browser,
) -> None:
    await browser.sign_in()
    rows = await exported(browser)
    rows.append(new_row(rows[0], country="XX"))

    planned = await upload(browser, csv_of(rows))

    (error,) = table(planned, "import-errors")
    row = str(len(rows) + 1)  # the header is row 1
    column = list(rows[0]).index("country")
    assert error == [row, "country", f"{chr(ord('A') + column)}{row}", "INVALID_INPUT", error[4]]
    assert "XX" in error[4]
    assert 'action="/console/imports/apply"' not in planned.text


async def test_r_inv_4_an_applied_plan_is_one_batch_and_the_entity_is_there(
    browser: Browser, seeded: Sessions, audit_log: AuditLog
) -> None:
    """R-INV-4: the import's changes are recorded, each naming its batch."""
    await browser.sign_in()
    rows = await exported(browser)
    rows.append(new_row(rows[0]))
    planned = await upload(browser, csv_of(rows))

    applied = await browser.client.post("/console/imports/apply", data=apply_form(planned))

    assert applied.status_code == 200, applied.text
    assert "<h1>Import applied</h1>" in applied.text
    batch = re.search(r"Import batch #(\d+)", applied.text)
    assert batch
    assert await legal_name_of(seeded, "acme-hosting") == "Acme Hosting Ltd"
    entity = await browser.client.get("/console/entities/acme-hosting")
    history = entity.text.split("<h2>History</h2>")[1]
    assert "entity created" in history.lower()
    audited = await events(audit_log, action=ACTION)
    assert [event.detail["applied"] for event in audited if event.detail] == ["false", "true"]


async def test_bytes_other_than_the_planned_are_refused_and_nothing_is_written(
    browser: Browser, seeded: Sessions
) -> None:
    await browser.sign_in()
    rows = await exported(browser)
    rows.append(new_row(rows[0]))
    planned = await upload(browser, csv_of(rows))
    form = apply_form(planned)
    rows.append(new_row(rows[0], slug="other-hosting", legal_name="Other Hosting Ltd"))
    form["content"] = base64.b64encode(csv_of(rows)).decode()

    refused = await browser.client.post("/console/imports/apply", data=form)

    assert refused.status_code == 409
    assert "changed since the plan" in html.unescape(refused.text)
    assert await legal_name_of(seeded, "acme-hosting") is None
    assert await legal_name_of(seeded, "other-hosting") is None


async def test_a_file_that_is_no_entity_list_is_refused_at_the_file(browser: Browser) -> None:
    await browser.sign_in()

    refused = await upload(browser, b"\xd0\xcf\x11\xe0 an old workbook")

    assert refused.status_code == 422 and 'id="file-error"' in refused.text
    assert ".xls" in refused.text


async def test_a_role_that_may_not_write_the_inventory_is_refused_the_pages(
    browser: Browser, audit_log: AuditLog
) -> None:
    await browser.sign_in(Role.QA_SPECIALIST)

    page = await browser.client.get("/console/imports")
    home = await browser.client.get("/console/")

    assert page.status_code == 403 and "<input" not in page.text.split("<main")[1]
    assert 'href="/console/imports"' not in home.text
    (event,) = await events(audit_log, outcome=Outcome.DENIED)
    assert event.principal == handle_of(Role.QA_SPECIALIST)
