"""Kept answers never outlive the record, the day or the caller's rights."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry import clock
from registry.access import service as access
from registry.access.policy import Role
from registry.db import transaction
from registry.graphql import cache
from registry.graphql.cache import cacheable_request
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


def test_a_body_is_canonicalised_once_and_few_are_remembered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    worked_out: list[bytes] = []

    def counted(body: bytes) -> str | None:
        worked_out.append(body)
        return cacheable_request(body)

    monkeypatch.setattr(cache, "cacheable_request", counted)
    canonical = cache.CanonicalRequests(max_entries=2, max_body_bytes=200)
    read = json.dumps({"query": OFFICE}).encode()
    write = json.dumps({"query": UPDATE % "1 Main St"}).encode()
    large = json.dumps({"query": OFFICE, "variables": {"pad": "x" * 200}}).encode()
    for _ in range(3):
        assert canonical.of(read) == cacheable_request(read) is not None
        assert canonical.of(write) is None
        assert canonical.of(large) == cacheable_request(large) is not None
    # What is remembered needs no second look, whether it may be kept or not; a body past
    # the size limit is looked at each time.
    assert worked_out == [read, write, large, large, large]
    other = json.dumps({"query": "{ countries { code } }"}).encode()
    canonical.of(other)
    # Two remembered at most: the least recently used one is forgotten.
    canonical.of(read)
    assert worked_out[-2:] == [other, read]
