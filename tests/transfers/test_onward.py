"""Onward transfers and exports from the UK, judged hop by hop (R-INV-7), on both backends."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry.db import transaction
from registry.errors import InvalidInput, RuleBroken
from registry.record import answers as record
from registry.record.documents.models import DocumentKind
from registry.record.graph import Flow
from registry.record.inventory import service as inventory
from registry.record.inventory.models import EntityKind, PartyRole
from registry.record.transfers import service
from registry.record.transfers.models import Mechanism, Transfer
from registry.record.transfers.safeguards import Safeguard
from tests.conftest import OFFICER, Api
from tests.documents.papers import sign_for
from tests.transfers.test_service import add_entity

Sessions = async_sessionmaker[AsyncSession]
ACTIVITY = "call-recording-and-monitoring"
INDIA_SUB = "talkdesk-voice-in"


def draft(
    exporter: str, importer: str, mechanism: Mechanism, module: int | None = None
) -> service.TransferDraft:
    return service.TransferDraft(
        activity_slug=ACTIVITY,
        exporter_slug=exporter,
        importer_slug=importer,
        mechanism=mechanism,
        scc_module=module,
    )


async def engage(sessions: Sessions, processor: str, sub: str, country: str) -> None:
    async with transaction(sessions) as session:
        await add_entity(session, sub, EntityKind.SUB_PROCESSOR, country)
        await inventory.link_sub_processor(
            session=session, actor=OFFICER, processor_slug=processor, sub_processor_slug=sub
        )


async def add_processor(sessions: Sessions, slug: str, country: str) -> None:
    async with transaction(sessions) as session:
        await add_entity(session, slug, EntityKind.PROCESSOR, country)
        await inventory.add_party(
            session=session,
            actor=OFFICER,
            activity_slug=ACTIVITY,
            entity_slug=slug,
            role=PartyRole.PROCESSOR,
        )


async def gaps(sessions: Sessions) -> dict[tuple[str, str], Flow]:
    async with sessions() as session:
        found = await record.gaps(session=session, actor=OFFICER)
    return {(flow.exporter.slug, flow.importer.slug): flow for flow in found.transfers}


async def hops_to(sessions: Sessions, slug: str, country: str) -> list[Flow]:
    """The last hop of every path by which the activity's data reaches the entity."""
    async with sessions() as session:
        found = await record.who_processes(session=session, actor=OFFICER, country_code=country)
    (processing,) = [p for p in found if p.entity.slug == slug]
    return [path[-1] for path in processing.paths]


async def test_r_inv_7_a_talkdesk_sub_processor_in_india_is_a_gap_until_module_3(
    seeded: Sessions,
) -> None:
    """R-INV-7: Talkdesk (US) engaging a sub-processor in India is a transfer of its own."""
    await engage(seeded, "talkdesk", INDIA_SUB, "IN")
    gap = (await gaps(seeded))[("talkdesk", INDIA_SUB)]
    assert (gap.safeguard, gap.rule_id, gap.destination_code) == (Safeguard.GAP, "R-INV-7", "IN")
    hops = await hops_to(seeded, INDIA_SUB, "IN")
    assert hops and {(h.exporter.slug, h.safeguard, h.rule_id) for h in hops} == {
        ("talkdesk", Safeguard.GAP, "R-INV-7")
    }
    async with transaction(seeded) as session:
        await service.create_transfer(
            session=session,
            actor=OFFICER,
            draft=draft("talkdesk", INDIA_SUB, Mechanism.SCC_2021_914, 3),
        )
    # Recorded, the SCCs safeguard the hop once their signed copy is on record (R-INV-2).
    await sign_for(
        seeded, exporter="talkdesk", importer=INDIA_SUB, transfer=f"talkdesk--{INDIA_SUB}", module=3
    )
    assert ("talkdesk", INDIA_SUB) not in await gaps(seeded)
    hops = await hops_to(seeded, INDIA_SUB, "IN")
    assert {(h.safeguard, h.rule_id) for h in hops} == {(Safeguard.TRANSFER_MECHANISM, None)}
    assert {h.transfer.scc_module for h in hops if h.transfer} == {3}


