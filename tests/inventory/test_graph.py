"""Every reader of the record asks the one flow graph who takes part on a date, so they
agree at its edges: an engagement that ended yesterday, one that ends tomorrow, a retired
sub-processor. Both backends."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry import clock
from registry.db import transaction
from registry.errors import InvalidInput
from registry.record import answers as record
from registry.record.inventory import service as inventory
from registry.record.inventory.models import EntityKind
from registry.record.transfers import service as transfers
from registry.record.transfers.models import Mechanism
from registry.rights import effects
from tests.conftest import NOW, OFFICER
from tests.transfers.test_service import ACTIVITY, add_entity

Sessions = async_sessionmaker[AsyncSession]
TODAY = NOW.date()
PROCESSOR = "talkdesk"
ENDED_YESTERDAY = "sub-ended-yesterday"
ENDS_TOMORROW = "sub-ends-tomorrow"
RETIRED = "sub-retired-today"
ENGAGED = "sub-engaged"
SUBS = (ENDED_YESTERDAY, ENDS_TOMORROW, RETIRED, ENGAGED)
# A category of the activity, as the entities filter takes it.
DATA_CATEGORY = "user.voice.recording"


async def on_day(frozen_clock: clock.FrozenClock, day: date, sessions: Sessions, act: str) -> None:
    """Unlinks or retires as the services do it on ``day``; the clock goes back after."""
    before = frozen_clock.current
    frozen_clock.current = NOW.replace(year=day.year, month=day.month, day=day.day)
    try:
        async with transaction(sessions) as session:
            if act == "unlink":
                sub = ENDED_YESTERDAY if day < TODAY else ENDS_TOMORROW
                await inventory.unlink_sub_processor(
                    session=session, actor=OFFICER, processor_slug=PROCESSOR, sub_processor_slug=sub
                )
            else:
                await inventory.retire_entity(
                    session=session, actor=OFFICER, slug=RETIRED, reason="contract ended"
                )
    finally:
        frozen_clock.current = before


async def build(sessions: Sessions, frozen_clock: clock.FrozenClock) -> None:
    """Talkdesk (US) engages four sub-processors in India, engaged a week ago."""
    async with transaction(sessions) as session:
        for slug in SUBS:
            await add_entity(session, slug, EntityKind.SUB_PROCESSOR, "IN")
            await inventory.link_sub_processor(
                session=session,
                actor=OFFICER,
                processor_slug=PROCESSOR,
                sub_processor_slug=slug,
                since=TODAY - timedelta(days=7),
            )
    await on_day(frozen_clock, TODAY - timedelta(days=1), sessions, "unlink")
    # Unlinked on a day still to come: the engagement holds until then (set as that day's
    # unlinking would set it).
    await on_day(frozen_clock, TODAY + timedelta(days=1), sessions, "unlink")
    await on_day(frozen_clock, TODAY, sessions, "retire")


async def each_caller(sessions: Sessions) -> dict[str, set[str]]:
    """The sub-processors each caller takes to be taking part today."""
    subs = set(SUBS)
    async with sessions() as session:
        found = await record.who_processes(session=session, actor=OFFICER)
        listed = await inventory.list_entities(
            session=session,
            actor=OFFICER,
            flt=inventory.EntityFilter(data_category=DATA_CATEGORY),
            after_id=0,
            limit=1000,
        )
        gaps = await record.gaps(session=session, actor=OFFICER)
        recipients = await effects.recipients(session)
        processor_record = await record.processor_record(
            session=session, actor=OFFICER, slug=PROCESSOR
        )
    accepted = set()
    for slug in SUBS:
        async with sessions() as session:  # never committed: only the check is wanted
            try:
                await transfers.create_transfer(
                    session=session,
                    actor=OFFICER,
                    draft=transfers.TransferDraft(
                        activity_slug=ACTIVITY,
                        exporter_slug=PROCESSOR,
                        importer_slug=slug,
                        mechanism=Mechanism.SCC_2021_914,
                        scc_module=3,
                    ),
                )
                accepted.add(slug)
            except InvalidInput as refused:
                assert refused.field == "importer"
    return {
        "whoProcesses": {p.entity.slug for p in found} & subs,
        "entities(dataCategory:)": {e.slug for e in listed} & subs,
        "createTransfer": accepted,
        "transferGaps": {f.importer.slug for f in gaps.transfers} & subs,
        "recipients": {e.slug for e in recipients} & subs,
        "processorRecord": {e.slug for e in processor_record.sub_processors},
    }


async def test_every_caller_agrees_on_who_takes_part_today(
    seeded: Sessions, frozen_clock: clock.FrozenClock
) -> None:
    """Ended yesterday: no part. Ends tomorrow: still a part today. Retired today: no part."""
    await build(seeded, frozen_clock)
    expected = {ENDS_TOMORROW, ENGAGED}
    assert await each_caller(seeded) == dict.fromkeys(
        [
            "whoProcesses",
            "entities(dataCategory:)",
            "createTransfer",
            "transferGaps",
            "recipients",
            "processorRecord",
        ],
        expected,
    )


async def test_an_engagement_ends_on_its_end_date_for_every_caller(
    seeded: Sessions, frozen_clock: clock.FrozenClock
) -> None:
    """Tomorrow the engagement unlinked for tomorrow no longer holds, for every caller."""
    await build(seeded, frozen_clock)
    frozen_clock.advance(timedelta(days=1))
    assert set(map(frozenset, (await each_caller(seeded)).values())) == {frozenset({ENGAGED})}


async def test_r_inv_7_the_onward_hop_to_a_sub_processor_is_judged_only_while_engaged(
    seeded: Sessions, frozen_clock: clock.FrozenClock
) -> None:
    """R-INV-7: Talkdesk's hop to a sub-processor in India is a gap while the engagement
    holds, and no flow at all once it has ended."""
    await build(seeded, frozen_clock)
    async with seeded() as session:
        gaps = await record.gaps(session=session, actor=OFFICER)
    hops = {f.importer.slug: f for f in gaps.transfers if f.exporter.slug == PROCESSOR}
    assert set(hops) & set(SUBS) == {ENDS_TOMORROW, ENGAGED}
    assert {hops[s].rule_id for s in (ENDS_TOMORROW, ENGAGED)} == {"R-INV-7"}


async def test_an_answer_for_another_day_asks_the_graph_for_that_day(
    seeded: Sessions, frozen_clock: clock.FrozenClock
) -> None:
    """``on`` asks for a day other than today: the engagement ending tomorrow holds today
    but not on the day after, whatever the clock says."""
    await build(seeded, frozen_clock)
    async with seeded() as session:
        today = await record.who_processes(session=session, actor=OFFICER, on=TODAY)
        later = await record.who_processes(
            session=session, actor=OFFICER, on=TODAY + timedelta(days=1)
        )
        before = await record.who_processes(
            session=session, actor=OFFICER, on=TODAY - timedelta(days=2)
        )
    assert {p.entity.slug for p in today} & set(SUBS) == {ENDS_TOMORROW, ENGAGED}
    assert {p.entity.slug for p in later} & set(SUBS) == {ENGAGED}
    # Two days ago the engagement that ended yesterday held, and the retired one took part.
    assert {p.entity.slug for p in before} & set(SUBS) == set(SUBS)
