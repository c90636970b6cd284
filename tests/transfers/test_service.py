"""Rules of transfers and their safeguards (R-INV-2, R-INV-3), on both backends."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry.db import transaction
from registry.errors import InvalidInput, NotFound, RuleBroken
from registry.record import answers as record
from registry.record.history.models import Change
from registry.record.inventory import service as inventory
from registry.record.inventory.models import EntityKind, PartyRole
from registry.record.transfers import service
from registry.record.transfers.models import Mechanism, Transfer
from registry.record.transfers.safeguards import Safeguard
from tests.conftest import OFFICER
from tests.documents.papers import sign_for, sign_seeded_sccs

Sessions = async_sessionmaker[AsyncSession]
ACTIVITY = "call-recording-and-monitoring"


def scc(exporter: str, importer: str, module: int | None, **extra: object) -> service.TransferDraft:
    return service.TransferDraft(
        activity_slug=ACTIVITY,
        exporter_slug=exporter,
        importer_slug=importer,
        mechanism=Mechanism.SCC_2021_914,
        scc_module=module,
        **extra,  # type: ignore[arg-type]
    )


async def add_entity(session: AsyncSession, slug: str, kind: EntityKind, country: str) -> None:
    await inventory.create_entity(
        session=session,
        actor=OFFICER,
        draft=inventory.EntityDraft(slug=slug, kind=kind, legal_name=slug, country_code=country),
    )


UK_COMPANIES = ("mood-media-uk", "playnetwork-uk")
US_COMPANIES = (
    "convergence-us",
    "dmx-us",
    "mood-media-north-america-holdings",
    "muzak-us",
    "servicenet-exp-us",
    "technical-media-solutions-us",
    "playnetwork-us",
)
# The notice names only the EU SCCs: the UK companies' exports to the US group companies and
# to Talkdesk have no UK mechanism, so the seeded record shows each as a gap (R-INV-7).
SEEDED_UK_GAPS = {(uk, us) for uk in UK_COMPANIES for us in (*US_COMPANIES, "talkdesk")}


async def gap_pairs(sessions: Sessions) -> set[tuple[str, str]]:
    async with sessions() as session:
        gaps = await record.gaps(session=session, actor=OFFICER)
    return {(flow.exporter.slug, flow.importer.slug) for flow in gaps.transfers}


async def test_r_inv_2_the_seeded_record_has_no_transfer_gap_from_the_eea_once_signed(
    seeded: Sessions,
) -> None:
    """R-INV-2: the notice names the SCCs for every flow out of the EEA, without a signed
    copy: each is a gap saying so. Once the signed copies are recorded, nothing leaves the
    EEA uncovered; the only gaps are the UK's (R-INV-7)."""
    async with seeded() as session:
        unsigned = await record.gaps(session=session, actor=OFFICER)
    from_eea = [f for f in unsigned.transfers if f.rule_id == "R-INV-2"]
    assert from_eea and all(f.reason and "no signed SCC" in f.reason for f in from_eea)
    await sign_seeded_sccs(seeded)
    assert await gap_pairs(seeded) == SEEDED_UK_GAPS


async def test_r_inv_7_the_seeded_uk_exports_lack_a_uk_mechanism(seeded: Sessions) -> None:
    """R-INV-7: what the notice states leaves these hops uncovered, and the record says so."""
    await sign_seeded_sccs(seeded)
    async with seeded() as session:
        gaps = await record.gaps(session=session, actor=OFFICER)
    assert {flow.rule_id for flow in gaps.transfers} == {"R-INV-7"}
    assert {flow.transfer.mechanism for flow in gaps.transfers if flow.transfer} == {
        Mechanism.SCC_2021_914
    }
    assert len(gaps.transfers) == len(SEEDED_UK_GAPS)


async def test_r_inv_2_a_flow_out_of_the_eea_without_a_mechanism_is_a_gap(seeded: Sessions) -> None:
    """R-INV-2: a flow out of the eea without a mechanism is a gap."""
    await sign_seeded_sccs(seeded)
    async with transaction(seeded) as session:
        await service.update_transfer(
            session=session,
            actor=OFFICER,
            slug="mood-media-austria--talkdesk",
            changes={"ended_on": date(2026, 6, 30)},
        )
    assert await gap_pairs(seeded) - SEEDED_UK_GAPS == {("mood-media-austria", "talkdesk")}


