"""GET /exports/ropa.{json,csv,xlsx,md}: the export over HTTP, with a token, audited."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import httpx
import openpyxl
import pytest

from registry import clock
from registry.access.policy import Role
from registry.audit.models import Outcome
from registry.audit.service import AuditLog
from tests.access.test_policy_walk import handle_of
from tests.audit.test_graphql import break_the_log
from tests.conftest import Api
from tests.recordings.test_http import bearer, error_of, events

ACTION = "export.ropa"
GROUP_COMPANIES = 28
MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "md": "text/markdown; charset=utf-8",
}


async def _get(api: Api, path: str, role: Role = Role.PRIVACY_OFFICER) -> httpx.Response:
    return await api.client.get(path, headers=bearer(api.tokens[role]))


@pytest.mark.parametrize("fmt", list(MEDIA_TYPES))
async def test_each_format_is_sent_as_a_named_file_of_its_type(api: Api, fmt: str) -> None:
    today = clock.today().isoformat()

    response = await _get(api, f"/exports/ropa.{fmt}?asOf={today}")

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == MEDIA_TYPES[fmt]
    suffix = "-controllers" if fmt == "csv" else ""
    assert response.headers["content-disposition"] == (
        f'attachment; filename="ropa-{today}{suffix}.{fmt}"'
    )
    assert response.headers["cache-control"] == "no-store"
    if fmt == "json":
        document = response.json()
        assert document["as_of"] == today and len(document["controllers"]) == GROUP_COMPANIES
    elif fmt == "xlsx":
        book = openpyxl.load_workbook(io.BytesIO(response.content))
        assert book.sheetnames == ["Export", "Controllers", "Processors", "Transfers", "Entities"]
    elif fmt == "md":
        assert f"As of {today}; exported at " in response.text
    else:
        assert len(list(csv.DictReader(io.StringIO(response.text)))) == GROUP_COMPANIES


async def test_a_csv_part_is_chosen_by_the_query(api: Api) -> None:
    response = await _get(api, "/exports/ropa.csv?part=processors")

    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"].endswith('-processors.csv"')
    (row,) = csv.DictReader(io.StringIO(response.text))
    assert row["processor"] == "talkdesk"


async def test_r_acc_6_an_export_is_audited_with_its_day(api: Api, audit_log: AuditLog) -> None:
    """R-ACC-6: who took the record of processing, as of which day, is in the audit log."""
    today = clock.today().isoformat()

    assert (await _get(api, "/exports/ropa.json")).status_code == 200

    (event,) = await events(audit_log, action=ACTION)
    assert (event.principal, event.outcome, event.target) == (
        handle_of(Role.PRIVACY_OFFICER),
        Outcome.ALLOWED,
        "ropa.json",
    )
    assert event.detail == {"asOf": today}


async def test_r_acc_6_nothing_is_sent_when_the_export_cannot_be_audited(
    api: Api, audit_log: AuditLog
) -> None:
    """R-ACC-6: nothing is sent when the export cannot be audited."""
    await break_the_log(audit_log)

    response = await _get(api, "/exports/ropa.json")

    assert response.status_code == 503
    assert error_of(response)["code"] == "AUDIT_UNAVAILABLE"
    assert b"controllers" not in response.content


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/exports/ropa.pdf", "format"),
        ("/exports/ropa.json?asOf=2026-13-01", "asOf"),
        ("/exports/ropa.json?asOf=yesterday", "asOf"),
        ("/exports/ropa.csv?part=everything", "part"),
        ("/exports/ropa.json?part=transfers", "part"),
    ],
)
async def test_bad_input_is_a_typed_400_and_audited(
    api: Api, audit_log: AuditLog, path: str, field: str
) -> None:
    response = await _get(api, path)

    assert response.status_code == 400, response.text
    assert error_of(response)["code"] == "INVALID_INPUT"
    assert field in error_of(response)["message"]
    (event,) = await events(audit_log, action=ACTION)
    assert event.outcome is Outcome.FAILED


async def test_a_day_after_today_is_refused(api: Api) -> None:
    tomorrow = (clock.today() + timedelta(days=1)).isoformat()

    response = await _get(api, f"/exports/ropa.md?asOf={tomorrow}")

    assert response.status_code == 400
    assert error_of(response)["code"] == "INVALID_INPUT"


async def test_an_unknown_controller_is_not_found(api: Api) -> None:
    response = await _get(api, "/exports/ropa.json?controller=nobody")

    assert response.status_code == 404
    assert error_of(response)["code"] == "NOT_FOUND"


async def test_one_controllers_export(api: Api) -> None:
    response = await _get(api, "/exports/ropa.json?controller=dmx-us")

    assert [row["controller"] for row in json.loads(response.content)["controllers"]] == ["dmx-us"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-token"}])
async def test_without_a_valid_token_it_is_401_and_nothing_is_sent(
    api: Api, audit_log: AuditLog, headers: dict[str, str]
) -> None:
    response = await api.client.get("/exports/ropa.json", headers=headers)

    assert response.status_code == 401
    assert error_of(response)["code"] == "UNAUTHENTICATED"
    assert await events(audit_log, action=ACTION) == []
