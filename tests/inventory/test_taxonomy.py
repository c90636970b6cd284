"""The taxonomy listed and extended, and the data categories an activity keeps (R-INV-1,
R-INV-6), through the service and the real GraphQL endpoint, on both backends."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from registry import clock
from registry.access.policy import Role
from registry.db import transaction
from registry.errors import Conflict, InvalidInput, NotFound, RuleBroken
from registry.record.history.models import Change, ChangeEvent
from registry.record.inventory import service as inventory
from registry.record.inventory.models import ActivityDataCategory, DataCategory
from registry.record.taxonomy import service as taxonomy
from registry.record.transfers import service as transfers
from registry.record.transfers.models import Transfer, TransferDataCategory
from tests.conftest import OFFICER, Api
from tests.history.past import day_after_seeding

Sessions = async_sessionmaker[AsyncSession]
ACTIVITY = "call-recording-and-monitoring"
# A seeded controller with transfers of its own (seeds/entities.yaml).
RETIRED = "dmx-us"
# The seeds' taxonomy (seeds/taxonomy.yaml), in key order.
SEEDED_KEYS = [
    "user.contact.email",
    "user.contact.phone",
    "user.job.department",
    "user.job.title",
    "user.location",
    "user.name",
    "user.special.biometric",
    "user.special.genetic",
    "user.special.health",
    "user.special.political_opinions",
    "user.special.racial_ethnic_origin",
    "user.special.religious_beliefs",
    "user.special.sex_life",
    "user.special.trade_union",
    "user.voice.recording",
    "user.volunteered",
]

CATEGORIES = """
query Categories($under: String, $asOf: Date) {
  dataCategories(under: $under, asOf: $asOf) { key name description specialCategory parentKey }
}
"""
ADD = """
mutation Add($parent: String!, $key: String!, $name: String!, $description: String) {
  addDataCategory(parentKey: $parent, key: $key, name: $name, description: $description) {
    dataCategory { key name description specialCategory parentKey }
    errors { __typename field ... on RuleBrokenError { ruleId } }
  }
}
"""
RETENTION = """
query Retention($asOf: Date) {
  activities(asOf: $asOf) { dataCategories { dataCategory { key } days criterion } }
}
"""


async def _events(sessions: Sessions, event: ChangeEvent) -> list[Change]:
    async with sessions() as session:
        query = select(Change).where(col(Change.event) == event).order_by(col(Change.id))
        return list((await session.scalars(query)).all())


async def _category_count(sessions: Sessions) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(DataCategory)) or 0)


async def _add_fax(sessions: Sessions) -> None:
    """A new category under user.contact, kept by the activity for 30 days."""
    async with transaction(sessions) as session:
        await taxonomy.add_data_category(
            session=session, actor=OFFICER, parent_key="user.contact", key="fax", name="Fax"
        )
        await inventory.attach_data_category(
            session=session,
            actor=OFFICER,
            activity_slug=ACTIVITY,
            category_key="user.contact.fax",
            retention_criterion="Kept with the recording",
            retention_days=30,
        )


def _retention(data: dict[str, Any]) -> dict[str, tuple[int | None, str]]:
    """The retention of each category of the one activity, from a payload or a list."""
    (activity,) = data["activities"] if "activities" in data else [data["activity"]]
    return {
        r["dataCategory"]["key"]: (r["days"], r["criterion"]) for r in activity["dataCategories"]
    }


async def test_data_categories_lists_the_taxonomy_with_each_parent(api: Api) -> None:
    found = (await api.data(CATEGORIES))["dataCategories"]
    assert [c["key"] for c in found] == SEEDED_KEYS
    by_key = {c["key"]: c for c in found}
    assert by_key["user.contact.email"]["parentKey"] == "user.contact"
    assert by_key["user.name"]["parentKey"] == "user"
    assert by_key["user.special.health"]["specialCategory"] is True
    assert by_key["user.name"]["specialCategory"] is False
    # Anyone who may read the activities may read the taxonomy.
    as_agent = await api.data(CATEGORIES, role=Role.AGENT)
    assert as_agent["dataCategories"] == found


async def test_under_keeps_a_key_and_its_descendants(api: Api) -> None:
    contact = await api.data(CATEGORIES, {"under": "user.contact"})
    assert [c["key"] for c in contact["dataCategories"]] == [
        "user.contact.email",
        "user.contact.phone",
    ]
    leaf = await api.data(CATEGORIES, {"under": "user.name"})
    assert [c["key"] for c in leaf["dataCategories"]] == ["user.name"]
    # A key's prefix that is not a whole segment names no node of the taxonomy.
    for unknown in ("user.cont", "nothing"):
        body = await api.query(CATEGORIES, {"under": unknown})
        assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_subject_categories_and_purposes_are_listed(api: Api) -> None:
    data = await api.data(
        """{ subjectCategories { key name }
             purposes(activity: "call-recording-and-monitoring") {
               key legalBases { subjectCategory { key } legalBasis } } }"""
    )
    assert {s["key"] for s in data["subjectCategories"]} >= {"customer", "employee.agent"}
    quality = next(p for p in data["purposes"] if p["key"] == "quality-control")
    bases = {b["subjectCategory"]["key"]: b["legalBasis"] for b in quality["legalBases"]}
    assert bases == {"customer": "CONSENT", "employee.agent": "LEGITIMATE_INTERESTS"}
    body = await api.query('{ purposes(activity: "no-such-activity") { key } }')
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_a_child_is_added_under_an_existing_parent(api: Api) -> None:
    data = await api.data(
        ADD, {"parent": "user.contact", "key": "fax", "name": "Fax number", "description": "d"}
    )
    assert data["addDataCategory"] == {
        "dataCategory": {
            "key": "user.contact.fax",
            "name": "Fax number",
            "description": "d",
            "specialCategory": False,
            "parentKey": "user.contact",
        },
        "errors": [],
    }
    listed = await api.data(CATEGORIES, {"under": "user.contact"})
    assert "user.contact.fax" in [c["key"] for c in listed["dataCategories"]]
    # Under a leaf too: a leaf is a parent like any other.
    leaf = await api.data(ADD, {"parent": "user.contact.fax", "key": "work", "name": "Work fax"})
    assert leaf["addDataCategory"]["dataCategory"]["key"] == "user.contact.fax.work"


@pytest.mark.parametrize(
    ("parent", "key", "error", "field"),
    [
        ("user.contact", "email", "ConflictError", "key"),
        ("user.nothing", "fax", "NotFoundError", "parent_key"),
        ("user.cont", "fax", "NotFoundError", "parent_key"),
        ("user.contact", "Fax", "InvalidInputError", "key"),
        ("user.contact", "a.b", "InvalidInputError", "key"),
        ("user.contact", " ", "InvalidInputError", "key"),
        ("User.Contact", "fax", "InvalidInputError", "parent_key"),
        ("user..contact", "fax", "InvalidInputError", "parent_key"),
    ],
)
async def test_a_bad_new_key_is_refused_and_adds_nothing(
    api: Api, seeded: Sessions, parent: str, key: str, error: str, field: str
) -> None:
    before = await _category_count(seeded)
    data = await api.data(ADD, {"parent": parent, "key": key, "name": "Fax"})
    assert data["addDataCategory"]["dataCategory"] is None
    assert data["addDataCategory"]["errors"] == [{"__typename": error, "field": field}]
    assert await _category_count(seeded) == before


@pytest.mark.parametrize(
    "parent",
    ["user.special", "user.special.health", "user.special.health.blood", "user.special.genetic"],
)
async def test_r_inv_1_nothing_is_added_under_the_special_categories_at_any_depth(
    seeded: Sessions, parent: str
) -> None:
    """R-INV-1: the Art. 9 branch, its inner node, its categories and anything below them,
    takes no new key."""
    before = await _category_count(seeded)
    async with transaction(seeded) as session:
        with pytest.raises(RuleBroken) as raised:
            await taxonomy.add_data_category(
                session=session, actor=OFFICER, parent_key=parent, key="blood", name="Blood type"
            )
    assert raised.value.rule_id == "R-INV-1"
    assert await _category_count(seeded) == before
    assert await _events(seeded, ChangeEvent.DATA_CATEGORY_ADDED) == []


async def test_r_inv_1_the_special_branch_is_refused_through_the_api(api: Api) -> None:
    """R-INV-1: the API answers the refusal as a broken rule, with its ID."""
    data = await api.data(ADD, {"parent": "user", "key": "special", "name": "Special"})
    assert data["addDataCategory"]["errors"] == [
        {"__typename": "RuleBrokenError", "field": "parent_key", "ruleId": "R-INV-1"}
    ]


async def test_an_agent_may_read_but_not_add(api: Api, seeded: Sessions) -> None:
    before = await _category_count(seeded)
    data = await api.data(
        ADD, {"parent": "user.contact", "key": "fax", "name": "Fax"}, role=Role.AGENT
    )
    assert [e["__typename"] for e in data["addDataCategory"]["errors"]] == ["ForbiddenError"]
    subject = await api.data(
        'mutation { addSubjectCategory(key: "visitor", name: "V") { errors { __typename } } }',
        role=Role.AGENT,
    )
    assert subject["addSubjectCategory"]["errors"] == [{"__typename": "ForbiddenError"}]
    assert await _category_count(seeded) == before


async def test_added_categories_are_logged_with_their_rows(seeded: Sessions) -> None:
    async with transaction(seeded) as session:
        category = await taxonomy.add_data_category(
            session=session,
            actor=OFFICER,
            parent_key="user.job",
            key="grade",
            name=" Pay grade ",
            description="As on the payslip",
        )
        subject = await taxonomy.add_subject_category(
            session=session, actor=OFFICER, key="visitor.guest", name="Guests"
        )
    (added,) = await _events(seeded, ChangeEvent.DATA_CATEGORY_ADDED)
    assert (added.subject_type, added.subject_slug, added.actor) == (
        "data_category",
        "user.job.grade",
        OFFICER.handle,
    )
    assert added.before is None
    assert added.after == {
        "id": category.id,
        "key": "user.job.grade",
        "name": "Pay grade",
        "description": "As on the payslip",
        "special_category": False,
    }
    (subject_added,) = await _events(seeded, ChangeEvent.SUBJECT_CATEGORY_ADDED)
    assert (subject_added.subject_type, subject_added.subject_slug) == (
        "subject_category",
        "visitor.guest",
    )
    assert subject_added.after == {
        "id": subject.id,
        "key": "visitor.guest",
        "name": "Guests",
        "description": None,
    }
    async with transaction(seeded) as session:
        with pytest.raises(Conflict):
            await taxonomy.add_subject_category(
                session=session, actor=OFFICER, key="customer", name="Again"
            )
        with pytest.raises(InvalidInput):
            await taxonomy.add_subject_category(
                session=session, actor=OFFICER, key="Customer Two", name="Bad key"
            )


@pytest.mark.parametrize("criterion", ["", "   ", None])
async def test_r_inv_6_a_retention_change_keeps_a_criterion(
    seeded: Sessions, criterion: str | None
) -> None:
    """R-INV-6: a retention is never left without its criterion."""
    async with transaction(seeded) as session:
        with pytest.raises(RuleBroken) as raised:
            await taxonomy.update_retention(
                session=session,
                actor=OFFICER,
                activity_slug=ACTIVITY,
                category_key="user.name",
                retention_criterion=criterion,
                retention_days=60,
            )
    assert raised.value.rule_id == "R-INV-6"
    assert await _events(seeded, ChangeEvent.RETENTION_CHANGED) == []


async def test_r_inv_6_retention_changes_through_the_api(api: Api, seeded: Sessions) -> None:
    """R-INV-6: days must be positive, a criterion is required; a good change is logged with
    the link's state before and after."""
    mutation = """
    mutation Keep($days: Int, $criterion: String!) {
      updateRetention(activity: "call-recording-and-monitoring", category: "user.name",
                      retentionDays: $days, retentionCriterion: $criterion, reason: "Review") {
        activity { dataCategories { dataCategory { key } days criterion } }
        errors { __typename field ... on RuleBrokenError { ruleId } }
      }
    }
    """
    blank = await api.data(mutation, {"days": 60, "criterion": " "})
    assert blank["updateRetention"]["errors"] == [
        {"__typename": "RuleBrokenError", "field": "retention_criterion", "ruleId": "R-INV-6"}
    ]
    for days in (0, -1):
        bad = await api.data(mutation, {"days": days, "criterion": "Two months"})
        assert bad["updateRetention"]["errors"] == [
            {"__typename": "InvalidInputError", "field": "retention_days"}
        ]
    good = await api.data(mutation, {"days": 60, "criterion": "Two months"})
    assert good["updateRetention"]["errors"] == []
    assert _retention(good["updateRetention"])["user.name"] == (60, "Two months")
    # The same values again change nothing and record nothing.
    await api.data(mutation, {"days": 60, "criterion": "Two months"})
    (changed,) = await _events(seeded, ChangeEvent.RETENTION_CHANGED)
    assert (changed.subject_type, changed.subject_slug, changed.reason) == (
        "activity_data_category",
        f"{ACTIVITY}>user.name",
        "Review",
    )
    # The notice states no retention for the name (R-INV-6): recording one states it.
    assert changed.before == {
        "retention_days": None,
        "retention_criterion": "Not stated in the notice",
        "retention_stated": False,
        "activity": ACTIVITY,
        "data_category": "user.name",
    }
    assert changed.after == {
        "retention_days": 60,
        "retention_criterion": "Two months",
        "retention_stated": True,
        "activity": ACTIVITY,
        "data_category": "user.name",
    }
    # A criterion alone is a retention on record too.
    no_days = await api.data(mutation, {"days": None, "criterion": "Until the contract ends"})
    assert _retention(no_days["updateRetention"])["user.name"] == (None, "Until the contract ends")