async def test_r_inv_7_module_1_on_a_processor_to_processor_hop_is_refused_r_inv_3(
    seeded: Sessions,
) -> None:
    """R-INV-7 with R-INV-3: the onward hop is processor to processor, so Module 3 only."""
    await engage(seeded, "talkdesk", INDIA_SUB, "IN")
    async with seeded() as session:
        before = await session.scalar(select(func.count()).select_from(Transfer))
    with pytest.raises(RuleBroken) as raised:
        async with transaction(seeded) as session:
            await service.create_transfer(
                session=session,
                actor=OFFICER,
                draft=draft("talkdesk", INDIA_SUB, Mechanism.SCC_2021_914, 1),
            )
    assert raised.value.rule_id == "R-INV-3" and "module 3" in str(raised.value)
    async with seeded() as session:
        assert await session.scalar(select(func.count()).select_from(Transfer)) == before
    assert ("talkdesk", INDIA_SUB) in await gaps(seeded)


async def test_r_inv_7_a_uk_mechanism_does_not_cover_an_onward_hop_of_eea_data(
    seeded: Sessions,
) -> None:
    """R-INV-7: the data reached Talkdesk from the EEA, so its onward hop needs EU SCCs."""
    await engage(seeded, "talkdesk", INDIA_SUB, "IN")
    async with transaction(seeded) as session:
        await service.create_transfer(
            session=session, actor=OFFICER, draft=draft("talkdesk", INDIA_SUB, Mechanism.UK_IDTA)
        )
    gap = (await gaps(seeded))[("talkdesk", INDIA_SUB)]
    assert gap.rule_id == "R-INV-7" and "UK mechanism" in (gap.reason or "")


async def test_r_inv_7_a_sub_processor_in_the_processors_own_country_is_not_a_transfer(
    seeded: Sessions,
) -> None:
    """R-INV-7: Talkdesk (US) to a sub-processor in the US crosses no border."""
    await engage(seeded, "talkdesk", "talkdesk-hosting-us", "US")
    assert not {pair for pair in await gaps(seeded) if "talkdesk-hosting-us" in pair}
    hops = await hops_to(seeded, "talkdesk-hosting-us", "US")
    assert hops and {h.safeguard for h in hops} == {Safeguard.NOT_A_TRANSFER}


async def test_r_inv_7_data_that_never_left_the_eea_is_not_a_gap(seeded: Sessions) -> None:
    """R-INV-7: a processor in France engaging a sub-processor in Germany."""
    await add_processor(seeded, "transcripts-fr", "FR")
    await engage(seeded, "transcripts-fr", "archive-de", "DE")
    assert not {pair for pair in await gaps(seeded) if {"transcripts-fr", "archive-de"} & {*pair}}
    hops = await hops_to(seeded, "archive-de", "DE")
    assert hops and {h.safeguard for h in hops} == {Safeguard.WITHIN_EEA}


async def test_r_inv_7_a_hop_between_two_adequate_countries_is_not_a_gap(
    seeded: Sessions,
) -> None:
    """R-INV-7: a processor in Japan engaging a sub-processor in Switzerland."""
    await add_processor(seeded, "speech-jp", "JP")
    await engage(seeded, "speech-jp", "storage-ch", "CH")
    assert not {pair for pair in await gaps(seeded) if {"speech-jp", "storage-ch"} & {*pair}}
    hops = await hops_to(seeded, "storage-ch", "CH")
    assert hops and {h.safeguard for h in hops} == {Safeguard.ADEQUACY}
    assert {h.adequacy_decision.slug for h in hops if h.adequacy_decision} == {"ch-adequacy"}


