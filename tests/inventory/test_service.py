"""Rules of the inventory, through the services, on both backends."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry.access.policy import Role
from registry.access.service import Actor
from registry.db import transaction
from registry.errors import Conflict, Forbidden, InvalidInput, RuleBroken
from registry.record import answers as record
from registry.record.answers import EntityGapReason
from registry.record.history import service as history
from registry.record.history.models import Change, ChangeAction
from registry.record.inventory import service
from registry.record.inventory.models import (
    ActivityDataCategory,
    DataCategory,
    Entity,
    EntityDraft,
    EntityKind,
)
from registry.record.transfers.safeguards import Safeguard
from registry.seeding import seed
from tests.conftest import OFFICER, SEEDS

Sessions = async_sessionmaker[AsyncSession]
ACTIVITY = "call-recording-and-monitoring"


def draft(slug: str = "acme-hosting", **overrides: object) -> EntityDraft:
    values: dict[str, object] = {
        "slug": slug,
        "kind": EntityKind.SUB_PROCESSOR,
        "legal_name": "Acme Hosting Ltd",
        "country_code": "IE",
        "registered_office": "1 Dock Road, Dublin",
        "contact": "dpo@acme.example",
        "verified": True,
    }
    values.update(overrides)
    return EntityDraft(**values)  # type: ignore[arg-type]


async def count(sessions: Sessions, model: type) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_seeding_twice_changes_nothing(seeded: Sessions) -> None:
    before = (await count(seeded, Entity), await count(seeded, Change))
    async with transaction(seeded) as session:
        created = await seed(session=session, seeds_dir=SEEDS)
    assert sum(created.values()) == 0
    assert (await count(seeded, Entity), await count(seeded, Change)) == before


async def test_seeds_hold_every_entity_of_the_notice(seeded: Sessions) -> None:
    async with seeded() as session:
        entities = (await session.scalars(select(Entity))).all()
    group = [e for e in entities if e.kind is EntityKind.GROUP_COMPANY]
    assert len(group) == 28
    assert {e.notice_number for e in group} == set(range(1, 23))
    assert any(e.slug == "talkdesk" and e.country_code == "US" for e in entities)


async def test_r_inv_1_a_special_category_is_refused(seeded: Sessions) -> None:
    async with transaction(seeded) as session:
        with pytest.raises(RuleBroken) as raised:
            await service.attach_data_category(
                session=session,
                actor=OFFICER,
                activity_slug=ACTIVITY,
                category_key="user.special.health",
                retention_criterion="30 days",
                retention_days=30,
            )
    assert raised.value.rule_id == "R-INV-1"
    async with seeded() as session:
        special = await session.scalar(
            select(func.count())
            .select_from(ActivityDataCategory)
            .join(DataCategory, DataCategory.id == ActivityDataCategory.data_category_id)
            .where(DataCategory.special_category)
        )
    assert special == 0


async def test_r_inv_6_a_data_category_needs_a_retention_criterion(seeded: Sessions) -> None:
    async with transaction(seeded) as session:
        with pytest.raises(RuleBroken) as raised:
            await service.attach_data_category(
                session=session,
                actor=OFFICER,
                activity_slug=ACTIVITY,
                category_key="user.special.health".replace("special.health", "name"),
                retention_criterion="   ",
            )
    assert raised.value.rule_id == "R-INV-6"


async def test_r_inv_6_every_seeded_category_has_retention_and_recordings_30_days(
    seeded: Sessions,
) -> None:
    """R-INV-6: every seeded category has retention and recordings 30 days."""
    async with seeded() as session:
        facts = await record.load_activity_facts(session)
    (activity,) = facts.values()
    assert len(activity.retention) == 8
    assert all(r.criterion for r in activity.retention)
    voice = next(r for r in activity.retention if r.data_category.key == "user.voice.recording")
    assert voice.days == 30


async def test_r_inv_4_every_change_is_kept_with_who_when_before_after(seeded: Sessions) -> None:
    """R-INV-4: each change to the entity list is kept with who, when, before and after."""
    async with transaction(seeded) as session:
        await service.create_entity(session=session, actor=OFFICER, draft=draft())
        await service.update_entity(
            session=session,
            actor=OFFICER,
            slug="acme-hosting",
            changes={"contact": "privacy@acme.example"},
        )
        await service.retire_entity(
            session=session, actor=OFFICER, slug="acme-hosting", reason="contract ended"
        )
    async with seeded() as session:
        changes = await history.list_changes(
            session=session, actor=OFFICER, limit=10, subject_slug="acme-hosting"
        )
    assert [c.action for c in changes] == [
        ChangeAction.CREATED,
        ChangeAction.UPDATED,
        ChangeAction.RETIRED,
    ]
    assert all(c.actor == OFFICER.handle and c.at is not None for c in changes)
    update = changes[1]
    assert update.before is not None and update.after is not None
    assert update.before["contact"] == "dpo@acme.example"
    assert update.after["contact"] == "privacy@acme.example"
    assert changes[2].after is not None and changes[2].after["retired_on"] == "2026-11-30"


async def test_r_inv_4_retiring_keeps_the_entity_and_its_history(seeded: Sessions) -> None:
    """R-INV-4: retiring an entity never deletes it or its history."""
    async with transaction(seeded) as session:
        await service.retire_entity(
            session=session,
            actor=OFFICER,
            slug="muzak-us",
            reason="merged",
            retired_on=date(2026, 1, 1),
        )
    async with seeded() as session:
        entity = await service.entity_by_slug(session, "muzak-us")
        changes = await history.list_changes(
            session=session, actor=OFFICER, limit=10, subject_slug="muzak-us"
        )
    assert entity.retired_on == date(2026, 1, 1)
    assert [c.action for c in changes] == [ChangeAction.CREATED, ChangeAction.RETIRED]


async def test_an_update_that_changes_nothing_is_not_recorded(seeded: Sessions) -> None:
    async with transaction(seeded) as session:
        await service.update_entity(
            session=session, actor=OFFICER, slug="talkdesk", changes={"legal_name": "Talkdesk Inc."}
        )
    async with seeded() as session:
        changes = await history.list_changes(
            session=session, actor=OFFICER, limit=10, subject_slug="talkdesk"
        )
    assert [c.action for c in changes] == [ChangeAction.CREATED]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"verified": "maybe"}, "verified"),
        ({"active_from": "soon"}, "active_from"),
        ({"country_code": None}, "country_code"),
        ({"legal_name": None}, "legal_name"),
        ({"dpf_certified": [True]}, "dpf_certified"),
    ],
)
async def test_an_entity_update_of_the_wrong_type_is_refused_naming_its_field(
    seeded: Sessions, changes: dict[str, object], field: str
) -> None:
    before = await count(seeded, Change)
    with pytest.raises(InvalidInput) as raised:
        async with transaction(seeded) as session:
            await service.update_entity(
                session=session,
                actor=OFFICER,
                slug="talkdesk",
                changes={**changes, "contact": "privacy@talkdesk.example"},
            )
    assert raised.value.field == field
    async with seeded() as session:
        entity = await service.entity_by_slug(session, "talkdesk")
    assert (entity.legal_name, entity.country_code) == ("Talkdesk Inc.", "US")
    assert entity.contact != "privacy@talkdesk.example"
    assert await count(seeded, Change) == before


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"slug": "Not A Slug"}, InvalidInput),
        ({"country_code": "XX"}, InvalidInput),
        ({"legal_name": "  "}, InvalidInput),
        ({"slug": "talkdesk"}, Conflict),
        ({"legal_name": "x" * 301}, InvalidInput),
    ],
)
async def test_bad_entities_are_refused_and_nothing_is_written(
    seeded: Sessions, overrides: dict[str, object], error: type[Exception]
) -> None:
    before = (await count(seeded, Entity), await count(seeded, Change))
    with pytest.raises(error):
        async with transaction(seeded) as session:
            await service.create_entity(session=session, actor=OFFICER, draft=draft(**overrides))
    assert (await count(seeded, Entity), await count(seeded, Change)) == before


async def test_only_the_privacy_officer_edits_the_inventory(seeded: Sessions) -> None:
    integration = Actor(handle="feed", roles=frozenset({Role.INTEGRATION}))
    async with transaction(seeded) as session:
        with pytest.raises(Forbidden):
            await service.create_entity(session=session, actor=integration, draft=draft())


async def test_r_inv_5_gaps_are_listed_and_nothing_is_invented(seeded: Sessions) -> None:
    """R-INV-5: gaps are listed and nothing is invented."""
    async with seeded() as session:
        gaps = await record.gaps(session=session, actor=OFFICER)
        europe = await service.entity_by_slug(session, "mood-media-europe")
    by_slug = {gap.entity.slug: gap.reasons for gap in gaps.entities}
    assert by_slug["mood-media-europe"] == [
        EntityGapReason.NO_REGISTERED_OFFICE,
        EntityGapReason.UNVERIFIED_NAME,
    ]
    assert by_slug["mood-media-spain"] == [EntityGapReason.UNVERIFIED_NAME]
    assert EntityGapReason.NO_CONTACT in by_slug["talkdesk"]
    assert "mood-media-france" not in by_slug
    assert europe.registered_office is None


async def test_r_inv_5_filling_a_gap_removes_it(seeded: Sessions) -> None:
    """R-INV-5: filling a gap removes it."""
    async with transaction(seeded) as session:
        await service.update_entity(
            session=session,
            actor=OFFICER,
            slug="mood-media-north-america-holdings",
            changes={"registered_office": "1 Main St"},
        )
    async with seeded() as session:
        gaps = await record.gaps(session=session, actor=OFFICER)
    assert "mood-media-north-america-holdings" not in {gap.entity.slug for gap in gaps.entities}


async def test_sub_processors_are_linked_to_the_processor_that_engages_them(
    seeded: Sessions,
) -> None:
    async with transaction(seeded) as session:
        await service.create_entity(session=session, actor=OFFICER, draft=draft())
        await service.link_sub_processor(
            session=session,
            actor=OFFICER,
            processor_slug="talkdesk",
            sub_processor_slug="acme-hosting",
        )
        with pytest.raises(Conflict):
            await service.link_sub_processor(
                session=session,
                actor=OFFICER,
                processor_slug="talkdesk",
                sub_processor_slug="acme-hosting",
            )
    async with seeded() as session:
        found = await record.who_processes(session=session, actor=OFFICER, country_code="IE")
    sub = next(p for p in found if p.entity.slug == "acme-hosting")
    assert sub.role is record.ProcessingRole.SUB_PROCESSOR
    # Each route runs controller -> Talkdesk -> the sub-processor.
    assert {len(path) for path in sub.paths} == {2}
    assert {path[1].exporter.slug for path in sub.paths} == {"talkdesk"}
    assert len(sub.paths) == 28


async def test_a_sub_processors_record_shows_the_hop_from_its_processor(seeded: Sessions) -> None:
    async with transaction(seeded) as session:
        await service.create_entity(
            session=session, actor=OFFICER, draft=draft("speech-us", country_code="US")
        )
        await service.link_sub_processor(
            session=session,
            actor=OFFICER,
            processor_slug="talkdesk",
            sub_processor_slug="speech-us",
        )
    async with seeded() as session:
        sub = await record.processor_record(session=session, actor=OFFICER, slug="speech-us")
        gaps = await record.gaps(session=session, actor=OFFICER)
    # Talkdesk's onward hop inside the US crosses no border (R-INV-7): no gap of its own.
    assert sub.transfers == []
    assert not [flow for flow in gaps.transfers if flow.importer.slug == "speech-us"]
    assert len(sub.controllers) == 28


async def test_a_us_controllers_record_lists_the_transfers_it_receives(seeded: Sessions) -> None:
    async with seeded() as session:
        muzak = await record.controller_record(
            session=session, actor=OFFICER, slug="muzak-us", contact="privacy@example.test"
        )
    # From the 19 EEA controllers; from the 2 UK ones, gaps without a UK mechanism; and its own
    # onward hops to the 2 UK ones, covered by the UK's adequacy decision (R-INV-7).
    assert len(muzak.transfers) == 23
    assert {flow.transfer.scc_module for flow in muzak.transfers if flow.transfer} == {1}
    onward = [flow for flow in muzak.transfers if flow.exporter.slug == "muzak-us"]
    assert {flow.safeguard for flow in onward} == {Safeguard.ADEQUACY}


async def test_records_are_refused_for_entities_of_the_wrong_kind(seeded: Sessions) -> None:
    async with seeded() as session:
        with pytest.raises(InvalidInput):
            await record.controller_record(
                session=session, actor=OFFICER, slug="talkdesk", contact="privacy@example.test"
            )
        with pytest.raises(InvalidInput):
            await record.processor_record(session=session, actor=OFFICER, slug="muzak-us")