async def test_a_detached_category_leaves_the_activity_and_is_logged(
    api: Api, seeded: Sessions
) -> None:
    await _add_fax(seeded)
    data = await api.data(
        """mutation { detachDataCategory(activity: "call-recording-and-monitoring",
                                         category: "user.contact.fax", reason: "No fax any more") {
             activity { dataCategories { dataCategory { key } days criterion } }
             errors { __typename } } }"""
    )
    assert data["detachDataCategory"]["errors"] == []
    assert "user.contact.fax" not in _retention(data["detachDataCategory"])
    (detached,) = await _events(seeded, ChangeEvent.DATA_CATEGORY_DETACHED)
    assert (detached.subject_type, detached.subject_slug) == (
        "activity_data_category",
        f"{ACTIVITY}>user.contact.fax",
    )
    assert detached.after is None and detached.reason == "No fax any more"
    assert detached.before == {
        "retention_days": 30,
        "retention_criterion": "Kept with the recording",
        "retention_stated": True,
        "activity": ACTIVITY,
        "data_category": "user.contact.fax",
    }
    # The category stays in the taxonomy; detaching again finds nothing to detach.
    assert "user.contact.fax" in [c["key"] for c in (await api.data(CATEGORIES))["dataCategories"]]
    again = await api.data(
        """mutation { detachDataCategory(activity: "call-recording-and-monitoring",
                                         category: "user.contact.fax") { errors { __typename } } }"""
    )
    assert again["detachDataCategory"]["errors"] == [{"__typename": "NotFoundError"}]