async def test_r_inv_7_a_uk_export_to_the_us_needs_a_uk_mechanism(seeded: Sessions) -> None:
    """R-INV-7: the EU SCCs the notice names do not cover Mood Media UK's export to the US;
    the UK Addendum (signed with the SCCs, so with their module) or the IDTA does."""
    found = await gaps(seeded)
    for exporter in ("mood-media-uk", "playnetwork-uk"):
        gap = found[(exporter, "muzak-us")]
        assert gap.rule_id == "R-INV-7" and "UK Addendum" in (gap.reason or "")
    with pytest.raises(RuleBroken) as raised:
        async with transaction(seeded) as session:
            await service.update_transfer(
                session=session,
                actor=OFFICER,
                slug="mood-media-uk--muzak-us",
                changes={"mechanism": Mechanism.UK_ADDENDUM, "scc_module": 2},
            )
    assert raised.value.rule_id == "R-INV-3"
    async with transaction(seeded) as session:
        await service.update_transfer(
            session=session,
            actor=OFFICER,
            slug="mood-media-uk--muzak-us",
            changes={"mechanism": Mechanism.UK_ADDENDUM},
        )
        await service.update_transfer(
            session=session,
            actor=OFFICER,
            slug="playnetwork-uk--muzak-us",
            changes={"mechanism": Mechanism.UK_IDTA, "scc_module": None},
        )
    await sign_for(
        seeded,
        exporter="mood-media-uk",
        importer="muzak-us",
        transfer="mood-media-uk--muzak-us",
        kind=DocumentKind.UK_ADDENDUM,
        module=1,
    )
    await sign_for(
        seeded,
        exporter="playnetwork-uk",
        importer="muzak-us",
        transfer="playnetwork-uk--muzak-us",
        kind=DocumentKind.UK_IDTA,
    )
    found = await gaps(seeded)
    assert ("mood-media-uk", "muzak-us") not in found
    assert ("playnetwork-uk", "muzak-us") not in found
    assert ("mood-media-uk", "dmx-us") in found


async def test_r_inv_7_a_uk_export_to_a_processor_without_a_mechanism_is_a_gap(
    seeded: Sessions,
) -> None:
    """R-INV-7: a UK export with no transfer on record at all names the UK's options."""
    await add_processor(seeded, "callcloud-in", "IN")
    gap = (await gaps(seeded))[("mood-media-uk", "callcloud-in")]
    assert gap.rule_id == "R-INV-7" and "no UK adequacy for IN" in (gap.reason or "")
    async with transaction(seeded) as session:
        await service.create_transfer(
            session=session,
            actor=OFFICER,
            draft=draft("mood-media-uk", "callcloud-in", Mechanism.UK_ADDENDUM, 2),
        )
    await sign_for(
        seeded,
        exporter="mood-media-uk",
        importer="callcloud-in",
        transfer="mood-media-uk--callcloud-in",
        kind=DocumentKind.UK_ADDENDUM,
        module=2,
    )
    assert ("mood-media-uk", "callcloud-in") not in await gaps(seeded)


async def test_r_inv_7_uk_exports_to_the_eea_rest_on_uk_adequacy(seeded: Sessions) -> None:
    """R-INV-7: UK law recognises the EEA states, so Mood Media UK may send to Austria."""
    hops = await hops_to(seeded, "mood-media-austria", "AT")
    from_uk = [h for h in hops if h.exporter.slug in ("mood-media-uk", "playnetwork-uk")]
    assert len(from_uk) == 2 and {h.safeguard for h in from_uk} == {Safeguard.ADEQUACY}
    # No Commission decision covers a UK export: the hop names the UK law it rests on, and
    # has no reason, which only a gap has.
    assert {(h.adequacy_decision, h.reason) for h in from_uk} == {(None, None)}
    assert all("UK adequacy regulations" in (h.adequacy_basis or "") for h in from_uk)