async def test_r_inv_2_a_new_processor_outside_the_eea_shows_as_a_gap_until_covered(
    seeded: Sessions,
) -> None:
    """R-INV-2: a new processor outside the eea shows as a gap until covered."""
    await sign_seeded_sccs(seeded)
    async with transaction(seeded) as session:
        await add_entity(session, "callcloud-in", EntityKind.PROCESSOR, "IN")
        await inventory.add_party(
            session=session,
            actor=OFFICER,
            activity_slug=ACTIVITY,
            entity_slug="callcloud-in",
            role=PartyRole.PROCESSOR,
        )
    gaps = await gap_pairs(seeded) - SEEDED_UK_GAPS
    # Every controller now sends data to India with no safeguard: the EEA ones (R-INV-2), the
    # US ones onwards (R-INV-7) and the UK ones under UK GDPR (R-INV-7).
    assert {importer for _, importer in gaps} == {"callcloud-in"}
    assert len(gaps) == 28
    async with transaction(seeded) as session:
        await service.create_transfer(
            session=session, actor=OFFICER, draft=scc("mood-media-austria", "callcloud-in", 2)
        )
    await sign_for(
        seeded,
        exporter="mood-media-austria",
        importer="callcloud-in",
        transfer="mood-media-austria--callcloud-in",
        module=2,
    )
    assert ("mood-media-austria", "callcloud-in") not in await gap_pairs(seeded)


async def test_r_inv_2_uk_adequacy_covers_flows_to_uk_group_companies(seeded: Sessions) -> None:
    """R-INV-2: uk adequacy covers flows to uk group companies."""
    async with seeded() as session:
        found = await record.who_processes(session=session, actor=OFFICER, country_code="GB")
    uk = next(p for p in found if p.entity.slug == "mood-media-uk")
    assert uk.paths and {path[0].safeguard for path in uk.paths} == {Safeguard.ADEQUACY}


async def test_r_inv_2_the_dpf_covers_only_certified_us_importers(seeded: Sessions) -> None:
    """R-INV-2: the dpf covers only certified us importers."""
    async with transaction(seeded) as session:
        await add_entity(session, "voice-analytics-us", EntityKind.PROCESSOR, "US")
        await inventory.add_party(
            session=session,
            actor=OFFICER,
            activity_slug=ACTIVITY,
            entity_slug="voice-analytics-us",
            role=PartyRole.PROCESSOR,
        )
    assert ("mood-media-austria", "voice-analytics-us") in await gap_pairs(seeded)
    async with transaction(seeded) as session:
        await inventory.update_entity(
            session=session,
            actor=OFFICER,
            slug="voice-analytics-us",
            changes={"dpf_certified": True},
        )
    assert ("mood-media-austria", "voice-analytics-us") not in await gap_pairs(seeded)


@pytest.mark.parametrize(
    ("exporter", "importer", "kinds", "module"),
    [
        ("ctrl-a", "ctrl-b", (EntityKind.GROUP_COMPANY, EntityKind.GROUP_COMPANY), 1),
        ("ctrl-a", "proc-b", (EntityKind.GROUP_COMPANY, EntityKind.PROCESSOR), 2),
        ("proc-a", "proc-b", (EntityKind.PROCESSOR, EntityKind.PROCESSOR), 3),
        ("proc-a", "ctrl-b", (EntityKind.PROCESSOR, EntityKind.GROUP_COMPANY), 4),
    ],
)
async def test_r_inv_3_the_scc_module_must_match_the_roles(
    seeded: Sessions,
    exporter: str,
    importer: str,
    kinds: tuple[EntityKind, EntityKind],
    module: int,
) -> None:
    async with transaction(seeded) as session:
        for slug, kind, country in ((exporter, kinds[0], "FR"), (importer, kinds[1], "US")):
            await add_entity(session, slug, kind, country)
            role = (
                PartyRole.JOINT_CONTROLLER
                if kind is EntityKind.GROUP_COMPANY
                else PartyRole.PROCESSOR
            )
            await inventory.add_party(
                session=session, actor=OFFICER, activity_slug=ACTIVITY, entity_slug=slug, role=role
            )
    for wrong in {1, 2, 3, 4, None} - {module}:
        with pytest.raises(RuleBroken) as raised:
            async with transaction(seeded) as session:
                await service.create_transfer(
                    session=session, actor=OFFICER, draft=scc(exporter, importer, wrong)
                )
        assert raised.value.rule_id == "R-INV-3"
    async with transaction(seeded) as session:
        transfer = await service.create_transfer(
            session=session, actor=OFFICER, draft=scc(exporter, importer, module)
        )
    assert transfer.scc_module == module


async def test_r_inv_3_changing_a_transfer_to_the_wrong_module_is_refused(seeded: Sessions) -> None:
    """R-INV-3: changing a transfer to the wrong module is refused."""
    async with seeded() as session:
        changes_before = await session.scalar(select(func.count()).select_from(Change))
    with pytest.raises(RuleBroken):
        async with transaction(seeded) as session:
            await service.update_transfer(
                session=session,
                actor=OFFICER,
                slug="mood-media-austria--talkdesk",
                changes={"scc_module": 1, "note": "changed"},
            )
    async with seeded() as session:
        transfer = await service.transfer_by_slug(session, "mood-media-austria--talkdesk")
        changes_after = await session.scalar(select(func.count()).select_from(Change))
    assert (transfer.scc_module, transfer.note) == (2, None)
    assert changes_after == changes_before


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"mechanism": None}, "mechanism"),
        ({"mechanism": "carrier pigeon"}, "mechanism"),
        ({"scc_module": "two"}, "scc_module"),
        ({"signed_on": "last spring"}, "signed_on"),
        ({"data_category_keys": 7}, "data_category_keys"),
    ],
)
async def test_a_transfer_update_of_the_wrong_type_is_refused_naming_its_field(
    seeded: Sessions, changes: dict[str, object], field: str
) -> None:
    async with seeded() as session:
        changes_before = await session.scalar(select(func.count()).select_from(Change))
    with pytest.raises(InvalidInput) as raised:
        async with transaction(seeded) as session:
            await service.update_transfer(
                session=session,
                actor=OFFICER,
                slug="mood-media-austria--talkdesk",
                changes={**changes, "note": "changed"},
            )
    assert raised.value.field == field
    async with seeded() as session:
        transfer = await service.transfer_by_slug(session, "mood-media-austria--talkdesk")
        changes_after = await session.scalar(select(func.count()).select_from(Change))
    assert (transfer.mechanism, transfer.scc_module, transfer.note) == (
        Mechanism.SCC_2021_914,
        2,
        None,
    )
    assert changes_after == changes_before