async def test_detaching_a_category_takes_it_off_the_activitys_running_transfers(
    seeded: Sessions,
) -> None:
    """A transfer's data is data of its activity: what the activity no longer processes, its
    transfers no longer carry, each change logged."""
    async with seeded() as session:
        carrying = (
            await session.scalars(
                select(col(Transfer.slug))
                .join(
                    TransferDataCategory, col(TransferDataCategory.transfer_id) == col(Transfer.id)
                )
                .join(
                    DataCategory, col(DataCategory.id) == col(TransferDataCategory.data_category_id)
                )
                .where(col(DataCategory.key) == "user.location", col(Transfer.ended_on).is_(None))
            )
        ).all()
    # A transfer with a party retired since loses the category too.
    assert any(RETIRED in slug.split("--") for slug in carrying)
    async with transaction(seeded) as session:
        await inventory.retire_entity(session=session, actor=OFFICER, slug=RETIRED, reason="merged")
    async with transaction(seeded) as session:
        await taxonomy.detach_data_category(
            session=session, actor=OFFICER, activity_slug=ACTIVITY, category_key="user.location"
        )
    async with seeded() as session:
        links = await session.scalar(
            select(func.count())
            .select_from(ActivityDataCategory)
            .join(DataCategory, col(DataCategory.id) == col(ActivityDataCategory.data_category_id))
            .where(col(DataCategory.key) == "user.location")
        )
        carried = await session.scalar(
            select(func.count())
            .select_from(TransferDataCategory)
            .join(DataCategory, col(DataCategory.id) == col(TransferDataCategory.data_category_id))
            .where(col(DataCategory.key) == "user.location")
        )
    assert links == 0 and carried == 0
    updated = await _events(seeded, ChangeEvent.TRANSFER_UPDATED)
    assert sorted(c.subject_slug for c in updated) == sorted(carrying)
    assert all("user.location" not in (c.after or {})["data_category_keys"] for c in updated)