@pytest.mark.parametrize(
    ("mechanism", "module", "field"),
    [
        (Mechanism.UK_IDTA, None, "mechanism"),
        (Mechanism.UK_ADDENDUM, 2, "mechanism"),
    ],
)
async def test_r_inv_7_a_uk_mechanism_for_an_export_from_the_eea_is_refused(
    seeded: Sessions, mechanism: Mechanism, module: int | None, field: str
) -> None:
    """R-INV-7: a UK mechanism covers exports under UK GDPR only."""
    with pytest.raises(InvalidInput) as raised:
        async with transaction(seeded) as session:
            await service.create_transfer(
                session=session,
                actor=OFFICER,
                draft=draft("mood-media-austria", "talkdesk", mechanism, module).model_copy(
                    update={"slug": "new"}
                ),
            )
    assert raised.value.field == field


async def test_r_inv_7_the_idta_takes_no_scc_module(seeded: Sessions) -> None:
    """R-INV-7: the UK IDTA is a contract of its own; an SCC module on it is refused."""
    with pytest.raises(InvalidInput) as raised:
        async with transaction(seeded) as session:
            await service.update_transfer(
                session=session,
                actor=OFFICER,
                slug="playnetwork-uk--talkdesk",
                changes={"mechanism": Mechanism.UK_IDTA},
            )
    assert raised.value.field == "scc_module"


WHO = """{ whoProcesses(country: "IN") { entity { slug }
  paths { exporter { slug } importer { slug } safeguard ruleId reason } } }"""


async def test_r_inv_7_who_processes_shows_the_onward_hop_and_its_rule(
    api: Api, seeded: Sessions
) -> None:
    """R-INV-7: over GraphQL, each path's last hop carries its safeguard and rule ID."""
    await engage(seeded, "talkdesk", INDIA_SUB, "IN")
    data = await api.data(WHO)
    (sub,) = [p for p in data["whoProcesses"] if p["entity"]["slug"] == INDIA_SUB]
    last_hops = {
        (path[-1]["exporter"]["slug"], path[-1]["safeguard"], path[-1]["ruleId"])
        for path in sub["paths"]
    }
    assert last_hops == {("talkdesk", "GAP", "R-INV-7")}
    austria = """{ whoProcesses(country: "AT") { entity { slug }
      paths { exporter { slug } safeguard adequacyBasis } } }"""
    (found,) = [
        p
        for p in (await api.data(austria))["whoProcesses"]
        if p["entity"]["slug"] == "mood-media-austria"
    ]
    from_uk = [path[0] for path in found["paths"] if path[0]["exporter"]["slug"] == "mood-media-uk"]
    assert from_uk == [
        {
            "exporter": {"slug": "mood-media-uk"},
            "safeguard": "ADEQUACY",
            "adequacyBasis": "UK adequacy regulations recognise the EEA states",
        }
    ]
    gaps_query = "{ transferGaps { transfers { exporter { slug } importer { slug } ruleId } } }"
    listed = (await api.data(gaps_query))["transferGaps"]["transfers"]
    assert {
        "exporter": {"slug": "talkdesk"},
        "importer": {"slug": INDIA_SUB},
        "ruleId": "R-INV-7",
    } in listed


async def test_r_inv_7_uk_law_kept_the_eu_adequacy_decisions_made_before_2021(
    seeded: Sessions,
) -> None:
    """R-INV-7: Japan's decision (2019) covers a UK export; Korea's (EU, late 2021) does not,
    as no UK regulation made since is on record."""
    await add_processor(seeded, "speech-jp", "JP")
    await add_processor(seeded, "speech-kr", "KR")
    found = await gaps(seeded)
    assert ("mood-media-uk", "speech-jp") not in found
    assert found[("mood-media-uk", "speech-kr")].rule_id == "R-INV-7"
    assert ("mood-media-austria", "speech-kr") not in found
    hops = await hops_to(seeded, "speech-jp", "JP")
    (from_uk,) = [h for h in hops if h.exporter.slug == "mood-media-uk"]
    assert from_uk.safeguard is Safeguard.ADEQUACY
    assert from_uk.adequacy_decision is not None
    assert from_uk.adequacy_decision.slug == "jp-adequacy"
