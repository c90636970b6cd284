"""Supervisory authorities and each controller's lead and complaint authority: kept through
the service and logged (R-INV-4), seeded only from what the notice says, a missing lead
authority shown as a gap of the controller's record (R-INV-5), on both backends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from registry import clock
from registry.access.policy import Action, Role
from registry.access.service import Actor
from registry.db import transaction
from registry.errors import Conflict, Forbidden, InvalidInput, NotFound
from registry.exports import ropa
from registry.record import answers
from registry.record.answers import EntityGapReason
from registry.record.history.models import Change, ChangeEvent
from registry.record.past import as_of
from registry.record.supervision import service
from registry.record.supervision.models import (
    AuthorityRole,
    ControllerAuthority,
    SupervisoryAuthority,
    SupervisoryAuthorityDraft,
)
from tests.conftest import OFFICER, Api
from tests.history.past import day_after_seeding

Sessions = async_sessionmaker[AsyncSession]
CONTROLLER = "mood-media-austria"
AUTHORITY = "dsb-at"
INTEGRATION = Actor(handle="feed", roles=frozenset({Role.INTEGRATION}))


def austrian_authority(**fields: object) -> SupervisoryAuthorityDraft:
    values: dict[str, object] = {
        "slug": AUTHORITY,
        "name": "Österreichische Datenschutzbehörde",
        "country_code": "AT",
        "website": "https://www.dsb.gv.at",
    }
    return SupervisoryAuthorityDraft.model_validate(values | fields)


async def _events(sessions: Sessions, event: ChangeEvent) -> list[Change]:
    async with sessions() as session:
        query = select(Change).where(col(Change.event) == event).order_by(col(Change.id))
        return list((await session.scalars(query)).all())


async def _lead(sessions: Sessions, authority: str = AUTHORITY) -> None:
    async with transaction(sessions) as session:
        if (
            await session.scalar(
                select(col(SupervisoryAuthority.id)).where(
                    col(SupervisoryAuthority.slug) == authority
                )
            )
            is None
        ):
            await service.add_authority(session=session, actor=OFFICER, draft=austrian_authority())
        await service.set_controller_authority(
            session=session,
            actor=OFFICER,
            controller_slug=CONTROLLER,
            role=AuthorityRole.LEAD,
            authority_slug=authority,
        )


async def _record_gaps(sessions: Sessions, slug: str = CONTROLLER) -> list[EntityGapReason]:
    async with sessions() as session:
        record = await answers.controller_record(
            session=session, actor=OFFICER, slug=slug, contact="privacy@example.test"
        )
    return [r for gap in record.gaps if gap.entity.slug == slug for r in gap.reasons]


async def test_the_seeds_name_no_authority_and_keep_the_notices_complaint_rule(
    seeded: Sessions,
) -> None:
    """R-INV-5: the notice names no authority, so none is seeded; its complaint rule (the
    authority of the country where the person lives) is each controller's complaint entry,
    naming no authority; no controller has a lead authority."""
    async with seeded() as session:
        authorities = (await session.scalars(select(SupervisoryAuthority))).all()
        entries = (await session.scalars(select(ControllerAuthority))).all()
    assert authorities == []
    assert entries and {e.role for e in entries} == {AuthorityRole.COMPLAINT}
    assert all(e.authority_id is None for e in entries)
    assert all("country where they live" in (e.note or "") for e in entries)
    # Seeded through the service: each entry has its event, as any other.
    assert len(await _events(seeded, ChangeEvent.CONTROLLER_AUTHORITY_SET)) == len(entries)


async def test_r_inv_5_a_controller_without_a_lead_authority_is_a_gap_of_its_record(
    seeded: Sessions,
) -> None:
    """R-INV-5: the controller's record lists the missing lead authority until one is set,
    and again once it is cleared."""
    assert EntityGapReason.NO_LEAD_AUTHORITY in await _record_gaps(seeded)
    await _lead(seeded)
    assert EntityGapReason.NO_LEAD_AUTHORITY not in await _record_gaps(seeded)
    async with transaction(seeded) as session:
        await service.clear_controller_authority(
            session=session, actor=OFFICER, controller_slug=CONTROLLER, role=AuthorityRole.LEAD
        )
    assert EntityGapReason.NO_LEAD_AUTHORITY in await _record_gaps(seeded)


async def test_r_inv_5_a_lead_entry_with_only_a_note_is_still_a_gap(seeded: Sessions) -> None:
    """R-INV-5: a note saying who would lead is not an authority on record."""
    async with transaction(seeded) as session:
        await service.set_controller_authority(
            session=session,
            actor=OFFICER,
            controller_slug=CONTROLLER,
            role=AuthorityRole.LEAD,
            authority_slug=None,
            note="The authority of the main establishment, to be confirmed.",
        )
    assert EntityGapReason.NO_LEAD_AUTHORITY in await _record_gaps(seeded)


async def test_r_inv_5_the_export_names_both_authorities_and_the_gap(seeded: Sessions) -> None:
    """R-INV-5: the controller rows of the export show the lead authority (or "not
    recorded" and a gap) and the complaint authority (the notice's rule)."""

    async def row() -> ropa.ControllerRow:
        async with seeded() as session:
            export = await ropa.build(
                session=session,
                actor=OFFICER,
                contact="privacy@example.test",
                controller=CONTROLLER,
            )
        return export.controllers[0]

    before = await row()
    assert before.lead_authority == ropa.NOT_RECORDED
    assert any(
        g.startswith("Mood Media GmbH (AT):") and "no lead supervisory authority" in g
        for g in before.gaps
    )
    assert "country where they live" in before.complaint_authority
    await _lead(seeded)
    after = await row()
    assert after.lead_authority == "Österreichische Datenschutzbehörde (AT)"
    assert not any("no lead supervisory authority" in g for g in after.gaps)


async def test_r_inv_4_authorities_and_entries_are_logged_before_and_after(
    seeded: Sessions,
) -> None:
    """R-INV-4: each write is an event naming the controller and authority by slug."""
    await _lead(seeded)
    async with transaction(seeded) as session:
        await service.update_authority(
            session=session,
            actor=OFFICER,
            slug=AUTHORITY,
            changes={"contact": "dsb@dsb.gv.at", "verified": True},
            reason="checked on its website",
        )
        await service.clear_controller_authority(
            session=session, actor=OFFICER, controller_slug=CONTROLLER, role=AuthorityRole.LEAD
        )
    (added,) = await _events(seeded, ChangeEvent.SUPERVISORY_AUTHORITY_ADDED)
    (updated,) = await _events(seeded, ChangeEvent.SUPERVISORY_AUTHORITY_UPDATED)
    lead_set = [
        c
        for c in await _events(seeded, ChangeEvent.CONTROLLER_AUTHORITY_SET)
        if c.subject_slug == f"{CONTROLLER}>lead"
    ]
    (cleared,) = await _events(seeded, ChangeEvent.CONTROLLER_AUTHORITY_CLEARED)
    assert (added.before, (added.after or {})["slug"]) == (None, AUTHORITY)
    assert (updated.before or {})["contact"] is None
    assert (updated.after or {})["contact"] == "dsb@dsb.gv.at"
    assert updated.reason == "checked on its website"
    assert [c.after for c in lead_set] == [
        {"controller": CONTROLLER, "role": "lead", "authority": AUTHORITY, "note": None}
    ]
    assert cleared.subject_slug == f"{CONTROLLER}>lead" and cleared.after is None


async def test_bad_input_is_refused_and_changes_nothing(seeded: Sessions) -> None:
    await _lead(seeded)
    refusals = [
        (
            lambda s: service.add_authority(session=s, actor=OFFICER, draft=austrian_authority()),
            Conflict,
        ),
        (
            lambda s: service.add_authority(
                session=s, actor=OFFICER, draft=austrian_authority(slug="x-y", country_code="ZZ")
            ),
            InvalidInput,
        ),
        (
            lambda s: service.add_authority(
                session=s, actor=OFFICER, draft=austrian_authority(slug="Bad Slug")
            ),
            InvalidInput,
        ),
        (
            lambda s: service.update_authority(
                session=s, actor=OFFICER, slug=AUTHORITY, changes={"slug": "other"}
            ),
            InvalidInput,
        ),
        (
            # Neither an authority nor the rule that names it.
            lambda s: service.set_controller_authority(
                session=s,
                actor=OFFICER,
                controller_slug=CONTROLLER,
                role=AuthorityRole.LEAD,
                authority_slug=None,
                note="  ",
            ),
            InvalidInput,
        ),
        (
            # A processor is no controller.
            lambda s: service.set_controller_authority(
                session=s,
                actor=OFFICER,
                controller_slug="talkdesk",
                role=AuthorityRole.LEAD,
                authority_slug=AUTHORITY,
            ),
            InvalidInput,
        ),
        (
            lambda s: service.set_controller_authority(
                session=s,
                actor=OFFICER,
                controller_slug=CONTROLLER,
                role=AuthorityRole.LEAD,
                authority_slug="nobody",
            ),
            NotFound,
        ),
    ]
    count = len(await _events(seeded, ChangeEvent.CONTROLLER_AUTHORITY_SET))
    for attempt, error in refusals:
        with pytest.raises(error):
            async with transaction(seeded) as session:
                await attempt(session)
    assert len(await _events(seeded, ChangeEvent.CONTROLLER_AUTHORITY_SET)) == count
    assert EntityGapReason.NO_LEAD_AUTHORITY not in await _record_gaps(seeded)
    async with transaction(seeded) as session:
        with pytest.raises(Forbidden):
            await service.add_authority(
                session=session, actor=INTEGRATION, draft=austrian_authority(slug="other")
            )


async def test_r_inv_4_the_lead_authority_reads_as_it_stood_on_the_day(
    seeded: Sessions, frozen_clock: clock.FrozenClock
) -> None:
    """R-INV-4, R-INV-5: set after T, the lead authority is absent as of T (a gap then)."""
    day = await day_after_seeding(seeded, frozen_clock)
    frozen_clock.advance(timedelta(days=1))
    await _lead(seeded)
    async with (
        transaction(seeded) as session,
        as_of.session_as_of(
            session=session, actor=OFFICER, day=day, reading=Action.INVENTORY_READ
        ) as past,
    ):
        then = await answers.controller_record(
            session=past, actor=OFFICER, slug=CONTROLLER, contact="c", on=day
        )
    then_reasons = [r for g in then.gaps if g.entity.slug == CONTROLLER for r in g.reasons]
    assert EntityGapReason.NO_LEAD_AUTHORITY in then_reasons
    assert AuthorityRole.COMPLAINT in then.authorities
    assert EntityGapReason.NO_LEAD_AUTHORITY not in await _record_gaps(seeded)


ENTITY = """
query Entity($slug: String!, $asOf: Date) {
  entity(slug: $slug, asOf: $asOf) {
    leadAuthority { role note authority { slug name countryCode } }
    complaintAuthority { role note authority { slug } }
  }
}
"""
ADD = """
mutation Add($input: AddSupervisoryAuthorityInput!) {
  addSupervisoryAuthority(input: $input) {
    supervisoryAuthority { slug name countryCode website verified }
    errors { __typename field }
  }
}
"""
SET = """
mutation Set($controller: String!, $authority: String) {
  setControllerAuthority(controller: $controller, role: LEAD, authority: $authority) {
    controllerAuthority { role authority { slug } note }
    errors { __typename field }
  }
}
"""
CLEAR = """
mutation Clear($controller: String!) {
  clearControllerAuthority(controller: $controller, role: LEAD) { errors { __typename } }
}
"""


async def test_authorities_over_graphql(api: Api) -> None:
    """R-INV-5: set over GraphQL, the lead authority shows on the entity; cleared, it is gone."""
    added = await api.data(
        ADD, {"input": {"slug": AUTHORITY, "name": "Datenschutzbehörde", "countryCode": "at"}}
    )
    assert added["addSupervisoryAuthority"] == {
        "supervisoryAuthority": {
            "slug": AUTHORITY,
            "name": "Datenschutzbehörde",
            "countryCode": "AT",
            "website": None,
            "verified": False,
        },
        "errors": [],
    }
    done = await api.data(SET, {"controller": CONTROLLER, "authority": AUTHORITY})
    assert done["setControllerAuthority"]["controllerAuthority"]["authority"] == {"slug": AUTHORITY}
    entity = (await api.data(ENTITY, {"slug": CONTROLLER}))["entity"]
    assert entity["leadAuthority"] == {
        "role": "LEAD",
        "note": None,
        "authority": {"slug": AUTHORITY, "name": "Datenschutzbehörde", "countryCode": "AT"},
    }
    assert entity["complaintAuthority"]["authority"] is None
    assert "country where they live" in entity["complaintAuthority"]["note"]
    listed = await api.data("{ supervisoryAuthorities { slug } }")
    assert listed["supervisoryAuthorities"] == [{"slug": AUTHORITY}]

    refused = await api.data(SET, {"controller": "talkdesk", "authority": AUTHORITY})
    assert refused["setControllerAuthority"]["errors"] == [
        {"__typename": "InvalidInputError", "field": "controller"}
    ]
    assert (await api.data(CLEAR, {"controller": CONTROLLER}))["clearControllerAuthority"] == {
        "errors": []
    }
    assert (await api.data(ENTITY, {"slug": CONTROLLER}))["entity"]["leadAuthority"] is None


async def test_only_the_privacy_officer_sets_an_authority_over_graphql(api: Api) -> None:
    body = await api.query(SET, {"controller": CONTROLLER, "authority": AUTHORITY}, role=Role.AGENT)
    errors = body["data"]["setControllerAuthority"]["errors"]
    assert [e["__typename"] for e in errors] == ["ForbiddenError"]