@pytest.mark.parametrize(
    ("draft", "field"),
    [
        (scc("mood-media-austria", "mood-media-austria", 1), "importer"),
        (scc("mood-media-austria", "nobody", 1), None),
        (
            scc("mood-media-austria", "muzak-us", 1, destination_country_code="ZZ"),
            "destination_country_code",
        ),
        (
            scc("mood-media-austria", "muzak-us", 1, data_category_keys=("user.special.health",)),
            "data_categories",
        ),
        (scc("mood-media-austria", "muzak-us", 1, signed_on=date(2027, 1, 1)), "signed_on"),
        (
            service.TransferDraft(
                activity_slug=ACTIVITY,
                exporter_slug="mood-media-austria",
                importer_slug="muzak-us",
                mechanism=Mechanism.ART49_DEROGATION,
            ),
            "derogation",
        ),
        (
            service.TransferDraft(
                activity_slug=ACTIVITY,
                exporter_slug="mood-media-austria",
                importer_slug="muzak-us",
                mechanism=Mechanism.ADEQUACY_DECISION,
                adequacy_decision_slug="uk-gdpr",
            ),
            "adequacy_decision",
        ),
    ],
)
async def test_bad_transfers_are_refused_and_nothing_is_written(
    seeded: Sessions, draft: service.TransferDraft, field: str | None
) -> None:
    async with seeded() as session:
        before = await session.scalar(select(func.count()).select_from(Transfer))
    with pytest.raises((InvalidInput, RuleBroken, NotFound)) as raised:
        async with transaction(seeded) as session:
            await service.create_transfer(
                session=session,
                actor=OFFICER,
                draft=draft.__class__(**{**draft.__dict__, "slug": "new"}),
            )
    if field is not None:
        assert getattr(raised.value, "field", None) == field
    async with seeded() as session:
        assert await session.scalar(select(func.count()).select_from(Transfer)) == before


async def test_a_transfer_records_its_data_categories(seeded: Sessions) -> None:
    async with transaction(seeded) as session:
        await add_entity(session, "ctrl-jp", EntityKind.GROUP_COMPANY, "JP")
        await inventory.add_party(
            session=session,
            actor=OFFICER,
            activity_slug=ACTIVITY,
            entity_slug="ctrl-jp",
            role=PartyRole.JOINT_CONTROLLER,
        )
        transfer = await service.create_transfer(
            session=session,
            actor=OFFICER,
            draft=service.TransferDraft(
                activity_slug=ACTIVITY,
                exporter_slug="mood-media-austria",
                importer_slug="ctrl-jp",
                mechanism=Mechanism.ADEQUACY_DECISION,
                adequacy_decision_slug="jp-adequacy",
                data_category_keys=("user.voice.recording", "user.name"),
            ),
        )
    assert transfer.slug == "mood-media-austria--ctrl-jp"
    assert transfer.destination_country_code == "JP"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"tia_reference": "TIA-" + "x" * 300}, "tia_reference"),
        ({"tia_reference": "TIA 2026\n-14"}, "tia_reference"),
        ({"note": "ok\x07"}, "note"),
        ({"supplementary_measures": "y" * 2001}, "supplementary_measures"),
    ],
)
async def test_a_transfers_free_text_is_bounded_and_clean(
    seeded: Sessions, changes: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        async with transaction(seeded) as session:
            await service.update_transfer(
                session=session, actor=OFFICER, slug="mood-media-austria--talkdesk", changes=changes
            )
    assert raised.value.field == field


async def test_r_inv_5_a_transfers_blank_text_is_stored_as_missing(seeded: Sessions) -> None:
    """R-INV-5: blank text is no data: stored as missing, not as an empty string."""
    async with transaction(seeded) as session:
        transfer = await service.update_transfer(
            session=session,
            actor=OFFICER,
            slug="mood-media-austria--talkdesk",
            changes={"note": "  ", "tia_reference": " TIA-2026-14 "},
        )
    assert (transfer.note, transfer.tia_reference) == (None, "TIA-2026-14")
