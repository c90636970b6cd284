"""A record that changed the day after T: what the as-of and diff tests read back."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from registry import clock
from registry.db import transaction
from registry.record.history.models import Change
from registry.record.inventory import service as inventory
from registry.record.inventory.models import EntityDraft, EntityKind
from registry.record.transfers import service as transfers
from tests.conftest import OFFICER

Sessions = async_sessionmaker[AsyncSession]

RENAMED = "mood-media-austria"
OLD_NAME = "Mood Media GmbH"
NEW_NAME = "Mood Media Austria GmbH"
RETIRED = "dmx-us"
SUB_PROCESSOR = "cloud-host-ie"
ENDED = "mood-media-austria--talkdesk"
NOTED = "mood-media-germany--talkdesk"
NOTE = "Reviewed at the annual review."


async def day_after_seeding(sessions: Sessions, frozen: clock.FrozenClock) -> date:
    """T: a day after the seeds were loaded, with the clock at 09:00 on it."""
    async with transaction(sessions) as session:
        seeded_at = await session.scalar(select(func.max(col(Change.at))))
    assert seeded_at is not None
    day = seeded_at.date() + timedelta(days=1)
    frozen.current = datetime.combine(day, time(9), tzinfo=UTC)
    return day


async def change_the_next_day(frozen: clock.FrozenClock, sessions: Sessions) -> None:
    """On T+1: a legal name corrected, a controller retired, a new sub-processor engaged, one
    transfer ended and another's note changed."""
    frozen.advance(timedelta(days=1))
    async with transaction(sessions) as session:
        await inventory.update_entity(
            session=session, actor=OFFICER, slug=RENAMED, changes={"legal_name": NEW_NAME}
        )
        await inventory.retire_entity(
            session=session, actor=OFFICER, slug=RETIRED, reason="merged into muzak-us"
        )
        await inventory.create_entity(
            session=session,
            actor=OFFICER,
            draft=EntityDraft(
                slug=SUB_PROCESSOR,
                kind=EntityKind.SUB_PROCESSOR,
                legal_name="Cloud Host Ireland Ltd",
                country_code="IE",
            ),
        )
        await inventory.link_sub_processor(
            session=session,
            actor=OFFICER,
            processor_slug="talkdesk",
            sub_processor_slug=SUB_PROCESSOR,
        )
        await transfers.update_transfer(
            session=session, actor=OFFICER, slug=ENDED, changes={"ended_on": clock.today()}
        )
        await transfers.update_transfer(
            session=session, actor=OFFICER, slug=NOTED, changes={"note": NOTE}
        )
