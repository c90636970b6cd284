"""POST /imports/entities: the console's import, with a token, under the policy, audited."""

from __future__ import annotations

import httpx
import pytest

from registry.access.policy import Role
from registry.audit.models import Outcome
from registry.audit.service import AuditLog
from registry.record.imports import parse
from tests.access.test_policy_walk import handle_of
from tests.audit.test_graphql import break_the_log
from tests.conftest import Api
from tests.imports.test_service import csv_of, new_row, row_for, rows_of
from tests.recordings.test_http import bearer, error_of, events

ACTION = "import.entities"
CHANGES = """
query { changes(first: 100, events: [ENTITY_UPDATED]) {
  nodes { subjectSlug requestId importBatch { fileName sha256 actor } } } }
"""


async def _export(api: Api) -> list[dict[str, str]]:
    response = await api.client.get(
        "/exports/ropa.csv?part=entities", headers=bearer(api.tokens[Role.PRIVACY_OFFICER])
    )
    assert response.status_code == 200, response.text
    return rows_of(response.content)


async def _post(
    api: Api, data: bytes, query: str = "", role: Role = Role.PRIVACY_OFFICER
) -> httpx.Response:
    return await api.client.post(
        f"/imports/entities?fileName=entities.csv{query}",
        content=data,
        headers={**bearer(api.tokens[role]), "content-type": "text/csv"},
    )


async def test_a_dry_run_answers_the_plan_and_is_audited(api: Api, audit_log: AuditLog) -> None:
    rows = await _export(api)
    row_for(rows, "mood-media-austria")["contact"] = "privacy@example.at"

    response = await _post(api, csv_of(rows))

    assert response.status_code == 200, response.text
    plan = response.json()
    assert plan["applied"] is False and plan["counts"]["update"] == 1
    (changed,) = [row for row in plan["rows"] if row["action"] != "unchanged"]
    assert changed["changes"] == [
        {"column": "contact", "before": "", "after": "privacy@example.at"}
    ]
    (event,) = await events(audit_log, action=ACTION)
    assert (event.principal, event.outcome) == (handle_of(Role.PRIVACY_OFFICER), Outcome.ALLOWED)
    assert event.detail is not None and event.detail["applied"] == "false"


async def test_r_inv_4_an_applied_import_shows_its_batch_in_the_changes_feed(api: Api) -> None:
    """R-INV-4: the feed shows each change of an import with its batch (file and hash)."""
    rows = await _export(api)
    row_for(rows, "mood-media-austria")["contact"] = "privacy@example.at"
    data = csv_of(rows)
    planned = (await _post(api, data)).json()

    response = await _post(api, data, f"&apply=true&planHash={planned['planHash']}")

    assert response.status_code == 200, response.text
    assert response.json()["applied"] is True
    (change,) = (await api.data(CHANGES))["changes"]["nodes"]
    assert change["subjectSlug"] == "mood-media-austria"
    assert change["requestId"] == response.headers["x-request-id"]
    assert change["importBatch"] == {
        "fileName": "entities.csv",
        "sha256": planned["sha256"],
        "actor": handle_of(Role.PRIVACY_OFFICER),
    }


async def test_an_apply_with_errors_is_refused_with_its_plan_and_writes_nothing(
    api: Api, audit_log: AuditLog
) -> None:
    rows = await _export(api)
    row_for(rows, "mood-media-austria")["contact"] = "privacy@example.at"
    rows.append(new_row(rows[0], country="XX"))

    response = await _post(api, csv_of(rows), "&apply=true")

    assert response.status_code == 422, response.text
    (error,) = [e for row in response.json()["rows"] for e in row["errors"]]
    assert (error["column"], error["cell"]) == ("country", f"H{len(rows) + 1}")
    assert (await api.data(CHANGES))["changes"]["nodes"] == []
    (event,) = await events(audit_log, action=ACTION)
    assert event.outcome is Outcome.FAILED


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.INTEGRATION, Role.ADMIN])
async def test_only_a_privacy_officer_imports(api: Api, audit_log: AuditLog, role: Role) -> None:
    response = await _post(api, csv_of(await _export(api)), role=role)

    assert response.status_code == 403
    assert error_of(response)["code"] == "FORBIDDEN"
    (event,) = await events(audit_log, action=ACTION)
    assert event.outcome is Outcome.DENIED


async def test_without_a_token_nothing_is_read(api: Api) -> None:
    response = await api.client.post("/imports/entities", content=b"slug\nacme\n")

    assert response.status_code == 401


async def test_a_body_past_the_limit_is_refused_413(api: Api) -> None:
    response = await _post(api, bytes(parse.MAX_FILE_BYTES + 1))

    assert response.status_code == 413
    assert error_of(response)["code"] == "TOO_LARGE"


async def test_a_malformed_file_is_a_typed_400(api: Api) -> None:
    response = await _post(api, b"slug,colour\nacme,red\n")

    assert response.status_code == 400
    assert "unknown columns: colour" in error_of(response)["message"]


async def test_nothing_is_written_when_the_import_cannot_be_audited(
    api: Api, audit_log: AuditLog
) -> None:
    rows = await _export(api)
    row_for(rows, "mood-media-austria")["contact"] = "privacy@example.at"
    await break_the_log(audit_log)

    response = await _post(api, csv_of(rows), "&apply=true")

    assert response.status_code == 503
    assert (await api.data(CHANGES))["changes"]["nodes"] == []
