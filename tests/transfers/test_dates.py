"""An adequacy decision covers up to its last day: the day after, the flows relying on it
are gaps (R-INV-2, R-INV-7), in every answer. Both backends, with the clock frozen."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from registry import clock
from registry.countries import AdequacyDecision
from registry.db import transaction
from registry.record import answers as record
from registry.record.graph import Flow
from registry.record.inventory import service as inventory
from registry.record.inventory.models import EntityKind, PartyRole
from registry.record.transfers import service
from registry.record.transfers.models import Mechanism
from registry.record.transfers.safeguards import Safeguard
from tests.conftest import NOW, OFFICER, Api
from tests.transfers.test_service import ACTIVITY, add_entity

Sessions = async_sessionmaker[AsyncSession]
LAST_DAY = NOW.date()
DECISION = "ch-adequacy"
HOST = "swiss-host"
# Austria records its transfer as resting on the decision; Belgium relies on the decision
# without a record; the UK relies on it as an EU decision UK law kept (adopted in 2000).
RECORDED, UNRECORDED, FROM_UK = "mood-media-austria", "mood-media-belgium", "mood-media-uk"


async def swiss_processor(sessions: Sessions) -> None:
    """A processor in Switzerland, whose adequacy decision (as entered here) lapses today."""
    async with transaction(sessions) as session:
        await session.execute(
            update(AdequacyDecision)
            .where(col(AdequacyDecision.slug) == DECISION)
            .values(valid_until=LAST_DAY)
        )
        await add_entity(session, HOST, EntityKind.PROCESSOR, "CH")
        await inventory.add_party(
            session=session,
            actor=OFFICER,
            activity_slug=ACTIVITY,
            entity_slug=HOST,
            role=PartyRole.PROCESSOR,
        )
        await service.create_transfer(
            session=session,
            actor=OFFICER,
            draft=service.TransferDraft(
                activity_slug=ACTIVITY,
                exporter_slug=RECORDED,
                importer_slug=HOST,
                mechanism=Mechanism.ADEQUACY_DECISION,
                adequacy_decision_slug=DECISION,
            ),
        )


async def hops_to_host(sessions: Sessions) -> dict[str, dict[str, Flow]]:
    """The hops into the Swiss processor from each exporter, as each answer has them."""
    async with sessions() as session:
        gaps = await record.gaps(session=session, actor=OFFICER)
        found = await record.who_processes(session=session, actor=OFFICER, country_code="CH")
        controller = await record.controller_record(
            session=session, actor=OFFICER, slug=RECORDED, contact="privacy@example.test"
        )
    (processing,) = [p for p in found if p.entity.slug == HOST]
    return {
        "transferGaps": {f.exporter.slug: f for f in gaps.transfers if f.importer.slug == HOST},
        "whoProcesses": {path[-1].exporter.slug: path[-1] for path in processing.paths},
        "controllerRecord": {
            f.exporter.slug: f for f in controller.transfers if f.importer.slug == HOST
        },
    }


def lapsed(flow: Flow) -> bool:
    return flow.reason is not None and "lapsed" in flow.reason and DECISION in flow.reason


async def test_r_inv_2_a_transfer_resting_on_adequacy_is_fine_on_the_last_day(
    seeded: Sessions,
) -> None:
    """R-INV-2: on the decision's last day, the hops relying on it are covered."""
    await swiss_processor(seeded)
    hops = await hops_to_host(seeded)
    assert hops["transferGaps"] == {}
    for answer in ("whoProcesses", "controllerRecord"):
        assert hops[answer][RECORDED].safeguard is Safeguard.ADEQUACY, answer
    assert hops["whoProcesses"][UNRECORDED].safeguard is Safeguard.ADEQUACY
    assert hops["whoProcesses"][FROM_UK].safeguard is Safeguard.ADEQUACY


