"""Countries and adequacy decisions kept through their services, logged, and judged as they
stood on each day (R-INV-2, R-INV-4, R-INV-7), on both backends."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from registry import clock
from registry.access.policy import Action, Role
from registry.access.service import Actor
from registry.countries import (
    AdequacyDecision,
    AdequacyDecisionDraft,
    AdequacyScope,
    Country,
    CountryDraft,
)
from registry.db import transaction
from registry.errors import Conflict, Forbidden, InvalidInput, NotFound
from registry.record import answers
from registry.record.countries import service as countries
from registry.record.graph import Flow
from registry.record.history.models import Change, ChangeEvent
from registry.record.past import as_of
from registry.record.transfers import decisions
from tests.conftest import OFFICER, Api
from tests.history.past import day_after_seeding
from tests.transfers.test_onward import INDIA_SUB, add_processor, engage

Sessions = async_sessionmaker[AsyncSession]
INTEGRATION = Actor(handle="feed", roles=frozenset({Role.INTEGRATION}))
UK_DECISION = "uk-gdpr"
# Seeded: the group companies in the EEA send to those in the UK on the EU's UK decision.
EEA_TO_UK = ("mood-media-austria", "mood-media-uk")
INDIA = "in-adequacy"


def india(adopted_on: date, **fields: Any) -> AdequacyDecisionDraft:
    return AdequacyDecisionDraft(
        slug=INDIA,
        country_code="IN",
        reference="Commission Implementing Decision (EU) 2031/1 (India)",
        scope=AdequacyScope.WHOLE_COUNTRY,
        adopted_on=adopted_on,
        source="OJ L 1, 2.1.2031",
        **fields,
    )


async def _events(sessions: Sessions, event: ChangeEvent) -> list[Change]:
    async with sessions() as session:
        query = select(Change).where(col(Change.event) == event).order_by(col(Change.id))
        return list((await session.scalars(query)).all())


async def _gaps(sessions: Sessions, on: date | None = None) -> dict[tuple[str, str], Flow]:
    async with transaction(sessions) as session:
        found = await answers.gaps(session=session, actor=OFFICER, on=on)
    return {(flow.exporter.slug, flow.importer.slug): flow for flow in found.transfers}


async def _gaps_as_of(sessions: Sessions, day: date) -> dict[tuple[str, str], Flow]:
    """transferGaps as the record stood at the end of ``day``, judged on that day."""
    async with (
        transaction(sessions) as session,
        as_of.session_as_of(
            session=session, actor=OFFICER, day=day, reading=Action.INVENTORY_READ
        ) as past,
    ):
        found = await answers.gaps(session=past, actor=OFFICER, on=day)
    return {(flow.exporter.slug, flow.importer.slug): flow for flow in found.transfers}


# ---------------------------------------------------------------- countries


async def test_r_inv_4_a_country_added_and_changed_is_logged_whole(seeded: Sessions) -> None:
    """R-INV-4: adding and changing a country are events with the whole row."""
    async with transaction(seeded) as session:
        await countries.add_country(
            session=session, actor=OFFICER, draft=CountryDraft(code="mx", name="Mexico")
        )
        await countries.update_country(
            session=session,
            actor=OFFICER,
            code="MX",
            changes={"name": "United Mexican States"},
            reason="official name",
        )
    (added,) = [
        c for c in await _events(seeded, ChangeEvent.COUNTRY_ADDED) if c.subject_slug == "MX"
    ]
    (changed,) = await _events(seeded, ChangeEvent.COUNTRY_UPDATED)
    assert added.after == {"code": "MX", "name": "Mexico", "eea": False, "eu": False}
    assert (changed.before or {})["name"] == "Mexico"
    assert (changed.after or {})["name"] == "United Mexican States"
    assert changed.reason == "official name" and changed.actor == OFFICER.handle


async def test_seeded_countries_are_logged_as_any_other(seeded: Sessions) -> None:
    """R-INV-4: nothing a seed made is special: each seeded country has its event."""
    async with seeded() as session:
        count = await session.scalar(select(func.count()).select_from(Country))
    assert len(await _events(seeded, ChangeEvent.COUNTRY_ADDED)) == count
    assert len(await _events(seeded, ChangeEvent.ADEQUACY_DECISION_CREATED)) > 0


@pytest.mark.parametrize("code", ["UK", "XX", "GBR", "US"])
async def test_a_country_code_must_be_an_unused_iso_3166_alpha_2_code(
    seeded: Sessions, code: str
) -> None:
    known = len(await _events(seeded, ChangeEvent.COUNTRY_ADDED))
    with pytest.raises((InvalidInput, Conflict)) as refused:
        async with transaction(seeded) as session:
            await countries.add_country(
                session=session, actor=OFFICER, draft=CountryDraft(code=code, name="Somewhere")
            )
    assert refused.value.field == "code"
    assert len(await _events(seeded, ChangeEvent.COUNTRY_ADDED)) == known


async def test_an_eu_member_is_in_the_eea_and_a_bad_change_changes_nothing(
    seeded: Sessions,
) -> None:
    with pytest.raises(InvalidInput) as refused:
        async with transaction(seeded) as session:
            await countries.update_country(
                session=session, actor=OFFICER, code="AT", changes={"eea": False}
            )
    assert refused.value.field == "eea"
    with pytest.raises(InvalidInput):
        async with transaction(seeded) as session:
            await countries.update_country(
                session=session, actor=OFFICER, code="AT", changes={"code": "XA"}
            )
    with pytest.raises(NotFound):
        async with transaction(seeded) as session:
            await countries.update_country(
                session=session, actor=OFFICER, code="XA", changes={"name": "X"}
            )
    async with seeded() as session:
        austria = await session.get_one(Country, "AT")
    assert (austria.eea, austria.eu, austria.name) == (True, True, "Austria")
    assert await _events(seeded, ChangeEvent.COUNTRY_UPDATED) == []


async def test_only_the_privacy_officer_keeps_countries_and_decisions(seeded: Sessions) -> None:
    async with transaction(seeded) as session:
        with pytest.raises(Forbidden):
            await countries.add_country(
                session=session, actor=INTEGRATION, draft=CountryDraft(code="MX", name="Mexico")
            )
        with pytest.raises(Forbidden):
            await decisions.create_adequacy_decision(
                session=session, actor=INTEGRATION, draft=india(clock.today())
            )


# ---------------------------------------------------------------- adequacy decisions


async def test_r_inv_4_a_decision_created_is_logged_with_its_source(seeded: Sessions) -> None:
    """R-INV-4: a new decision is an event with the whole row, its source included."""
    async with transaction(seeded) as session:
        await decisions.create_adequacy_decision(
            session=session, actor=OFFICER, draft=india(date(2031, 1, 2))
        )
    created = [
        c
        for c in await _events(seeded, ChangeEvent.ADEQUACY_DECISION_CREATED)
        if c.subject_slug == INDIA
    ]
    assert len(created) == 1 and created[0].before is None
    after = created[0].after or {}
    assert (after["country_code"], after["adopted_on"], after["source"]) == (
        "IN",
        "2031-01-02",
        "OJ L 1, 2.1.2031",
    )


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"valid_until": date(2030, 12, 31)}, "valid_until"),
        ({"slug": "India Adequacy"}, "slug"),
        ({"slug": UK_DECISION}, "slug"),
        ({"country_code": "ZZ"}, "country_code"),
        ({"reference": "  "}, "reference"),
    ],
)
async def test_a_bad_decision_is_refused_and_nothing_is_recorded(
    seeded: Sessions, fields: dict[str, Any], field: str
) -> None:
    values = india(date(2031, 1, 2)).model_dump() | fields
    with pytest.raises((InvalidInput, Conflict)) as refused:
        async with transaction(seeded) as session:
            await decisions.create_adequacy_decision(
                session=session, actor=OFFICER, draft=AdequacyDecisionDraft(**values)
            )
    assert refused.value.field == field
    async with seeded() as session:
        count = await session.scalar(
            select(func.count()).where(col(AdequacyDecision.country_code) == "IN")
        )
    assert count == 0


async def test_a_decision_is_updated_in_each_of_its_fields_but_slug_and_country(
    seeded: Sessions,
) -> None:
    changes = {
        "reference": "Commission Implementing Decision (EU) 2025/9999 (UK GDPR, renewed)",
        "scope": AdequacyScope.WHOLE_COUNTRY,
        "adopted_on": date(2025, 12, 1),
        "valid_until": date(2031, 12, 27),
        "source": "https://eur-lex.europa.eu/",
        "verified": True,
    }
    async with transaction(seeded) as session:
        decision = await decisions.update_adequacy_decision(
            session=session, actor=OFFICER, slug=UK_DECISION, changes=changes
        )
    assert {name: getattr(decision, name) for name in changes} == changes
    for refused in ({"country_code": "US"}, {"slug": "uk"}):
        with pytest.raises(InvalidInput):
            async with transaction(seeded) as session:
                await decisions.update_adequacy_decision(
                    session=session, actor=OFFICER, slug=UK_DECISION, changes=refused
                )
    # Adopted after the last day it covers: refused, whichever of the two is moved.
    with pytest.raises(InvalidInput) as late:
        async with transaction(seeded) as session:
            await decisions.update_adequacy_decision(
                session=session,
                actor=OFFICER,
                slug=UK_DECISION,
                changes={"adopted_on": date(2032, 1, 1)},
            )
    assert late.value.field == "valid_until"


async def test_r_inv_7_a_decision_created_closes_an_onward_gap_from_its_adoption(
    seeded: Sessions, frozen_clock: clock.FrozenClock
) -> None:
    """R-INV-7: Talkdesk's sub-processor in India is a gap until a decision for India is
    adopted; entered today, adopted today, the hop is covered from today, not before, and
    as of yesterday the record still shows the gap."""
    await engage(seeded, "talkdesk", INDIA_SUB, "IN")
    today = await day_after_seeding(seeded, frozen_clock)
    hop = ("talkdesk", INDIA_SUB)
    assert (await _gaps(seeded))[hop].rule_id == "R-INV-7"

    async with transaction(seeded) as session:
        await decisions.create_adequacy_decision(session=session, actor=OFFICER, draft=india(today))

    assert hop not in await _gaps(seeded)
    # Known now, but not adopted yet the day before: that day stays a gap.
    assert hop in await _gaps(seeded, on=today - timedelta(days=1))
    frozen_clock.advance(timedelta(days=2))
    assert hop in await _gaps_as_of(seeded, today - timedelta(days=1))
    assert hop not in await _gaps_as_of(seeded, today)


async def test_r_inv_7_an_eu_decision_adopted_since_2021_does_not_cover_a_uk_export(
    seeded: Sessions, frozen_clock: clock.FrozenClock
) -> None:
    """R-INV-7: a new EU decision covers the EEA's exports to India, not the UK's."""
    await add_processor(seeded, "callcloud-in", "IN")
    today = await day_after_seeding(seeded, frozen_clock)
    async with transaction(seeded) as session:
        await decisions.create_adequacy_decision(session=session, actor=OFFICER, draft=india(today))
    found = await _gaps(seeded)
    assert ("mood-media-austria", "callcloud-in") not in found
    assert found[("mood-media-uk", "callcloud-in")].rule_id == "R-INV-7"


async def test_r_inv_2_a_decision_that_lapses_is_a_gap_from_the_next_day_until_renewed(
    seeded: Sessions, frozen_clock: clock.FrozenClock
) -> None:
    """R-INV-2: the EU's UK decision entered as ending today covers today; from tomorrow the
    EEA's flows to the UK are gaps naming the lapse, until a renewal is entered; the days in
    between read as they stood."""
    today = await day_after_seeding(seeded, frozen_clock)
    async with transaction(seeded) as session:
        await decisions.update_adequacy_decision(
            session=session, actor=OFFICER, slug=UK_DECISION, changes={"valid_until": today}
        )
    assert EEA_TO_UK not in await _gaps(seeded)

    frozen_clock.advance(timedelta(days=1))
    lapsed = (await _gaps(seeded))[EEA_TO_UK]
    assert lapsed.rule_id == "R-INV-2" and "lapsed" in (lapsed.reason or "")

    frozen_clock.advance(timedelta(days=1))
    async with transaction(seeded) as session:
        await decisions.update_adequacy_decision(
            session=session,
            actor=OFFICER,
            slug=UK_DECISION,
            changes={"valid_until": today + timedelta(days=4 * 365)},
            reason="renewed",
        )
    assert EEA_TO_UK not in await _gaps(seeded)
    frozen_clock.advance(timedelta(days=1))
    # As the record stood: covered on its last day, a gap the day after, renewed since.
    assert EEA_TO_UK not in await _gaps_as_of(seeded, today)
    assert EEA_TO_UK in await _gaps_as_of(seeded, today + timedelta(days=1))
    assert EEA_TO_UK not in await _gaps_as_of(seeded, today + timedelta(days=2))


async def test_r_inv_2_a_country_joining_the_eea_is_judged_so_from_its_day(
    seeded: Sessions, frozen_clock: clock.FrozenClock
) -> None:
    """R-INV-2: a country's EEA membership is read as it stood: the flows to it are no
    transfer out of the EEA from the day it is recorded as joining, and were before."""
    await add_processor(seeded, "callcloud-in", "IN")
    today = await day_after_seeding(seeded, frozen_clock)
    frozen_clock.advance(timedelta(days=1))
    async with transaction(seeded) as session:
        await countries.update_country(
            session=session, actor=OFFICER, code="IN", changes={"eea": True}
        )
    assert ("mood-media-austria", "callcloud-in") not in await _gaps(seeded)
    assert ("mood-media-austria", "callcloud-in") in await _gaps_as_of(seeded, today)


# ---------------------------------------------------------------- GraphQL

COUNTRIES = """
query Countries($eea: Boolean, $asOf: Date) {
  countries(eea: $eea, asOf: $asOf) {
    code name eea eu adequacyDecisions { slug adoptedOn validUntil source }
  }
}
"""
ADD_COUNTRY = """
mutation Add($code: String!, $name: String!) {
  addCountry(code: $code, name: $name) {
    country { code name eea eu }
    errors { __typename field }
  }
}
"""
CREATE_DECISION = """
mutation Create($input: CreateAdequacyDecisionInput!) {
  createAdequacyDecision(input: $input) {
    adequacyDecision { slug countryCode adoptedOn validUntil source verified }
    errors { __typename field }
  }
}
"""
UPDATE_DECISION = """
mutation Update($slug: String!, $input: UpdateAdequacyDecisionInput!) {
  updateAdequacyDecision(slug: $slug, input: $input) {
    adequacyDecision { slug reference validUntil source }
    errors { __typename field }
  }
}
"""


async def test_countries_and_decisions_over_graphql(
    api: Api, seeded: Sessions, frozen_clock: clock.FrozenClock
) -> None:
    """R-INV-4: added over GraphQL, listed with their decisions; as of a day before, absent."""
    today = await day_after_seeding(seeded, frozen_clock)
    frozen_clock.advance(timedelta(days=1))
    added = await api.data(ADD_COUNTRY, {"code": "mx", "name": "Mexico"})
    assert added["addCountry"] == {
        "country": {"code": "MX", "name": "Mexico", "eea": False, "eu": False},
        "errors": [],
    }
    refused = await api.data(ADD_COUNTRY, {"code": "UK", "name": "United Kingdom"})
    assert refused["addCountry"] == {
        "country": None,
        "errors": [{"__typename": "InvalidInputError", "field": "code"}],
    }
    created = await api.data(
        CREATE_DECISION,
        {
            "input": {
                "slug": "mx-adequacy",
                "countryCode": "MX",
                "reference": "Commission Implementing Decision (EU) 2031/2",
                "scope": "WHOLE_COUNTRY",
                "adoptedOn": clock.today().isoformat(),
                "source": "OJ L 2",
            }
        },
    )
    assert created["createAdequacyDecision"]["adequacyDecision"]["source"] == "OJ L 2"
    renewed = await api.data(
        UPDATE_DECISION,
        {"slug": UK_DECISION, "input": {"validUntil": "2035-12-27", "source": "OJ L 3"}},
    )
    assert renewed["updateAdequacyDecision"]["adequacyDecision"]["validUntil"] == "2035-12-27"

    now = {c["code"]: c for c in (await api.data(COUNTRIES))["countries"]}
    then = {
        c["code"]: c for c in (await api.data(COUNTRIES, {"asOf": today.isoformat()}))["countries"]
    }
    assert [d["slug"] for d in now["MX"]["adequacyDecisions"]] == ["mx-adequacy"]
    assert "MX" not in then
    assert now["AT"]["eu"] is True and now["NO"]["eu"] is False
    assert then["GB"]["adequacyDecisions"][0]["validUntil"] != "2035-12-27"
    eea = (await api.data(COUNTRIES, {"eea": True}))["countries"]
    assert all(c["eea"] for c in eea) and "NO" in {c["code"] for c in eea}


async def test_only_the_privacy_officer_adds_a_country_over_graphql(api: Api) -> None:
    body = await api.query(ADD_COUNTRY, {"code": "MX", "name": "Mexico"}, role=Role.INTEGRATION)
    errors = body["data"]["addCountry"]["errors"]
    assert [e["__typename"] for e in errors] == ["ForbiddenError"]
