"""Editing the processing activities through their service, on both backends: each rule,
its typed change (R-INV-4), and bad input refused with nothing written."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from registry.access.policy import Role
from registry.access.service import Actor
from registry.db import transaction
from registry.errors import Conflict, Forbidden, InvalidInput, NotFound
from registry.record import answers
from registry.record.activities import service
from registry.record.activities.service import SecurityMeasure
from registry.record.history.models import Change, ChangeEvent
from registry.record.inventory.models import (
    Activity,
    ActivityDraft,
    DpiaStatus,
    LegalBasis,
    Purpose,
    PurposeBasis,
    SubjectCategory,
)
from tests.conftest import OFFICER, SEEDS

Sessions = async_sessionmaker[AsyncSession]
ACTIVITY = "call-recording-and-monitoring"
SEEDED = yaml.safe_load((SEEDS / "activity.yaml").read_text(encoding="utf-8"))["activities"][0]
AGENT = Actor(handle="agent", roles=frozenset({Role.AGENT}))
# A category of data subjects that the activity does not have.
VISITOR = "visitor"


@pytest.fixture
async def visitor(seeded: Sessions) -> str:
    # The taxonomy has no editing service of its own here: the row is the test's setup.
    async with transaction(seeded) as session:
        session.add(SubjectCategory(key=VISITOR, name="Visitors"))
    return VISITOR


def new_draft(**overrides: Any) -> ActivityDraft:
    values: dict[str, Any] = {
        "slug": "payroll",
        "name": "Payroll",
        "description": "Paying the group's employees.",
        "source": "The employees themselves.",
        "automated_decisions": "None.",
        "arrangement_summary": "Each company pays its own employees.",
        "transfer_summary": "None outside the EEA.",
        "recipient_categories": ["Tax authorities"],
    }
    values.update(overrides)
    return ActivityDraft(**values)


async def changes_of(sessions: Sessions, *events: ChangeEvent) -> list[Change]:
    async with sessions() as session:
        query = select(Change).order_by(col(Change.id))
        if events:
            query = query.where(col(Change.event).in_(events))
        return list((await session.scalars(query)).all())


async def change_count(sessions: Sessions) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Change)) or 0)


async def test_r_inv_4_the_seeded_activity_has_its_changes_like_any_other(
    seeded: Sessions,
) -> None:
    """R-INV-4: the seeds go through the service; each part they made has its event."""
    bases = sum(len(p["bases"]) for p in SEEDED["purposes"])
    created = await changes_of(seeded, ChangeEvent.ACTIVITY_CREATED)
    assert [(c.subject_slug, c.actor) for c in created] == [(ACTIVITY, "system:seed")]
    assert created[0].after is not None and created[0].after["name"] == SEEDED["name"]
    assert len(await changes_of(seeded, ChangeEvent.PURPOSE_ADDED)) == len(SEEDED["purposes"])
    assert len(await changes_of(seeded, ChangeEvent.LEGAL_BASIS_SET)) == bases
    subjects = await changes_of(seeded, ChangeEvent.ACTIVITY_SUBJECT_ADDED)
    assert [c.subject_slug for c in subjects] == [
        f"{ACTIVITY}>{key}" for key in SEEDED["subject_categories"]
    ]
    async with seeded() as session:
        activity = await service.activity_by_slug(session, ACTIVITY)
    assert activity.recipient_categories == SEEDED["recipient_categories"]
    assert activity.security_measures == SEEDED["security_measures"]
    assert activity.dpia_status is DpiaStatus.NOT_ASSESSED


async def test_r_inv_4_creating_an_activity_records_it_whole(seeded: Sessions) -> None:
    """R-INV-4: a new activity is recorded with its snapshot; text is trimmed."""
    async with transaction(seeded) as session:
        await service.create_activity(
            session=session,
            actor=OFFICER,
            draft=new_draft(name="  Payroll  ", dpia_status=DpiaStatus.NOT_REQUIRED),
            security_measures=[SecurityMeasure("access-control", "Need-to-know access", True)],
        )
    change = (await changes_of(seeded, ChangeEvent.ACTIVITY_CREATED))[-1]
    assert change.subject_type == "activity" and change.subject_slug == "payroll"
    assert change.before is None and change.after is not None
    assert change.after["name"] == "Payroll"
    assert change.after["dpia_status"] == "not_required"
    assert change.after["retired_on"] is None
    assert change.after["security_measures"] == [
        {
            "key": "access-control",
            "description": "Need-to-know access",
            "enforced_by_software": True,
        }
    ]


@pytest.mark.parametrize(
    ("overrides", "error", "field"),
    [
        ({"slug": ACTIVITY}, Conflict, "slug"),
        ({"slug": "Pay Roll"}, InvalidInput, "slug"),
        ({"name": "   "}, InvalidInput, "name"),
        ({"name": "Pay\nroll"}, InvalidInput, "name"),
        ({"description": ""}, InvalidInput, "description"),
        ({"recipient_categories": ["Banks", "banks"]}, InvalidInput, "recipient_categories"),
        ({"recipient_categories": [" "]}, InvalidInput, "recipient_categories"),
    ],
)
async def test_bad_activities_are_refused_with_nothing_written(
    seeded: Sessions, overrides: dict[str, Any], error: type[Exception], field: str
) -> None:
    before = await change_count(seeded)
    with pytest.raises(error) as raised:
        async with transaction(seeded) as session:
            await service.create_activity(
                session=session, actor=OFFICER, draft=new_draft(**overrides)
            )
    assert getattr(raised.value, "field", None) == field
    assert await change_count(seeded) == before


async def test_r_inv_4_an_update_records_before_and_after_with_its_reason(
    seeded: Sessions,
) -> None:
    """R-INV-4: an edit keeps what the activity was, what it became, and why."""
    async with transaction(seeded) as session:
        await service.update_activity(
            session=session,
            actor=OFFICER,
            slug=ACTIVITY,
            changes={
                "name": "Call recording",
                "dpia_status": "done",
                "dpia_reference": " DPIA-2026-04 ",
                "lia_reference": "LIA-7",
            },
            reason="annual review",
        )
    (change,) = await changes_of(seeded, ChangeEvent.ACTIVITY_UPDATED)
    assert change.before is not None and change.after is not None
    assert change.before["name"] == SEEDED["name"] and change.after["name"] == "Call recording"
    assert change.before["dpia_status"] == "not_assessed"
    assert change.after["dpia_status"] == "done"
    assert change.after["dpia_reference"] == "DPIA-2026-04"
    assert change.after["lia_reference"] == "LIA-7"
    assert change.reason == "annual review"


async def test_an_update_that_changes_nothing_records_nothing(seeded: Sessions) -> None:
    before = await change_count(seeded)
    async with transaction(seeded) as session:
        await service.update_activity(
            session=session, actor=OFFICER, slug=ACTIVITY, changes={"name": SEEDED["name"]}
        )
    assert await change_count(seeded) == before


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"slug": "renamed"}, None),
        ({"retired_on": "2026-01-01"}, None),
        ({"dpia_status": "maybe"}, "dpia_status"),
        ({"name": None}, "name"),
        ({"source": "  "}, "source"),
        ({"dpia_reference": "x" * 301}, "dpia_reference"),
    ],
)
async def test_bad_updates_are_refused_naming_the_field(
    seeded: Sessions, changes: dict[str, Any], field: str | None
) -> None:
    before = await change_count(seeded)
    with pytest.raises(InvalidInput) as raised:
        async with transaction(seeded) as session:
            await service.update_activity(
                session=session, actor=OFFICER, slug=ACTIVITY, changes=changes
            )
    assert raised.value.field == field
    assert await change_count(seeded) == before


async def test_an_agent_may_not_edit_an_activity(seeded: Sessions) -> None:
    with pytest.raises(Forbidden):
        async with transaction(seeded) as session:
            await service.update_activity(
                session=session, actor=AGENT, slug=ACTIVITY, changes={"name": "Mine"}
            )
    with pytest.raises(Forbidden):
        async with transaction(seeded) as session:
            await service.add_purpose(
                session=session, actor=AGENT, activity_slug=ACTIVITY, key="k", name="K"
            )


async def test_r_inv_4_a_retired_activity_keeps_its_history_and_leaves_who_processes(
    seeded: Sessions,
) -> None:
    """R-INV-4: retiring keeps the activity and its history; from that day nobody processes
    its data, so it takes no part in whoProcesses."""
    async with seeded() as session:
        assert await answers.who_processes(session=session, actor=OFFICER)
    async with transaction(seeded) as session:
        await service.retire_activity(
            session=session, actor=OFFICER, slug=ACTIVITY, reason="Calls no longer recorded"
        )
    async with seeded() as session:
        assert await answers.who_processes(session=session, actor=OFFICER) == []
        activity = await service.activity_by_slug(session, ACTIVITY)
    assert activity.retired_on is not None
    assert activity.retirement_reason == "Calls no longer recorded"
    (change,) = await changes_of(seeded, ChangeEvent.ACTIVITY_RETIRED)
    assert change.reason == "Calls no longer recorded"
    assert len(await changes_of(seeded, ChangeEvent.ACTIVITY_CREATED)) == 1
    with pytest.raises(Conflict):
        async with transaction(seeded) as session:
            await service.retire_activity(
                session=session, actor=OFFICER, slug=ACTIVITY, reason="again"
            )
    with pytest.raises(Conflict):
        async with transaction(seeded) as session:
            await service.update_activity(
                session=session, actor=OFFICER, slug=ACTIVITY, changes={"name": "Late"}
            )


async def test_retiring_needs_a_reason(seeded: Sessions) -> None:
    with pytest.raises(InvalidInput):
        async with transaction(seeded) as session:
            await service.retire_activity(session=session, actor=OFFICER, slug=ACTIVITY, reason=" ")
    assert await changes_of(seeded, ChangeEvent.ACTIVITY_RETIRED) == []


async def test_r_inv_4_purposes_are_added_renamed_and_removed_with_their_bases(
    seeded: Sessions,
) -> None:
    """R-INV-4: each purpose edit is a typed change naming the activity; removing a purpose
    removes its legal bases, each with its own change."""
    async with transaction(seeded) as session:
        await service.add_purpose(
            session=session,
            actor=OFFICER,
            activity_slug=ACTIVITY,
            key="fraud-prevention",
            name="Fraud prevention",
        )
        await service.update_purpose(
            session=session,
            actor=OFFICER,
            activity_slug=ACTIVITY,
            key="fraud-prevention",
            changes={"description": "Spotting fraudulent callers"},
        )
    added = (await changes_of(seeded, ChangeEvent.PURPOSE_ADDED))[-1]
    assert added.subject_type == "purpose"
    assert added.subject_slug == f"{ACTIVITY}>fraud-prevention"
    assert added.after is not None and added.after["activity"] == ACTIVITY
    (updated,) = await changes_of(seeded, ChangeEvent.PURPOSE_UPDATED)
    assert updated.after is not None
    assert updated.after["description"] == "Spotting fraudulent callers"
    removed_key = SEEDED["purposes"][0]["key"]
    async with transaction(seeded) as session:
        await service.remove_purpose(
            session=session, actor=OFFICER, activity_slug=ACTIVITY, key=removed_key
        )
    (removed,) = await changes_of(seeded, ChangeEvent.PURPOSE_REMOVED)
    assert removed.subject_slug == f"{ACTIVITY}>{removed_key}" and removed.after is None
    bases_removed = await changes_of(seeded, ChangeEvent.LEGAL_BASIS_REMOVED)
    assert [c.subject_slug for c in bases_removed] == [
        f"{ACTIVITY}>{removed_key}>{b['subject']}" for b in SEEDED["purposes"][0]["bases"]
    ]
    async with seeded() as session:
        keys = set((await session.scalars(select(col(Purpose.key)))).all())
    assert removed_key not in keys and "fraud-prevention" in keys


async def test_purpose_rules(seeded: Sessions) -> None:
    """A key is unique in its activity and fixed; an activity keeps at least one purpose."""
    key = SEEDED["purposes"][0]["key"]
    with pytest.raises(Conflict):
        async with transaction(seeded) as session:
            await service.add_purpose(
                session=session, actor=OFFICER, activity_slug=ACTIVITY, key=key, name="Again"
            )
    with pytest.raises(InvalidInput) as raised:
        async with transaction(seeded) as session:
            await service.update_purpose(
                session=session,
                actor=OFFICER,
                activity_slug=ACTIVITY,
                key=key,
                changes={"key": "other"},
            )
    with pytest.raises(InvalidInput) as raised:
        async with transaction(seeded) as session:
            await service.add_purpose(
                session=session, actor=OFFICER, activity_slug=ACTIVITY, key="ok", name=" "
            )
    assert raised.value.field == "name"
    with pytest.raises(NotFound):
        async with transaction(seeded) as session:
            await service.remove_purpose(
                session=session, actor=OFFICER, activity_slug=ACTIVITY, key="unknown"
            )
    before = await change_count(seeded)
    *others, last = [p["key"] for p in SEEDED["purposes"]]
    with pytest.raises(Conflict) as refused:
        async with transaction(seeded) as session:
            for other in others:
                await service.remove_purpose(
                    session=session, actor=OFFICER, activity_slug=ACTIVITY, key=other
                )
            await service.remove_purpose(
                session=session, actor=OFFICER, activity_slug=ACTIVITY, key=last
            )
    assert refused.value.field == "purpose"
    assert await change_count(seeded) == before


async def test_r_inv_4_a_legal_basis_is_set_replaced_and_removed(seeded: Sessions) -> None:
    """R-INV-4: a purpose's basis per subject category, each change with before and after."""
    purpose = SEEDED["purposes"][0]
    subject = purpose["bases"][0]["subject"]
    slug = f"{ACTIVITY}>{purpose['key']}>{subject}"
    async with transaction(seeded) as session:
        await service.set_legal_basis(
            session=session,
            actor=OFFICER,
            activity_slug=ACTIVITY,
            purpose_key=purpose["key"],
            subject_key=subject,
            legal_basis=LegalBasis.LEGITIMATE_INTERESTS,
            note="Balancing test LIA-7",
        )
    change = (await changes_of(seeded, ChangeEvent.LEGAL_BASIS_SET))[-1]
    assert change.subject_type == "purpose_basis" and change.subject_slug == slug
    assert change.before is not None
    assert change.before["legal_basis"] == purpose["bases"][0]["legal_basis"]
    assert change.after == {
        "activity": ACTIVITY,
        "purpose": purpose["key"],
        "subject_category": subject,
        "legal_basis": "art6_1_f",
        "note": "Balancing test LIA-7",
    }
    async with transaction(seeded) as session:
        await service.remove_legal_basis(
            session=session,
            actor=OFFICER,
            activity_slug=ACTIVITY,
            purpose_key=purpose["key"],
            subject_key=subject,
        )
    (removed,) = await changes_of(seeded, ChangeEvent.LEGAL_BASIS_REMOVED)
    assert removed.subject_slug == slug and removed.after is None
    assert removed.before == change.after
    with pytest.raises(NotFound):
        async with transaction(seeded) as session:
            await service.remove_legal_basis(
                session=session,
                actor=OFFICER,
                activity_slug=ACTIVITY,
                purpose_key=purpose["key"],
                subject_key=subject,
            )