async def test_a_transfer_carrying_only_the_category_must_end_first(seeded: Sessions) -> None:
    await _add_fax(seeded)
    async with seeded() as session:
        slug = await session.scalar(select(col(Transfer.slug)).order_by(col(Transfer.id)))
    assert slug is not None
    async with transaction(seeded) as session:
        await transfers.update_transfer(
            session=session,
            actor=OFFICER,
            slug=slug,
            changes={"data_category_keys": ("user.contact.fax",)},
        )
    async with transaction(seeded) as session:
        with pytest.raises(Conflict) as raised:
            await taxonomy.detach_data_category(
                session=session,
                actor=OFFICER,
                activity_slug=ACTIVITY,
                category_key="user.contact.fax",
            )
    assert slug in str(raised.value)
    assert await _events(seeded, ChangeEvent.DATA_CATEGORY_DETACHED) == []


async def test_detaching_what_is_not_kept_is_not_found(seeded: Sessions) -> None:
    async with transaction(seeded) as session:
        for activity, category in (
            ("no-such-activity", "user.name"),
            (ACTIVITY, "user.nothing"),
            (ACTIVITY, "user.special.health"),
        ):
            with pytest.raises(NotFound):
                await taxonomy.detach_data_category(
                    session=session, actor=OFFICER, activity_slug=activity, category_key=category
                )


