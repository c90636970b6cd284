"""What changed between two days (R-INV-4): the privacy team's periodic review."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry import clock
from registry.access.policy import Role
from registry.db import transaction
from registry.errors import InvalidInput
from registry.record.activities import service as activities
from registry.record.documents import service as documents
from registry.record.past import diff
from registry.record.past.diff import DiffKind
from tests.conftest import OFFICER, Api
from tests.history.past import (
    ENDED,
    NEW_NAME,
    NOTED,
    OLD_NAME,
    RENAMED,
    RETIRED,
    SUB_PROCESSOR,
    change_the_next_day,
    day_after_seeding,
)

Sessions = async_sessionmaker[AsyncSession]
ACTIVITY = "call-recording-and-monitoring"

DIFF = """
query Diff($from: Date!, $to: Date!) {
  diff(from: $from, to: $to) {
    from to
    changes { subjectType subjectSlug kind fields before after }
  }
}
"""


async def test_r_inv_4_diff_lists_exactly_what_changed_between_two_days(
    api: Api, seeded: Sessions, frozen_clock: clock.FrozenClock
) -> None:
    """R-INV-4: between T and the next day, the diff holds each change made, and no other."""
    day = await day_after_seeding(seeded, frozen_clock)
    await change_the_next_day(frozen_clock, seeded)

    data = await api.data(DIFF, {"from": day.isoformat(), "to": clock.today().isoformat()})

    found = data["diff"]
    assert (found["from"], found["to"]) == (day.isoformat(), clock.today().isoformat())
    kinds = {(c["subjectType"], c["subjectSlug"]): c for c in found["changes"]}
    assert {key: (c["kind"], c["fields"]) for key, c in kinds.items()} == {
        ("entity", RENAMED): ("CHANGED", ["legal_name"]),
        ("entity", RETIRED): ("RETIRED", ["retired_on", "retirement_reason"]),
        ("entity", SUB_PROCESSOR): ("ADDED", kinds["entity", SUB_PROCESSOR]["fields"]),
        ("engagement", f"talkdesk>{SUB_PROCESSOR}"): (
            "ADDED",
            ["ended_on", "processor", "since", "sub_processor"],
        ),
        ("transfer", ENDED): ("RETIRED", ["ended_on"]),
        ("transfer", NOTED): ("CHANGED", ["note"]),
    }
    renamed = kinds["entity", RENAMED]
    assert renamed["before"]["legal_name"] == OLD_NAME
    assert renamed["after"]["legal_name"] == NEW_NAME
    added = kinds["entity", SUB_PROCESSOR]
    assert added["before"] is None and added["after"]["slug"] == SUB_PROCESSOR


async def test_a_diff_of_the_days_before_the_changes_is_empty(
    seeded: Sessions, frozen_clock: clock.FrozenClock
) -> None:
    day = await day_after_seeding(seeded, frozen_clock)
    await change_the_next_day(frozen_clock, seeded)

    async with transaction(seeded) as session:
        same_day = await diff.diff(session=session, actor=OFFICER, since=day, until=day)
        today = clock.today()
        today_only = await diff.diff(session=session, actor=OFFICER, since=today, until=today)
        seeding = await diff.diff(
            session=session, actor=OFFICER, since=day - timedelta(days=2), until=day
        )

    assert same_day.changes == [] and today_only.changes == []
    # Seeding created the whole record: every part of it is added, nothing else.
    assert seeding.changes and {c.kind for c in seeding.changes} == {DiffKind.ADDED}


async def test_a_diff_backwards_or_into_the_future_is_refused(
    api: Api, seeded: Sessions, frozen_clock: clock.FrozenClock
) -> None:
    day = await day_after_seeding(seeded, frozen_clock)
    later = (day + timedelta(days=1)).isoformat()

    backwards = await api.query(DIFF, {"from": later, "to": day.isoformat()})
    future = await api.query(DIFF, {"from": day.isoformat(), "to": later})

    for body in (backwards, future):
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT", body
    async with transaction(seeded) as session:
        with pytest.raises(InvalidInput):
            await diff.diff(
                session=session, actor=OFFICER, since=day + timedelta(days=1), until=day
            )


async def test_a_diff_is_read_only_by_those_who_may_read_the_history(
    api: Api, seeded: Sessions, frozen_clock: clock.FrozenClock
) -> None:
    day = await day_after_seeding(seeded, frozen_clock)
    variables = {"from": day.isoformat(), "to": day.isoformat()}

    refused = await api.query(DIFF, variables, role=Role.AGENT)
    allowed = await api.query(DIFF, variables, role=Role.INTEGRATION)

    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "errors" not in allowed


async def test_r_inv_4_a_withdrawn_document_and_a_retired_activity_show_as_retired(
    seeded: Sessions, frozen_clock: clock.FrozenClock
) -> None:
    """R-INV-4: a document withdrawn and an activity retired stay on record; between the
    days around it, the diff says they stopped, not merely that a field changed."""
    day = await day_after_seeding(seeded, frozen_clock)
    frozen_clock.advance(timedelta(days=1))
    async with transaction(seeded) as session:
        await documents.withdraw_document(
            session=session,
            actor=OFFICER,
            slug="scc-group-to-talkdesk",
            on=None,
            reason="replaced by the signed copy",
        )
        await activities.retire_activity(
            session=session, actor=OFFICER, slug=ACTIVITY, reason="recording stopped"
        )

    async with transaction(seeded) as session:
        found = await diff.diff(session=session, actor=OFFICER, since=day, until=clock.today())

    kinds = {(c.subject_type, c.subject_slug): (c.kind, c.fields) for c in found.changes}
    withdrawn_kind, withdrawn_fields = kinds["document", "scc-group-to-talkdesk"]
    retired_kind, retired_fields = kinds["activity", ACTIVITY]
    assert withdrawn_kind is DiffKind.RETIRED and "withdrawn_on" in withdrawn_fields
    assert retired_kind is DiffKind.RETIRED and "retired_on" in retired_fields