async def test_a_legal_basis_names_a_subject_category_of_the_activity(
    seeded: Sessions, visitor: str
) -> None:
    async with seeded() as session:
        bases = await session.scalar(select(func.count()).select_from(PurposeBasis))
    with pytest.raises(InvalidInput) as raised:
        async with transaction(seeded) as session:
            await service.set_legal_basis(
                session=session,
                actor=OFFICER,
                activity_slug=ACTIVITY,
                purpose_key=SEEDED["purposes"][0]["key"],
                subject_key=VISITOR,
                legal_basis=LegalBasis.CONTRACT,
            )
    assert raised.value.field == "subject_category"
    async with seeded() as session:
        assert await session.scalar(select(func.count()).select_from(PurposeBasis)) == bases


async def test_r_inv_4_subjects_are_added_and_removed_once_no_basis_names_them(
    seeded: Sessions, visitor: str
) -> None:
    """R-INV-4: a subject category named by a legal basis stays until that basis goes."""
    async with transaction(seeded) as session:
        await service.add_activity_subject(
            session=session, actor=OFFICER, activity_slug=ACTIVITY, subject_key=VISITOR
        )
    added = (await changes_of(seeded, ChangeEvent.ACTIVITY_SUBJECT_ADDED))[-1]
    assert added.subject_slug == f"{ACTIVITY}>{VISITOR}"
    assert added.after == {"activity": ACTIVITY, "subject_category": VISITOR}
    with pytest.raises(Conflict):
        async with transaction(seeded) as session:
            await service.add_activity_subject(
                session=session, actor=OFFICER, activity_slug=ACTIVITY, subject_key=VISITOR
            )
    named = SEEDED["subject_categories"][0]
    with pytest.raises(Conflict) as refused:
        async with transaction(seeded) as session:
            await service.remove_activity_subject(
                session=session, actor=OFFICER, activity_slug=ACTIVITY, subject_key=named
            )
    assert refused.value.field == "subject_category"
    async with transaction(seeded) as session:
        await service.remove_activity_subject(
            session=session, actor=OFFICER, activity_slug=ACTIVITY, subject_key=VISITOR
        )
    (removed,) = await changes_of(seeded, ChangeEvent.ACTIVITY_SUBJECT_REMOVED)
    assert removed.before == added.after and removed.after is None


