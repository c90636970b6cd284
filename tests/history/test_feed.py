"""Following the change feed (R-INV-4): every change once, in the order it committed."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry import clock
from registry.access.policy import Role
from registry.db import transaction
from registry.record.history import service as history
from registry.record.inventory import service as inventory
from tests.conftest import NOW, OFFICER, Api, Databases
from tests.inventory.test_graphql import CREATE, new_entity

Sessions = async_sessionmaker[AsyncSession]

FEED = """
query Feed($first: Int!, $after: String) {
  changes(first: $first, after: $after) {
    edges { cursor node { sequence subjectSlug after } }
    pageInfo { endCursor hasNextPage }
  }
}
"""

CONTACT = '{ entity(slug: "talkdesk") { contact } }'


class Follower:
    """An integration that pages through the feed and keeps its cursor between polls."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.cursor: str | None = None
        self.seen: list[dict[str, Any]] = []

    async def poll(self, first: int = 1) -> None:
        while True:
            variables = {"first": first, "after": self.cursor}
            data = await self.api.data(FEED, variables, role=Role.INTEGRATION)
            page = data["changes"]
            self.seen += [edge["node"] for edge in page["edges"]]
            self.cursor = page["pageInfo"]["endCursor"] or self.cursor
            if not page["pageInfo"]["hasNextPage"]:
                return


async def _contact(sessions: Sessions, slug: str, contact: str) -> None:
    async with transaction(sessions) as session:
        await inventory.update_entity(
            session=session, actor=OFFICER, slug=slug, changes={"contact": contact}
        )


async def _slow_contact(
    sessions: Sessions, slug: str, contact: str, recorded: asyncio.Event, go: asyncio.Event
) -> None:
    """Records its change first, then holds its transaction open until told to commit."""
    async with transaction(sessions) as session:
        await inventory.update_entity(
            session=session, actor=OFFICER, slug=slug, changes={"contact": contact}
        )
        recorded.set()
        await go.wait()


async def test_r_inv_4_a_follower_sees_every_change_once_in_commit_order(
    databases: Databases, api: Api, seeded: Sessions
) -> None:
    """R-INV-4: a change that commits after later-started ones is not skipped by a follower.

    The first writer records its change and commits last; two others commit meanwhile and
    the follower reads them. With numbers given at insert, the late change got a number
    below the follower's cursor and was never shown.
    """
    if databases.backend == "sqlite":
        pytest.skip("concurrent writers: SQLite runs one writing transaction at a time")
    follower = Follower(api)
    await follower.poll(first=100)
    seeded_until = len(follower.seen)
    recorded, go = asyncio.Event(), asyncio.Event()
    slow = asyncio.create_task(
        _slow_contact(seeded, "talkdesk", "late@talkdesk.example", recorded, go)
    )
    await asyncio.wait_for(recorded.wait(), 10)
    await asyncio.wait_for(_contact(seeded, "muzak-us", "one@muzak.example"), 10)
    await follower.poll()
    await asyncio.wait_for(_contact(seeded, "mood-media-cz", "two@moodmedia.example"), 10)
    await follower.poll()
    go.set()
    await asyncio.wait_for(slow, 10)
    await follower.poll()
    await follower.poll()

    new = follower.seen[seeded_until:]
    assert [(c["subjectSlug"], c["after"]["contact"]) for c in new] == [
        ("muzak-us", "one@muzak.example"),
        ("mood-media-cz", "two@moodmedia.example"),
        ("talkdesk", "late@talkdesk.example"),
    ]
    sequences = [c["sequence"] for c in follower.seen]
    assert sequences == sorted(set(sequences))


async def test_r_inv_4_a_cached_answer_is_not_served_after_a_late_commit(
    databases: Databases, api: Api, seeded: Sessions
) -> None:
    """R-INV-4: the response cache keys on the commit-ordered sequence, so a change that
    commits after a later-started one still makes the cached answer stale."""
    if databases.backend == "sqlite":
        pytest.skip("concurrent writers: SQLite runs one writing transaction at a time")
    recorded, go = asyncio.Event(), asyncio.Event()
    slow = asyncio.create_task(
        _slow_contact(seeded, "talkdesk", "late@talkdesk.example", recorded, go)
    )
    await asyncio.wait_for(recorded.wait(), 10)
    await asyncio.wait_for(_contact(seeded, "muzak-us", "one@muzak.example"), 10)
    before = await api.data(CONTACT)
    assert before["entity"]["contact"] != "late@talkdesk.example"
    go.set()
    await asyncio.wait_for(slow, 10)
    after = await api.data(CONTACT)
    assert after["entity"]["contact"] == "late@talkdesk.example"


async def test_r_inv_4_a_rolled_back_change_leaves_no_gap(seeded: Sessions) -> None:
    """R-INV-4: the sequence has no holes, so a follower can tell it missed nothing."""
    with pytest.raises(RuntimeError):
        async with transaction(seeded) as session:
            await inventory.update_entity(
                session=session, actor=OFFICER, slug="talkdesk", changes={"contact": "x@y.example"}
            )
            raise RuntimeError("the request failed after recording its change")
    await _contact(seeded, "muzak-us", "one@muzak.example")
    await _contact(seeded, "talkdesk", "two@talkdesk.example")
    async with seeded() as session:
        changes = await history.list_changes(session=session, actor=OFFICER, limit=1000)
    sequences = [c.sequence for c in changes]
    assert sequences == list(range(1, len(changes) + 1))
    assert [c.subject_slug for c in changes[-2:]] == ["muzak-us", "talkdesk"]


SINCE = """
query Since($since: DateTime!) {
  changes(since: $since, subjectSlug: "acme-hosting") { nodes { action at } }
}
"""


async def test_r_inv_4_changes_since_a_time(api: Api, frozen_clock: clock.FrozenClock) -> None:
    """R-INV-4: an integration starting out can ask for the changes from a time on."""
    created = await api.data(CREATE, {"input": new_entity()})
    assert created["createEntity"]["errors"] == []
    frozen_clock.advance(timedelta(hours=1))
    await _contact_over_api(api, "acme-hosting", "dpo@acme.example")
    later = (NOW + timedelta(hours=1)).isoformat()
    data = await api.data(SINCE, {"since": later}, role=Role.INTEGRATION)
    assert data["changes"]["nodes"] == [{"action": "UPDATED", "at": later}]
    earlier = (NOW + timedelta(seconds=1)).isoformat()
    data = await api.data(SINCE, {"since": earlier}, role=Role.INTEGRATION)
    assert [c["action"] for c in data["changes"]["nodes"]] == ["UPDATED"]
    data = await api.data(SINCE, {"since": NOW.isoformat()}, role=Role.INTEGRATION)
    assert [c["action"] for c in data["changes"]["nodes"]] == ["CREATED", "UPDATED"]


UPDATE = """
mutation Update($slug: String!, $contact: String!) {
  updateEntity(slug: $slug, input: {contact: $contact}) { errors { message } }
}
"""


async def _contact_over_api(api: Api, slug: str, contact: str) -> None:
    data = await api.data(UPDATE, {"slug": slug, "contact": contact})
    assert data["updateEntity"]["errors"] == []
