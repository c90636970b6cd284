"""The activities' mutations through the real app, and the activity as of a day (R-INV-4)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry import clock
from registry.access.policy import Role
from registry.db import transaction
from registry.record.activities import service
from registry.record.inventory.models import LegalBasis
from tests.conftest import OFFICER, Api
from tests.history.past import day_after_seeding

Sessions = async_sessionmaker[AsyncSession]
ACTIVITY = "call-recording-and-monitoring"
PURPOSE = "quality-control"
SUBJECT = "customer"

ACTIVITY_FIELDS = """
  slug name dpiaStatus dpiaReference liaReference retiredOn retirementReason
  recipientCategories securityMeasures { key description enforcedBySoftware }
  subjectCategories { key }
  purposes { key name legalBases { subjectCategory { key } legalBasis note } }
"""
UPDATE = f"""
mutation($slug: String!, $input: UpdateActivityInput!, $reason: String) {{
  updateActivity(slug: $slug, input: $input, reason: $reason) {{
    activity {{ {ACTIVITY_FIELDS} }}
    errors {{ __typename message ... on InvalidInputError {{ field }} }}
  }}
}}
"""
CREATE = f"""
mutation($input: CreateActivityInput!) {{
  createActivity(input: $input) {{
    activity {{ {ACTIVITY_FIELDS} }}
    errors {{ __typename message }}
  }}
}}
"""
RETIRE = """
mutation($slug: String!, $reason: String!) {
  retireActivity(slug: $slug, reason: $reason) {
    activity { retiredOn retirementReason }
    errors { __typename message }
  }
}
"""
AS_OF = f"""
query($asOf: Date) {{ activities(asOf: $asOf) {{ {ACTIVITY_FIELDS} }} }}
"""
WHO = "query($asOf: Date) { whoProcesses(asOf: $asOf) { entity { slug } } }"


def _errors(payload: dict[str, Any]) -> list[str]:
    return [e["__typename"] for e in payload["errors"]]


async def test_an_officer_creates_an_activity_and_reads_it_back(api: Api) -> None:
    data = await api.data(
        CREATE,
        {
            "input": {
                "slug": "payroll",
                "name": "Payroll",
                "description": "Paying the employees.",
                "source": "The employees.",
                "automatedDecisions": "None.",
                "arrangementSummary": "Each company pays its own.",
                "transferSummary": "None.",
                "dpiaStatus": "NOT_REQUIRED",
                "liaReference": "LIA-3",
            }
        },
    )
    payload = data["createActivity"]
    assert payload["errors"] == []
    assert payload["activity"]["slug"] == "payroll"
    assert payload["activity"]["dpiaStatus"] == "NOT_REQUIRED"
    assert payload["activity"]["liaReference"] == "LIA-3"
    assert payload["activity"]["dpiaReference"] is None
    assert payload["activity"]["retiredOn"] is None


async def test_bad_input_is_a_typed_error_naming_the_field(api: Api) -> None:
    data = await api.data(UPDATE, {"slug": ACTIVITY, "input": {"name": "  "}})
    payload = data["updateActivity"]
    assert payload["activity"] is None
    assert payload["errors"][0]["__typename"] == "InvalidInputError"
    assert payload["errors"][0]["field"] == "name"
    missing = await api.data(UPDATE, {"slug": "no-such", "input": {"name": "X"}})
    assert _errors(missing["updateActivity"]) == ["NotFoundError"]


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.PRIVACY_OFFICER])
async def test_only_the_privacy_officer_edits_an_activity(api: Api, role: Role) -> None:
    data = await api.data(UPDATE, {"slug": ACTIVITY, "input": {"name": "Mine"}}, role=role)
    assert _errors(data["updateActivity"]) == ["ForbiddenError"]
    data = await api.data(AS_OF, {})
    assert data["activities"][0]["name"] != "Mine"


async def test_a_retired_activity_leaves_who_processes(api: Api) -> None:
    assert (await api.data(WHO))["whoProcesses"] != []
    data = await api.data(RETIRE, {"slug": ACTIVITY, "reason": "No longer recorded"})
    assert data["retireActivity"] == {
        "activity": {
            "retiredOn": clock.today().isoformat(),
            "retirementReason": "No longer recorded",
        },
        "errors": [],
    }
    assert (await api.data(WHO))["whoProcesses"] == []
    again = await api.data(RETIRE, {"slug": ACTIVITY, "reason": "Again"})
    assert _errors(again["retireActivity"]) == ["ConflictError"]


async def test_r_inv_4_an_activity_as_of_a_day_reads_as_it_was_known_then(
    api: Api, seeded: Sessions, frozen_clock: clock.FrozenClock
) -> None:
    """R-INV-4: an activity renamed, a purpose added, a basis changed and the activity
    retired after T read as before as of T; today they read as changed."""
    day = await day_after_seeding(seeded, frozen_clock)
    before = await api.data(AS_OF, {})
    who_before = await api.data(WHO, {})
    frozen_clock.advance(timedelta(days=1))
    async with transaction(seeded) as session:
        await service.update_activity(
            session=session,
            actor=OFFICER,
            slug=ACTIVITY,
            changes={"name": "Call recording", "dpia_status": "done"},
        )
        await service.add_purpose(
            session=session, actor=OFFICER, activity_slug=ACTIVITY, key="fraud", name="Fraud"
        )
        await service.set_legal_basis(
            session=session,
            actor=OFFICER,
            activity_slug=ACTIVITY,
            purpose_key=PURPOSE,
            subject_key=SUBJECT,
            legal_basis=LegalBasis.LEGITIMATE_INTERESTS,
            note="Changed",
        )
        await service.remove_legal_basis(
            session=session,
            actor=OFFICER,
            activity_slug=ACTIVITY,
            purpose_key=PURPOSE,
            subject_key="employee.agent",
        )
        await service.set_recipient_categories(
            session=session, actor=OFFICER, activity_slug=ACTIVITY, categories=["Only us"]
        )
        await service.retire_activity(session=session, actor=OFFICER, slug=ACTIVITY, reason="Ended")

    then = await api.data(AS_OF, {"asOf": day.isoformat()})
    now = await api.data(AS_OF, {})
    assert then == before
    assert (await api.data(WHO, {"asOf": day.isoformat()})) == who_before
    assert (await api.data(WHO, {}))["whoProcesses"] == []
    (activity,) = now["activities"]
    assert activity["name"] == "Call recording" and activity["dpiaStatus"] == "DONE"
    assert activity["retiredOn"] == clock.today().isoformat()
    assert activity["recipientCategories"] == ["Only us"]
    purposes = {p["key"]: p for p in activity["purposes"]}
    assert "fraud" in purposes
    assert purposes[PURPOSE]["legalBases"] == [
        {
            "subjectCategory": {"key": SUBJECT},
            "legalBasis": "LEGITIMATE_INTERESTS",
            "note": "Changed",
        }
    ]