async def test_r_inv_4_security_measures_and_recipients_are_replaced_whole(
    seeded: Sessions,
) -> None:
    """R-INV-4: each whole-list replacement is one update of the activity."""
    async with transaction(seeded) as session:
        await service.set_security_measures(
            session=session,
            actor=OFFICER,
            activity_slug=ACTIVITY,
            measures=[SecurityMeasure("aes-256", " AES-256 at rest ", True)],
        )
        await service.set_recipient_categories(
            session=session,
            actor=OFFICER,
            activity_slug=ACTIVITY,
            categories=["The joint controllers"],
        )
    first, second = await changes_of(seeded, ChangeEvent.ACTIVITY_UPDATED)
    assert first.after is not None and second.after is not None
    assert first.after["security_measures"] == [
        {"key": "aes-256", "description": "AES-256 at rest", "enforced_by_software": True}
    ]
    assert second.before is not None
    assert second.before["recipient_categories"] == SEEDED["recipient_categories"]
    assert second.after["recipient_categories"] == ["The joint controllers"]


@pytest.mark.parametrize(
    "measures",
    [
        [SecurityMeasure("a", "A", True), SecurityMeasure("a", "B", False)],
        [SecurityMeasure("Not A Key", "A", True)],
        [SecurityMeasure("a", "  ", True)],
    ],
)
async def test_bad_security_measures_are_refused(
    seeded: Sessions, measures: list[SecurityMeasure]
) -> None:
    with pytest.raises(InvalidInput):
        async with transaction(seeded) as session:
            await service.set_security_measures(
                session=session, actor=OFFICER, activity_slug=ACTIVITY, measures=measures
            )
    async with seeded() as session:
        activity = await session.scalar(select(Activity).where(col(Activity.slug) == ACTIVITY))
    assert activity is not None and activity.security_measures == SEEDED["security_measures"]
