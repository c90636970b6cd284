"""Typed change events (R-INV-4): every write to the record is one event of one shape, naming
what happened, to which subject, before and after, who, when, why, and the request that made
it. Through the real GraphQL endpoint, on both backends."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry import clock
from registry.access.policy import Role
from registry.db import transaction
from registry.record.inventory.models import DataCategory
from tests.conftest import NOW, Api
from tests.inventory.test_graphql import CREATE, new_entity

Sessions = async_sessionmaker[AsyncSession]
ACTIVITY = "call-recording-and-monitoring"
OFFICER_HANDLE = "test-privacy-officer"

FEED = """
query Feed($after: String, $events: [ChangeEvent!], $subjectType: String) {
  changes(first: 100, after: $after, events: $events, subjectType: $subjectType) {
    nodes {
      sequence schemaVersion event subjectType subjectSlug action actor at reason requestId
      before after
    }
    pageInfo { endCursor hasNextPage }
  }
}
"""


async def send(
    api: Api,
    document: str,
    variables: dict[str, Any] | None = None,
    *,
    request_id: str,
    role: Role = Role.PRIVACY_OFFICER,
) -> dict[str, Any]:
    """Runs ``document`` as the request ``request_id``; its data, having checked the
    endpoint names the request as the caller asked."""
    response = await api.client.post(
        "/graphql",
        json={"query": document, "variables": variables or {}},
        headers={"Authorization": f"Bearer {api.tokens[role]}", "X-Request-ID": request_id},
    )
    assert response.status_code == 200, response.text
    assert response.headers["X-Request-ID"] == request_id
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


async def _follow(
    api: Api, after: str | None, filters: dict[str, Any]
) -> tuple[list[dict[str, Any]], str | None]:
    """Pages through the feed from ``after`` to its end, as a follower does."""
    nodes: list[dict[str, Any]] = []
    while True:
        data = await api.data(FEED, {"after": after, **filters}, role=Role.INTEGRATION)
        page = data["changes"]
        nodes += page["nodes"]
        after = page["pageInfo"]["endCursor"] or after
        if not page["pageInfo"]["hasNextPage"]:
            return nodes, after


async def feed(api: Api, after: str | None = None, **filters: Any) -> list[dict[str, Any]]:
    nodes, _ = await _follow(api, after, filters)
    return nodes


async def cursor(api: Api) -> str | None:
    """Where the feed ends now: what a follower would resume from."""
    _, end = await _follow(api, None, {})
    return end


def by_request(changes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for change in changes:
        assert change["requestId"] not in found, "one change per write"
        found[change["requestId"]] = change
    return found


ERRORS = "errors { __typename message field }"
UPDATE_ENTITY = f"""
mutation($slug: String!, $contact: String, $reason: String) {{
  updateEntity(slug: $slug, input: {{contact: $contact}}, reason: $reason) {{ {ERRORS} }}
}}"""
RETIRE = f"""
mutation($slug: String!, $reason: String!) {{
  retireEntity(slug: $slug, reason: $reason) {{ {ERRORS} }}
}}"""
LINK = f"""
mutation($p: String!, $s: String!, $reason: String) {{
  linkSubProcessor(processor: $p, subProcessor: $s, reason: $reason) {{ {ERRORS} }}
}}"""
UNLINK = f"""
mutation($p: String!, $s: String!, $reason: String) {{
  unlinkSubProcessor(processor: $p, subProcessor: $s, reason: $reason) {{ {ERRORS} }}
}}"""
ADD_PARTY = f"""
mutation($entity: String!) {{
  addActivityParty(activity: "{ACTIVITY}", entity: $entity, role: PROCESSOR) {{ {ERRORS} }}
}}"""
ATTACH = f"""
mutation($category: String!) {{
  attachDataCategory(activity: "{ACTIVITY}", category: $category,
                     retentionCriterion: "Kept with its call", retentionDays: 30) {{ {ERRORS} }}
}}"""
CREATE_TRANSFER = f"""
mutation($importer: String!) {{
  createTransfer(input: {{activity: "{ACTIVITY}", exporter: "talkdesk", importer: $importer,
                         mechanism: SCC_2021_914, sccModule: 3}}) {{
    transfer {{ slug }} {ERRORS}
  }}
}}"""
UPDATE_TRANSFER = f"""
mutation($slug: String!, $note: String, $reason: String) {{
  updateTransfer(slug: $slug, input: {{note: $note}}, reason: $reason) {{ {ERRORS} }}
}}"""
UPDATE_DECISION = f"""
mutation($slug: String!, $input: UpdateAdequacyDecisionInput!, $reason: String) {{
  updateAdequacyDecision(slug: $slug, input: $input, reason: $reason) {{
    adequacyDecision {{ slug verified validUntil note scopeNote }}
    {ERRORS}
  }}
}}"""


def ok(data: dict[str, Any]) -> None:
    (payload,) = data.values()
    assert payload["errors"] == [], payload["errors"]


async def _add_category(sessions: Sessions, key: str) -> None:
    # The taxonomy is reference data, loaded with the seeds; no API adds to it.
    async with transaction(sessions) as session:
        session.add(DataCategory(key=key, name="Hobbies mentioned on the call"))


async def test_r_inv_4_every_write_records_its_typed_event(api: Api, seeded: Sessions) -> None:
    """R-INV-4: each kind of write is an event of its own type, with its subject's snapshot
    before and after, the actor, the reason given and the request that made it."""
    await _add_category(seeded, "user.hobbies")
    start = await cursor(api)
    today = NOW.date().isoformat()
    entity = new_entity(slug="acme-voice-in", countryCode="IN")
    ok(await send(api, CREATE, {"input": entity}, request_id="req-create-entity"))
    ok(
        await send(
            api,
            UPDATE_ENTITY,
            {"slug": "acme-voice-in", "contact": "dpo@acme.example", "reason": "  new DPO  "},
            request_id="req-update-entity",
        )
    )
    link = {"p": "talkdesk", "s": "acme-voice-in", "reason": "voice storage in India"}
    ok(await send(api, LINK, link, request_id="req-link"))
    ok(await send(api, CREATE_TRANSFER, {"importer": "acme-voice-in"}, request_id="req-transfer"))
    ok(
        await send(
            api,
            UPDATE_TRANSFER,
            {"slug": "talkdesk--acme-voice-in", "note": "TIA pending", "reason": "audit"},
            request_id="req-update-transfer",
        )
    )
    ok(await send(api, UNLINK, {**link, "reason": "contract ended"}, request_id="req-unlink"))
    processor = new_entity(slug="acme-qa", kind="PROCESSOR")
    ok(await send(api, CREATE, {"input": processor}, request_id="req-create-processor"))
    ok(await send(api, ADD_PARTY, {"entity": "acme-qa"}, request_id="req-party"))
    ok(await send(api, ATTACH, {"category": "user.hobbies"}, request_id="req-attach"))
    decision = {"slug": "uk-gdpr", "input": {"verified": True}, "reason": "checked the OJ"}
    ok(await send(api, UPDATE_DECISION, decision, request_id="req-decision"))
    retire = {"slug": "acme-voice-in", "reason": "Left the group's supply chain"}
    ok(await send(api, RETIRE, retire, request_id="req-retire"))

    changes = by_request(await feed(api, start))
    assert set(changes) == {
        "req-create-entity",
        "req-update-entity",
        "req-link",
        "req-transfer",
        "req-update-transfer",
        "req-unlink",
        "req-create-processor",
        "req-party",
        "req-attach",
        "req-decision",
        "req-retire",
    }
    for change in changes.values():
        assert change["actor"] == OFFICER_HANDLE
        assert change["schemaVersion"] == 2

    def kind(request: str) -> tuple[str, str, str, str]:
        c = changes[request]
        return c["event"], c["subjectType"], c["subjectSlug"], c["action"]

    assert kind("req-create-entity") == ("ENTITY_CREATED", "entity", "acme-voice-in", "CREATED")
    created = changes["req-create-entity"]
    assert created["before"] is None and created["reason"] is None
    assert created["after"]["slug"] == "acme-voice-in" and "id" in created["after"]
    assert created["after"]["country_code"] == "IN"

    assert kind("req-update-entity") == ("ENTITY_UPDATED", "entity", "acme-voice-in", "UPDATED")
    updated = changes["req-update-entity"]
    assert (updated["before"]["contact"], updated["after"]["contact"]) == (
        None,
        "dpo@acme.example",
    )
    assert updated["reason"] == "new DPO"

    assert kind("req-link") == (
        "SUB_PROCESSOR_ENGAGED",
        "engagement",
        "talkdesk>acme-voice-in",
        "LINKED",
    )
    engaged = changes["req-link"]
    assert engaged["before"] is None
    assert engaged["after"] == {
        "processor": "talkdesk",
        "sub_processor": "acme-voice-in",
        "since": today,
        "ended_on": None,
    }
    assert engaged["reason"] == "voice storage in India"
    released = changes["req-unlink"]
    assert kind("req-unlink")[:2] == ("SUB_PROCESSOR_RELEASED", "engagement")
    assert released["before"]["ended_on"] is None
    assert released["after"]["ended_on"] == today
    assert released["after"]["processor"] == "talkdesk"
    assert released["reason"] == "contract ended"

    assert kind("req-transfer") == (
        "TRANSFER_CREATED",
        "transfer",
        "talkdesk--acme-voice-in",
        "CREATED",
    )
    made = changes["req-transfer"]["after"]
    assert (made["exporter"], made["importer"], made["activity"]) == (
        "talkdesk",
        "acme-voice-in",
        ACTIVITY,
    )
    assert made["scc_module"] == 3 and "id" in made and made["data_category_keys"] == []
    changed = changes["req-update-transfer"]
    assert kind("req-update-transfer")[0] == "TRANSFER_UPDATED"
    assert (changed["before"]["note"], changed["after"]["note"]) == (None, "TIA pending")
    assert changed["reason"] == "audit"

    assert kind("req-party") == (
        "ACTIVITY_PARTY_ADDED",
        "activity_party",
        f"{ACTIVITY}>acme-qa",
        "LINKED",
    )
    assert changes["req-party"]["after"] == {
        "activity": ACTIVITY,
        "entity": "acme-qa",
        "role": "processor",
    }
    assert kind("req-attach") == (
        "DATA_CATEGORY_ATTACHED",
        "activity_data_category",
        f"{ACTIVITY}>user.hobbies",
        "LINKED",
    )
    assert changes["req-attach"]["after"] == {
        "retention_days": 30,
        "retention_criterion": "Kept with its call",
        "retention_stated": True,
        "activity": ACTIVITY,
        "data_category": "user.hobbies",
    }

    assert kind("req-decision")[:3] == ("ADEQUACY_DECISION_CHANGED", "adequacy_decision", "uk-gdpr")
    decided = changes["req-decision"]
    assert decided["before"]["verified"] is False and decided["after"]["verified"] is True
    # The whole row, before and after: a follower can replay the decision's terms.
    assert decided["after"]["adopted_on"] == "2021-06-28"
    assert decided["after"]["valid_until"] == "2031-12-27"
    assert {"id", "reference", "scope", "country_code", "note"} <= set(decided["after"])
    assert decided["reason"] == "checked the OJ"

    assert kind("req-retire") == ("ENTITY_RETIRED", "entity", "acme-voice-in", "RETIRED")
    retired = changes["req-retire"]
    assert retired["before"]["retired_on"] is None and retired["after"]["retired_on"] == today
    assert retired["reason"] == "Left the group's supply chain"


async def test_r_inv_4_engaging_again_shows_the_ended_engagement_before(
    api: Api, frozen_clock: clock.FrozenClock
) -> None:
    """R-INV-4: a sub-processor engaged again after its engagement ended: the event's
    `before` is the ended engagement, not nothing."""
    ok(await api.data(CREATE, {"input": new_entity()}))
    link = {"p": "talkdesk", "s": "acme-hosting"}
    ok(await api.data(LINK, link))
    frozen_clock.advance(timedelta(days=1))
    ok(await api.data(UNLINK, link))
    start = await cursor(api)
    frozen_clock.advance(timedelta(days=1))
    ok(await api.data(LINK, link))
    (again,) = await feed(api, start)
    ended_on = (NOW + timedelta(days=1)).date().isoformat()
    ends = {"processor": "talkdesk", "sub_processor": "acme-hosting"}
    assert again["event"] == "SUB_PROCESSOR_ENGAGED"
    assert again["before"] == {**ends, "since": NOW.date().isoformat(), "ended_on": ended_on}
    since = (NOW + timedelta(days=2)).date().isoformat()
    assert again["after"] == {**ends, "since": since, "ended_on": None}


async def test_r_inv_4_loading_the_seeds_is_an_event_with_no_request(api: Api) -> None:
    """R-INV-4: writes made outside an API request (the seeds, the command line) are events
    too, and name no request."""
    (loaded,) = await feed(api, events=["SEEDS_LOADED"])
    assert (loaded["subjectType"], loaded["requestId"], loaded["before"]) == ("seeds", None, None)
    assert loaded["after"]["entities"] > 0
    created = await feed(api, events=["ENTITY_CREATED"])
    assert created and all(c["requestId"] is None for c in created)


async def test_r_inv_4_a_write_that_fails_records_no_event(api: Api) -> None:
    """R-INV-4: a refused write changes nothing, so the log has nothing of it."""
    start = await cursor(api)
    refused = [
        (UPDATE_ENTITY, {"slug": "talkdesk", "contact": "x@y.example", "reason": "x" * 2001}),
        (UPDATE_ENTITY, {"slug": "no-such-entity", "contact": "x@y.example"}),
        (LINK, {"p": "talkdesk", "s": "muzak-us"}),
        (UNLINK, {"p": "talkdesk", "s": "muzak-us", "reason": "never engaged"}),
        (ATTACH, {"category": "user.special.health"}),
        (UPDATE_TRANSFER, {"slug": "city-tv-ee--dmx-us", "note": "n", "reason": "bell \x07"}),
        (UPDATE_DECISION, {"slug": "uk-gdpr", "input": {"validUntil": "2020-01-01"}}),
        (UPDATE_DECISION, {"slug": "uk-gdpr", "input": {"verified": True}, "reason": "x" * 2001}),
    ]
    for number, (document, variables) in enumerate(refused):
        data = await send(api, document, variables, request_id=f"req-refused-{number}")
        (payload,) = data.values()
        assert payload["errors"], (document, variables)
    assert await feed(api, start) == []
    # The same writes, made well, are recorded: the refusals above were the only cause.
    ok(
        await send(
            api,
            UPDATE_ENTITY,
            {"slug": "talkdesk", "contact": "x@y.example"},
            request_id="req-fine",
        )
    )
    assert [c["requestId"] for c in await feed(api, start)] == ["req-fine"]


async def test_r_inv_4_a_write_that_alters_nothing_records_nothing(api: Api) -> None:
    """R-INV-4: an edit that leaves the subject as it was is no change."""
    start = await cursor(api)
    same = {"slug": "us-data-privacy-framework", "input": {"verified": True}}
    data = await send(api, UPDATE_DECISION, same, request_id="req-same-decision")
    ok(data)
    assert data["updateAdequacyDecision"]["adequacyDecision"]["verified"] is True
    assert await feed(api, start) == []


async def test_r_inv_4_adequacy_decision_edits_are_checked(api: Api) -> None:
    """R-INV-4: the privacy team edits a decision's dates, check and notes; bad input is
    refused with a typed error, and only the privacy team may edit."""

    async def refused(variables: dict[str, Any], role: Role = Role.PRIVACY_OFFICER) -> Any:
        data = await send(api, UPDATE_DECISION, variables, request_id="req-decision-x", role=role)
        payload = data["updateAdequacyDecision"]
        assert payload["adequacyDecision"] is None
        (error,) = payload["errors"]
        return error["__typename"], error["field"]

    assert await refused({"slug": "nope", "input": {"verified": True}}) == ("NotFoundError", None)
    assert await refused({"slug": "uk-gdpr", "input": {"validUntil": "2021-06-27"}}) == (
        "InvalidInputError",
        "valid_until",
    )
    assert await refused({"slug": "uk-gdpr", "input": {"verified": None}}) == (
        "InvalidInputError",
        "verified",
    )
    assert await refused({"slug": "uk-gdpr", "input": {"note": "x" * 2001}}) == (
        "InvalidInputError",
        "note",
    )
    assert await refused({"slug": "uk-gdpr", "input": {"scopeNote": "bad \x07 bell"}}) == (
        "InvalidInputError",
        "scope_note",
    )
    for role in (Role.INTEGRATION, Role.ADMIN, Role.AGENT):
        typename, _ = await refused({"slug": "uk-gdpr", "input": {"verified": True}}, role)
        assert typename == "ForbiddenError"

    # The day it was adopted is a valid end; blank text is stored as missing (R-INV-5).
    edit = {"validUntil": "2021-06-28", "note": "   ", "scopeNote": " Whole UK "}
    data = await send(
        api, UPDATE_DECISION, {"slug": "uk-gdpr", "input": edit}, request_id="req-ok-first"
    )
    assert data["updateAdequacyDecision"] == {
        "adequacyDecision": {
            "slug": "uk-gdpr",
            "verified": False,
            "validUntil": "2021-06-28",
            "note": None,
            "scopeNote": "Whole UK",
        },
        "errors": [],
    }
    # Only what is given changes: null clears the end date, the rest stays.
    data = await send(
        api,
        UPDATE_DECISION,
        {"slug": "uk-gdpr", "input": {"validUntil": None}},
        request_id="req-ok-second",
    )
    assert data["updateAdequacyDecision"]["adequacyDecision"]["validUntil"] is None
    assert data["updateAdequacyDecision"]["adequacyDecision"]["scopeNote"] == "Whole UK"
    (first, second) = await feed(api, events=["ADEQUACY_DECISION_CHANGED"])
    assert (first["requestId"], second["requestId"]) == ("req-ok-first", "req-ok-second")
    assert second["before"] == first["after"]
    assert second["after"]["valid_until"] is None


ENTITIES_SINCE = """
query($since: DateTime!) {
  entities(updatedSince: $since, first: 100, filter: {includeRetired: true}) { nodes { slug } }
}"""
TRANSFERS_SINCE = """
query($since: DateTime!) { transfers(updatedSince: $since, first: 100) { nodes { slug } } }
"""


async def _changed(api: Api, since: Any) -> tuple[set[str], set[str]]:
    entities = await api.data(ENTITIES_SINCE, {"since": since.isoformat()})
    transfers = await api.data(TRANSFERS_SINCE, {"since": since.isoformat()})
    return (
        {e["slug"] for e in entities["entities"]["nodes"]},
        {t["slug"] for t in transfers["transfers"]["nodes"]},
    )


async def test_r_inv_4_lists_of_what_changed_since_a_time(
    api: Api, frozen_clock: clock.FrozenClock
) -> None:
    """R-INV-4: an integration asks for the entities and transfers changed at or after a
    time; an entity changes with its own edits and with its sub-processor engagements."""
    # After every change the seeds made, whenever the templates were built.
    latest = max(c["at"] for c in await feed(api))
    frozen_clock.current = datetime.fromisoformat(latest) + timedelta(days=1)
    base = clock.now()
    ok(await api.data(CREATE, {"input": new_entity(slug="acme-early")}))
    ok(await api.data(CREATE, {"input": new_entity(slug="acme-later")}))
    assert await _changed(api, base) == ({"acme-early", "acme-later"}, set())

    frozen_clock.advance(timedelta(hours=1))
    later = clock.now()
    ok(await api.data(UPDATE_ENTITY, {"slug": "muzak-us", "contact": "c@muzak.example"}))
    ok(await api.data(LINK, {"p": "talkdesk", "s": "acme-later"}))
    ok(await api.data(UPDATE_TRANSFER, {"slug": "city-tv-ee--dmx-us", "note": "renewed"}))
    ok(await api.data(RETIRE, {"slug": "acme-early", "reason": "merged"}))
    assert await _changed(api, later) == (
        {"muzak-us", "talkdesk", "acme-later", "acme-early"},
        {"city-tv-ee--dmx-us"},
    )
    assert await _changed(api, base) == (
        {"muzak-us", "talkdesk", "acme-later", "acme-early"},
        {"city-tv-ee--dmx-us"},
    )
    assert await _changed(api, later + timedelta(microseconds=1)) == (set(), set())
    # A retired entity is left out unless asked for, as in every list.
    data = await api.data(
        "query($s: DateTime!) { entities(updatedSince: $s) { nodes { slug } } }",
        {"s": later.isoformat()},
    )
    assert {e["slug"] for e in data["entities"]["nodes"]} == {"muzak-us", "talkdesk", "acme-later"}


async def test_r_inv_4_the_feed_filters_by_event_type(api: Api) -> None:
    """R-INV-4: a follower asks only for the event types it handles; a filter the feed does
    not know is refused with a typed error."""
    start = await cursor(api)
    ok(await api.data(CREATE, {"input": new_entity()}))
    ok(await api.data(UPDATE_ENTITY, {"slug": "acme-hosting", "contact": "a@acme.example"}))
    ok(await api.data(RETIRE, {"slug": "acme-hosting", "reason": "gone"}))
    updates = await feed(api, start, events=["ENTITY_UPDATED", "ENTITY_RETIRED"])
    assert [c["event"] for c in updates] == ["ENTITY_UPDATED", "ENTITY_RETIRED"]
    assert [c["event"] for c in await feed(api, start, events=[])] == [
        "ENTITY_CREATED",
        "ENTITY_UPDATED",
        "ENTITY_RETIRED",
    ]
    assert await feed(api, start, events=["TRANSFER_CREATED"]) == []
    assert [c["event"] for c in await feed(api, start, subjectType="entity")] == [
        "ENTITY_CREATED",
        "ENTITY_UPDATED",
        "ENTITY_RETIRED",
    ]

    body = await api.query(FEED, {"events": ["NOPE"]}, role=Role.INTEGRATION)
    assert body["data"] is None and "NOPE" in body["errors"][0]["message"]
    body = await api.query(FEED, {"subjectType": "entities"}, role=Role.INTEGRATION)
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "INVALID_INPUT"
    assert "entities" in error["message"]
    body = await api.query(FEED, {"events": ["ENTITY_CREATED"] * 51}, role=Role.INTEGRATION)
    assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


async def test_r_inv_4_times_in_any_zone_name_the_same_moment(
    api: Api, frozen_clock: clock.FrozenClock
) -> None:
    """R-INV-4: `since` and `updatedSince` given in another zone, or with none (read as
    UTC), keep the same changes as the same moment in UTC."""
    latest = max(c["at"] for c in await feed(api))
    frozen_clock.current = datetime.fromisoformat(latest) + timedelta(days=1)
    ok(await api.data(UPDATE_ENTITY, {"slug": "muzak-us", "contact": "c@muzak.example"}))
    moment = clock.now()
    in_utc = moment.isoformat()
    in_vienna = moment.astimezone(timezone(timedelta(hours=1))).isoformat()
    no_zone = moment.replace(tzinfo=None).isoformat()
    just_after = (moment + timedelta(minutes=30)).astimezone(timezone(timedelta(hours=1)))
    for given in (in_utc, in_vienna, no_zone):
        entities = await api.data(ENTITIES_SINCE, {"since": given})
        assert [e["slug"] for e in entities["entities"]["nodes"]] == ["muzak-us"], given
        changes = await api.data(SINCE, {"since": given}, role=Role.INTEGRATION)
        assert [c["subjectSlug"] for c in changes["changes"]["nodes"]] == ["muzak-us"], given
    entities = await api.data(ENTITIES_SINCE, {"since": just_after.isoformat()})
    assert entities["entities"]["nodes"] == []


SINCE = """
query($since: DateTime!) { changes(since: $since) { nodes { subjectSlug } } }
"""


async def test_r_inv_4_updated_since_does_not_go_with_as_of(api: Api) -> None:
    """R-INV-4: `updatedSince` asks the change log as it is now; with `asOf`, a record
    rebuilt for a past day, it is refused with a typed error, not answered wrongly."""
    for query in ("entities", "transfers"):
        body = await api.query(
            f"query($s: DateTime!, $d: Date!) {{ {query}(updatedSince: $s, asOf: $d)"
            " { nodes { slug } } }",
            {"s": NOW.isoformat(), "d": (NOW.date() - timedelta(days=1)).isoformat()},
        )
        (error,) = body["errors"]
        assert error["extensions"]["code"] == "INVALID_INPUT", error
        assert "asOf" in error["message"]
