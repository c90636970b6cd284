"""The record as of a day (R-INV-4): rebuilt from the change log, read by every query."""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from registry import clock
from registry.access.policy import Action, Role
from registry.access.service import Actor
from registry.countries import AdequacyDecision
from registry.db import create_engine, session_factory, transaction
from registry.errors import Forbidden
from registry.record import answers
from registry.record.history import service as history
from registry.record.inventory import service as inventory
from registry.record.inventory.models import (
    DataCategory,
    Entity,
    EntityDraft,
    EntityKind,
    PartyRole,
)
from registry.record.past import as_of
from registry.record.transfers import decisions
from tests.conftest import OFFICER, Api, Databases
from tests.documents.papers import sign_seeded_sccs
from tests.history.past import (
    ENDED,
    NEW_NAME,
    NOTE,
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

ENTITIES = """
query Entities($asOf: Date) {
  entities(first: 100, asOf: $asOf) { edges { node { slug legalName } } }
  entity(slug: "mood-media-austria", asOf: $asOf) { legalName transfersOut { slug endedOn } }
  retired: entity(slug: "dmx-us", asOf: $asOf) { retiredOn }
}
"""
TRANSFERS = """
query Transfers($asOf: Date) {
  transfers(first: 100, filter: {importer: "talkdesk"}, asOf: $asOf) { edges { node { slug endedOn note } } }
  transfer(slug: "mood-media-austria--talkdesk", asOf: $asOf) {
    endedOn exporter { legalName }
  }
}
"""
ANSWERS = """
query Answers($asOf: Date) {
  whoProcesses(asOf: $asOf) { entity { slug } role }
  transferGaps(asOf: $asOf) { transfers { exporter { slug } importer { slug } reason } }
  controllerRecord(slug: "mood-media-austria", asOf: $asOf) {
    controller { legalName }
    jointControllers { slug }
  }
  processorRecord(slug: "talkdesk", asOf: $asOf) { subProcessors { slug } controllers { slug } }
  activities(asOf: $asOf) { slug }
}
"""


def _slugs(connection: dict[str, Any]) -> set[str]:
    return {edge["node"]["slug"] for edge in connection["edges"]}


async def test_r_inv_4_entities_as_of_a_day_read_as_they_were_known_then(
    api: Api, seeded: Sessions, frozen_clock: clock.FrozenClock
) -> None:
    """R-INV-4: a name corrected, an entity retired or created after T reads as before as of T."""
    day = await day_after_seeding(seeded, frozen_clock)
    await change_the_next_day(frozen_clock, seeded)

    then = await api.data(ENTITIES, {"asOf": day.isoformat()})
    now = await api.data(ENTITIES, {"asOf": None})

    assert then["entity"]["legalName"] == OLD_NAME
    assert now["entity"]["legalName"] == NEW_NAME
    assert RETIRED in _slugs(then["entities"]) and RETIRED not in _slugs(now["entities"])
    assert then["retired"]["retiredOn"] is None
    assert now["retired"]["retiredOn"] == clock.today().isoformat()
    assert SUB_PROCESSOR not in _slugs(then["entities"])
    assert SUB_PROCESSOR in _slugs(now["entities"])
    # Nested fields answer from the same day: the transfer had not ended then.
    then_out = {t["slug"]: t["endedOn"] for t in then["entity"]["transfersOut"]}
    now_out = {t["slug"]: t["endedOn"] for t in now["entity"]["transfersOut"]}
    assert then_out[ENDED] is None and now_out[ENDED] == clock.today().isoformat()


async def test_r_inv_4_transfers_as_of_a_day_read_as_they_were_known_then(
    api: Api, seeded: Sessions, frozen_clock: clock.FrozenClock
) -> None:
    """R-INV-4: a transfer ended or changed after T reads as it was as of T."""
    day = await day_after_seeding(seeded, frozen_clock)
    await change_the_next_day(frozen_clock, seeded)

    then = await api.data(TRANSFERS, {"asOf": day.isoformat()})
    now = await api.data(TRANSFERS, {})

    then_rows = {e["node"]["slug"]: e["node"] for e in then["transfers"]["edges"]}
    now_rows = {e["node"]["slug"]: e["node"] for e in now["transfers"]["edges"]}
    assert then_rows.keys() == now_rows.keys()
    assert then_rows[NOTED]["note"] is None and now_rows[NOTED]["note"] == NOTE
    assert then_rows[ENDED]["endedOn"] is None
    assert then["transfer"] == {"endedOn": None, "exporter": {"legalName": OLD_NAME}}
    assert now["transfer"]["exporter"] == {"legalName": NEW_NAME}


async def test_r_inv_4_answers_as_of_a_day_are_those_of_the_record_then(
    api: Api, seeded: Sessions, frozen_clock: clock.FrozenClock
) -> None:
    """R-INV-4: whoProcesses, the gaps and both Art. 30 records as of T are those of T."""
    # With the SCCs' signed copies on record, ending a transfer is what opens a gap.
    await sign_seeded_sccs(seeded)
    day = await day_after_seeding(seeded, frozen_clock)
    before = await api.data(ANSWERS)
    await change_the_next_day(frozen_clock, seeded)

    then = await api.data(ANSWERS, {"asOf": day.isoformat()})
    now = await api.data(ANSWERS)

    assert then == before
    processing = {(p["entity"]["slug"], p["role"]) for p in now["whoProcesses"]}
    assert (SUB_PROCESSOR, "SUB_PROCESSOR") in processing
    assert not any(p["entity"]["slug"] == RETIRED for p in now["whoProcesses"])
    assert any(p["entity"]["slug"] == RETIRED for p in then["whoProcesses"])
    assert now["processorRecord"]["subProcessors"] == [{"slug": SUB_PROCESSOR}]
    assert then["processorRecord"]["subProcessors"] == []
    assert now["controllerRecord"]["controller"]["legalName"] == NEW_NAME
    assert {"slug": RETIRED} in then["controllerRecord"]["jointControllers"]
    # The ended transfer leaves Austria's data reaching Talkdesk without a safeguard now.
    gap = ("mood-media-austria", "talkdesk")
    now_gaps = {
        (g["exporter"]["slug"], g["importer"]["slug"]) for g in now["transferGaps"]["transfers"]
    }
    then_gaps = {
        (g["exporter"]["slug"], g["importer"]["slug"]) for g in then["transferGaps"]["transfers"]
    }
    assert gap in now_gaps and gap not in then_gaps


async def test_as_of_today_answers_as_the_record_is_now(
    api: Api, seeded: Sessions, frozen_clock: clock.FrozenClock
) -> None:
    await day_after_seeding(seeded, frozen_clock)
    await change_the_next_day(frozen_clock, seeded)

    today = await api.data(ANSWERS, {"asOf": clock.today().isoformat()})

    assert today == await api.data(ANSWERS)


async def test_as_of_a_day_after_today_is_refused(
    api: Api, seeded: Sessions, frozen_clock: clock.FrozenClock
) -> None:
    await day_after_seeding(seeded, frozen_clock)
    tomorrow = (clock.today() + timedelta(days=1)).isoformat()

    for query in (ENTITIES, TRANSFERS, ANSWERS):
        body = await api.query(query, {"asOf": tomorrow})
        assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT", body
        assert "after today" in body["errors"][0]["message"]


async def test_as_of_is_for_whoever_may_read_the_record_and_no_one_else(
    api: Api, seeded: Sessions, frozen_clock: clock.FrozenClock
) -> None:
    day = await day_after_seeding(seeded, frozen_clock)
    frozen_clock.advance(timedelta(days=1))
    nobody = Actor(handle="nobody", roles=frozenset())

    async with transaction(seeded) as session:
        with pytest.raises(Forbidden):
            async with as_of.session_as_of(
                session=session, actor=nobody, day=day, reading=Action.INVENTORY_READ
            ):
                pass
    body = await api.query(ENTITIES, {"asOf": day.isoformat()}, role=Role.AGENT)
    assert "errors" not in body


async def test_r_inv_4_an_adequacy_decision_is_judged_as_it_stood_on_the_day(
    seeded: Sessions, frozen_clock: clock.FrozenClock
) -> None:
    """R-INV-4: an adequacy decision logged as changed after T is read as it stood at T, and
    the flows resting on it are judged on T."""
    day = await day_after_seeding(seeded, frozen_clock)
    frozen_clock.advance(timedelta(days=1))
    async with transaction(seeded) as session:
        decision = await session.get_one(AdequacyDecision, 1)
        before = history.snapshot(decision)
        await decisions.update_adequacy_decision(
            session=session,
            actor=OFFICER,
            slug=decision.slug,
            changes={"valid_until": day - timedelta(days=400)},
        )

    async with transaction(seeded) as session:
        now = await answers.gaps(session=session, actor=OFFICER)
        async with as_of.session_as_of(
            session=session, actor=OFFICER, day=day, reading=Action.INVENTORY_READ
        ) as past:
            then_decision = await past.get_one(AdequacyDecision, 1)
            then = await answers.gaps(session=past, actor=OFFICER, on=day)

    assert then_decision.valid_until == date.fromisoformat(before["valid_until"])
    # Flows to the decision's country rest on it: gaps now, not as of T.
    then_gaps = {(f.exporter.slug, f.importer.slug) for f in then.transfers}
    new_gaps = [f for f in now.transfers if (f.exporter.slug, f.importer.slug) not in then_gaps]
    assert new_gaps
    assert {f.destination_code for f in new_gaps} == {decision.country_code}


async def test_a_rebuilt_day_is_cached_until_the_record_changes(
    seeded: Sessions, frozen_clock: clock.FrozenClock
) -> None:
    day = await day_after_seeding(seeded, frozen_clock)
    frozen_clock.advance(timedelta(days=1))

    async def engine_of_the_day() -> object:
        async with (
            transaction(seeded) as session,
            as_of.session_as_of(
                session=session, actor=OFFICER, day=day, reading=Action.INVENTORY_READ
            ) as past,
        ):
            return past.bind

    first = await engine_of_the_day()
    assert await engine_of_the_day() is first
    await change_the_next_day(frozen_clock, seeded)
    assert await engine_of_the_day() is not first


async def test_r_inv_4_parties_and_data_categories_added_later_are_absent_as_of_the_day(
    seeded: Sessions, frozen_clock: clock.FrozenClock
) -> None:
    """R-INV-4: a processor made party to the activity, and a data category attached to it,
    after T are not in whoProcesses as of T, and are now."""
    day = await day_after_seeding(seeded, frozen_clock)
    frozen_clock.advance(timedelta(days=1))
    async with transaction(seeded) as session:
        session.add(DataCategory(key="user.contact.address", name="Postal address"))
        await session.flush()
        await inventory.attach_data_category(
            session=session,
            actor=OFFICER,
            activity_slug=ACTIVITY,
            category_key="user.contact.address",
            retention_criterion="Kept with the recording in which it was given",
            retention_days=30,
        )
        await inventory.create_entity(
            session=session,
            actor=OFFICER,
            draft=EntityDraft(
                slug="transcriber-de",
                kind=EntityKind.PROCESSOR,
                legal_name="Transcriber GmbH",
                country_code="DE",
            ),
        )
        await inventory.add_party(
            session=session,
            actor=OFFICER,
            activity_slug=ACTIVITY,
            entity_slug="transcriber-de",
            role=PartyRole.PROCESSOR,
        )

    async def who(on: date | None, category: str | None = None) -> set[str]:
        async with (
            transaction(seeded) as session,
            as_of.session_as_of(
                session=session, actor=OFFICER, day=on, reading=Action.INVENTORY_READ
            ) as past,
        ):
            found = await answers.who_processes(
                session=past, actor=OFFICER, data_category=category, on=on
            )
            return {p.entity.slug for p in found}

    assert "transcriber-de" in await who(None)
    assert "transcriber-de" not in await who(day)
    assert await who(None, "user.contact.address")
    assert await who(day, "user.contact.address") == set()
    assert await who(day) | {"transcriber-de"} == await who(None)


def test_the_cache_keeps_the_days_used_last_and_frees_a_day_once_unread() -> None:
    cache = as_of.ScratchCache(2)
    days = [date(2026, 1, d) for d in (1, 2, 3)]
    scratches = [as_of.empty_scratch() for _ in days]
    reading = scratches[0]
    reading.readers = 1
    for day, scratch in zip(days, scratches, strict=True):
        cache.put(("db", 1, day), scratch)

    assert cache.get(("db", 1, days[0])) is None
    assert cache.get(("db", 1, days[2])) is scratches[2]
    assert reading.evicted
    # Still read: its database lives until the reader lets it go.
    reading.anchor.execute("select 1")
    reading.release()
    with pytest.raises(sqlite3.ProgrammingError):
        reading.anchor.execute("select 1")


@pytest.fixture
def second_database_url(databases: Databases) -> str:
    """Another seeded database on the test's backend, in the same process."""
    return databases.fresh("seeded")


async def test_two_databases_at_the_same_version_never_share_a_rebuilt_day(
    seeded: Sessions, second_database_url: str, frozen_clock: clock.FrozenClock
) -> None:
    day = await day_after_seeding(seeded, frozen_clock)
    other_engine = create_engine(second_database_url)
    other = session_factory(other_engine)
    try:
        for sessions, name in ((seeded, "First GmbH"), (other, "Second GmbH")):
            async with transaction(sessions) as session:
                await inventory.update_entity(
                    session=session, actor=OFFICER, slug=RENAMED, changes={"legal_name": name}
                )
        frozen_clock.advance(timedelta(days=1))

        names = []
        for sessions in (seeded, other):
            async with (
                transaction(sessions) as session,
                as_of.session_as_of(
                    session=session, actor=OFFICER, day=day, reading=Action.INVENTORY_READ
                ) as past,
            ):
                entity = await past.scalar(select(Entity).where(col(Entity.slug) == RENAMED))
                assert entity is not None
                names.append(entity.legal_name)
    finally:
        await other_engine.dispose()

    assert names == ["First GmbH", "Second GmbH"]


FILTERED = """
query Filtered($asOf: Date) {
  entities(first: 100, filter: {dataCategory: "user.name"}, asOf: $asOf) {
    edges { node { slug } }
  }
  talkdesk: entity(slug: "talkdesk", asOf: $asOf) { subProcessors { slug } }
}
"""
LEAVING = "leaving-host-ie"


async def test_r_inv_4_a_date_set_ahead_is_judged_on_the_day_asked(
    api: Api, seeded: Sessions, frozen_clock: clock.FrozenClock
) -> None:
    """R-INV-4: a sub-processor engaged on T whose retirement, recorded the same day, takes
    effect three days later: as of a day before that it still takes part (in the list filtered
    by data category, and among Talkdesk's sub-processors); today it no longer does. The
    filters judge on the day asked, not on today."""
    day = await day_after_seeding(seeded, frozen_clock)
    async with transaction(seeded) as session:
        await inventory.create_entity(
            session=session,
            actor=OFFICER,
            draft=EntityDraft(
                slug=LEAVING,
                kind=EntityKind.SUB_PROCESSOR,
                legal_name="Leaving Host Ireland Ltd",
                country_code="IE",
            ),
        )
        await inventory.link_sub_processor(
            session=session, actor=OFFICER, processor_slug="talkdesk", sub_processor_slug=LEAVING
        )
        await inventory.retire_entity(
            session=session,
            actor=OFFICER,
            slug=LEAVING,
            reason="contract ends",
            retired_on=day + timedelta(days=3),
        )
    frozen_clock.advance(timedelta(days=10))

    still_there = await api.data(FILTERED, {"asOf": (day + timedelta(days=2)).isoformat()})
    now = await api.data(FILTERED, {})

    assert LEAVING in _slugs(still_there["entities"])
    assert LEAVING in {s["slug"] for s in still_there["talkdesk"]["subProcessors"]}
    assert LEAVING not in _slugs(now["entities"])
    assert LEAVING not in {s["slug"] for s in now["talkdesk"]["subProcessors"]}
