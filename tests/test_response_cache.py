"""Kept answers never outlive the record, the day or the caller's rights."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry import clock
from registry.access import service as access
from registry.access.policy import Role
from registry.db import transaction
from tests.conftest import OFFICER, Api, AppFactory, client_of
from tests.documents.papers import sign_seeded_sccs
from tests.transfers.test_dates import HOST, swiss_processor

OFFICE = '{ entity(slug: "dmx-us") { registeredOffice } }'
UPDATE = 'mutation { updateEntity(slug: "dmx-us", input: {registeredOffice: "%s"}) { errors { message } } }'


async def test_a_change_is_seen_by_the_next_read(api: Api) -> None:
    assert (await api.data(OFFICE))["entity"]["registeredOffice"] is None
    assert (await api.data(OFFICE))["entity"]["registeredOffice"] is None
    await api.data(UPDATE % "1 Main St")
    assert (await api.data(OFFICE))["entity"]["registeredOffice"] == "1 Main St"


async def test_a_change_made_through_another_replica_is_seen(
    api: Api, make_app: AppFactory
) -> None:
    assert (await api.data(OFFICE))["entity"]["registeredOffice"] is None
    async with client_of(make_app(), "http://replica.test") as client:
        response = await client.post(
            "/graphql",
            json={"query": UPDATE % "2 Side St"},
            headers={"Authorization": f"Bearer {api.tokens[Role.PRIVACY_OFFICER]}"},
        )
        assert response.json()["data"]["updateEntity"]["errors"] == []
    assert (await api.data(OFFICE))["entity"]["registeredOffice"] == "2 Side St"


async def test_safeguards_are_judged_again_on_a_new_day(
    api: Api, frozen_clock: clock.FrozenClock, seeded: async_sessionmaker[AsyncSession]
) -> None:
    query = "{ transferGaps { transfers { exporter { slug } importer { slug } } } }"
    uk = {"mood-media-uk", "playnetwork-uk"}
    await sign_seeded_sccs(seeded)
    # Seeded and the SCCs' signed copies recorded, only the UK companies' exports lack a safeguard (a UK mechanism, R-INV-7).
    first = {
        (g["exporter"]["slug"], g["importer"]["slug"])
        for g in (await api.data(query))["transferGaps"]["transfers"]
    }
    assert {exporter for exporter, _ in first} == uk
    # The UK decision as entered runs to 27 December 2031; the old token has expired by then.
    frozen_clock.advance(timedelta(days=365 * 6))
    async with transaction(seeded) as session:
        api.tokens[Role.PRIVACY_OFFICER], _ = await access.issue_token(
            session=session, actor=OFFICER, handle="test-privacy-officer", label="later"
        )
    gaps = (await api.data(query))["transferGaps"]["transfers"]
    later = {(g["exporter"]["slug"], g["importer"]["slug"]) for g in gaps}
    assert {importer for _, importer in later - first} == uk


async def test_an_answer_with_errors_is_not_kept(api: Api) -> None:
    query = "{ entities(first: 1000) { nodes { slug } } }"
    first = await api.query(query)
    await api.data(UPDATE % "3 Other St")
    second = await api.query(query)
    assert first["errors"] and second["errors"]


async def test_an_answer_kept_yesterday_is_not_served_today(
    api: Api, frozen_clock: clock.FrozenClock, seeded: async_sessionmaker[AsyncSession]
) -> None:
    """The record is unchanged overnight, but an adequacy decision lapsed: today's gaps are
    judged today, not read from yesterday's kept answer."""
    await swiss_processor(seeded)
    query = "{ transferGaps { transfers { importer { slug } reason } } }"

    async def into_host() -> list[str]:
        gaps = (await api.data(query))["transferGaps"]["transfers"]
        return [g["reason"] for g in gaps if g["importer"]["slug"] == HOST]

    assert await into_host() == []
    assert await into_host() == []  # kept, for the same day and record
    frozen_clock.advance(timedelta(days=1))
    reasons = await into_host()
    assert reasons and all("lapsed" in reason for reason in reasons)