async def test_r_inv_4_the_taxonomy_and_retention_as_of_a_day_are_those_of_then(
    api: Api, seeded: Sessions, frozen_clock: clock.FrozenClock
) -> None:
    """R-INV-4: a category added, a link detached and a retention changed after T read as
    they were as of T."""
    await _add_fax(seeded)
    day = await day_after_seeding(seeded, frozen_clock)
    frozen_clock.advance(timedelta(days=1))
    async with transaction(seeded) as session:
        await taxonomy.add_data_category(
            session=session, actor=OFFICER, parent_key="user.job", key="grade", name="Pay grade"
        )
        await taxonomy.add_subject_category(
            session=session, actor=OFFICER, key="visitor", name="Visitors"
        )
        await taxonomy.detach_data_category(
            session=session, actor=OFFICER, activity_slug=ACTIVITY, category_key="user.contact.fax"
        )
        await taxonomy.update_retention(
            session=session,
            actor=OFFICER,
            activity_slug=ACTIVITY,
            category_key="user.name",
            retention_criterion="Two months",
            retention_days=60,
        )
    query = """query Then($asOf: Date) {
      dataCategories(asOf: $asOf) { key }
      subjectCategories(asOf: $asOf) { key }
      activities(asOf: $asOf) { dataCategories { dataCategory { key } days criterion } }
    }"""
    then = await api.data(query, {"asOf": day.isoformat()})
    now = await api.data(query)

    then_keys = [c["key"] for c in then["dataCategories"]]
    now_keys = [c["key"] for c in now["dataCategories"]]
    assert "user.job.grade" not in then_keys and "user.job.grade" in now_keys
    # Seeded categories and one added before T are there on both days.
    assert set(SEEDED_KEYS) | {"user.contact.fax"} <= set(then_keys)
    assert "visitor" not in [s["key"] for s in then["subjectCategories"]]
    assert "visitor" in [s["key"] for s in now["subjectCategories"]]
    then_kept, now_kept = _retention(then), _retention(now)
    assert then_kept["user.contact.fax"] == (30, "Kept with the recording")
    assert "user.contact.fax" not in now_kept
    assert then_kept["user.name"] == (None, "Not stated in the notice")
    assert now_kept["user.name"] == (60, "Two months")