async def test_r_inv_2_a_transfer_recorded_as_resting_on_adequacy_is_a_gap_the_day_after(
    seeded: Sessions, frozen_clock: clock.FrozenClock
) -> None:
    """R-INV-2: the day after ``valid_until``, the transfer recorded with the mechanism
    adequacy_decision is a gap that names the lapse, in every answer."""
    await swiss_processor(seeded)
    frozen_clock.advance(timedelta(days=1))
    hops = await hops_to_host(seeded)
    for answer, by_exporter in hops.items():
        flow = by_exporter[RECORDED]
        assert (flow.safeguard, flow.rule_id) == (Safeguard.GAP, "R-INV-2"), answer
        assert lapsed(flow), flow.reason
        assert flow.transfer is not None and flow.transfer.slug == f"{RECORDED}--{HOST}"


async def test_r_inv_2_a_flow_relying_on_adequacy_without_a_record_is_a_gap_the_day_after(
    seeded: Sessions, frozen_clock: clock.FrozenClock
) -> None:
    """R-INV-2: a hop out of the EEA that relied on the decision alone is a gap the day
    after it lapsed, and the reason says that it lapsed, not that there never was one."""
    await swiss_processor(seeded)
    frozen_clock.advance(timedelta(days=1))
    hops = await hops_to_host(seeded)
    for answer in ("transferGaps", "whoProcesses"):
        flow = hops[answer][UNRECORDED]
        assert (flow.safeguard, flow.rule_id, flow.transfer) == (Safeguard.GAP, "R-INV-2", None)
        assert lapsed(flow), flow.reason


async def test_r_inv_7_a_uk_export_relying_on_a_kept_decision_is_a_gap_the_day_after(
    seeded: Sessions, frozen_clock: clock.FrozenClock
) -> None:
    """R-INV-7: an export from the UK covered by an EU decision UK law kept is a gap once
    that decision lapsed, with the lapse as its reason."""
    await swiss_processor(seeded)
    frozen_clock.advance(timedelta(days=1))
    hops = await hops_to_host(seeded)
    for answer in ("transferGaps", "whoProcesses"):
        flow = hops[answer][FROM_UK]
        assert (flow.safeguard, flow.rule_id) == (Safeguard.GAP, "R-INV-7"), answer
        assert lapsed(flow), flow.reason


HOPS = "exporter { slug } importer { slug } safeguard ruleId reason"
QUERY = f"""{{
  transferGaps {{ transfers {{ {HOPS} }} }}
  whoProcesses(country: "CH") {{ entity {{ slug }} paths {{ {HOPS} }} }}
  controllerRecord(slug: "{RECORDED}") {{ transfers {{ {HOPS} }} }}
}}"""


def recorded_hops(data: dict[str, Any]) -> list[dict[str, Any]]:
    paths = [path for p in data["whoProcesses"] for path in p["paths"]]
    flows = [
        *data["transferGaps"]["transfers"],
        *[path[-1] for path in paths],
        *data["controllerRecord"]["transfers"],
    ]
    return [f for f in flows if (f["exporter"]["slug"], f["importer"]["slug"]) == (RECORDED, HOST)]


async def test_r_inv_2_the_graphql_answers_show_the_lapse_the_day_after(
    api: Api, seeded: Sessions, frozen_clock: clock.FrozenClock
) -> None:
    """R-INV-2 over GraphQL: transferGaps, the whoProcesses hop and the controller record
    judge the hop covered on the last day, and a gap naming the lapse the next."""
    await swiss_processor(seeded)
    last_day = recorded_hops(await api.data(QUERY))
    assert [h["safeguard"] for h in last_day] == ["ADEQUACY", "ADEQUACY"]
    frozen_clock.advance(timedelta(days=1))
    day_after = recorded_hops(await api.data(QUERY))
    assert len(day_after) == 3
    assert {(h["safeguard"], h["ruleId"]) for h in day_after} == {("GAP", "R-INV-2")}
    assert all("lapsed" in h["reason"] for h in day_after)
