"""Documents as references, and a transfer's signed papers (R-INV-2, R-INV-3, R-INV-4,
R-INV-7), on both backends."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry import clock
from registry.access.policy import Role
from registry.access.service import Actor
from registry.db import transaction
from registry.errors import Forbidden, InvalidInput, RuleBroken
from registry.record import answers as record
from registry.record.documents import service
from registry.record.documents.models import Document, DocumentKind, DocumentRole
from registry.record.graph import Flow
from registry.record.history.models import Change, ChangeEvent
from registry.record.transfers import service as transfers
from registry.record.transfers.models import Mechanism
from registry.record.transfers.safeguards import Safeguard
from tests.conftest import OFFICER
from tests.documents.papers import sign_for, sign_seeded_sccs, signed_day

Sessions = async_sessionmaker[AsyncSession]
TALKDESK_SCC = "scc-group-to-talkdesk"
GROUP_SCC = "scc-group-to-us-companies"
AUSTRIA = "mood-media-austria"
TO_TALKDESK = "mood-media-austria--talkdesk"
TO_MUZAK = "mood-media-austria--muzak-us"


async def gaps(sessions: Sessions, on: date | None = None) -> dict[tuple[str, str], Flow]:
    async with sessions() as session:
        found = await record.gaps(session=session, actor=OFFICER, on=on)
    return {(flow.exporter.slug, flow.importer.slug): flow for flow in found.transfers}


async def changes(sessions: Sessions) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Change)) or 0)


def draft(slug: str = "dpa-talkdesk", **given: object) -> service.DocumentDraft:
    values: dict[str, object] = {
        "slug": slug,
        "kind": DocumentKind.SCC_2021_914,
        "title": "SCCs with Talkdesk",
        "location": "contracts://talkdesk/2024",
        "signed_on": signed_day(),
        "scc_module": 2,
        "parties": (
            service.PartyDraft(entity_slug=AUSTRIA, role=DocumentRole.EXPORTER),
            service.PartyDraft(entity_slug="talkdesk", role=DocumentRole.IMPORTER),
        ),
        **given,
    }
    return service.DocumentDraft.model_validate(values)


async def add(sessions: Sessions, document: service.DocumentDraft) -> Document:
    async with transaction(sessions) as session:
        return await service.add_document(session=session, actor=OFFICER, draft=document)


async def test_r_inv_2_an_scc_named_without_a_signed_copy_is_a_gap(seeded: Sessions) -> None:
    """R-INV-2: the notice names SCCs with Talkdesk but no signed copy is on record: each
    transfer they cover is a gap saying so, until the signed copy is recorded."""
    gap = (await gaps(seeded))[(AUSTRIA, "talkdesk")]
    assert (gap.safeguard, gap.rule_id) == (Safeguard.GAP, "R-INV-2")
    assert gap.reason is not None and gap.reason.startswith("no signed SCC on record")
    assert f"{TALKDESK_SCC} has no signing date on record" in gap.reason
    assert [d.slug for d in gap.documents] == [TALKDESK_SCC]

    await sign_seeded_sccs(seeded)

    found = await gaps(seeded)
    assert (AUSTRIA, "talkdesk") not in found
    assert (AUSTRIA, "muzak-us") not in found


async def test_r_inv_2_papers_count_only_while_in_force(seeded: Sessions) -> None:
    """R-INV-2: a signed copy counts from the day it is signed and in effect, until the day
    it expires or is withdrawn; asked on a day, the gaps judge the papers of that day."""
    await sign_seeded_sccs(seeded)
    today = clock.today()
    async with transaction(seeded) as session:
        await service.update_document(
            session=session,
            actor=OFFICER,
            slug=TALKDESK_SCC,
            changes={"effective_from": today - timedelta(days=10)},
        )
    assert (AUSTRIA, "talkdesk") in await gaps(seeded, on=today - timedelta(days=11))
    assert (AUSTRIA, "talkdesk") not in await gaps(seeded, on=today - timedelta(days=10))

    async with transaction(seeded) as session:
        await service.update_document(
            session=session, actor=OFFICER, slug=TALKDESK_SCC, changes={"expires_on": today}
        )
    expired = (await gaps(seeded))[(AUSTRIA, "talkdesk")]
    assert expired.reason is not None and f"expired on {today}" in expired.reason

    async with transaction(seeded) as session:
        await service.update_document(
            session=session, actor=OFFICER, slug=TALKDESK_SCC, changes={"expires_on": None}
        )
        await service.withdraw_document(
            session=session, actor=OFFICER, slug=TALKDESK_SCC, on=None, reason="Terminated."
        )
    withdrawn = (await gaps(seeded))[(AUSTRIA, "talkdesk")]
    assert withdrawn.reason is not None and f"was withdrawn on {today}" in withdrawn.reason
    assert (AUSTRIA, "talkdesk") not in await gaps(seeded, on=today - timedelta(days=1))


async def test_r_inv_3_an_scc_document_names_a_module_from_1_to_4(seeded: Sessions) -> None:
    """R-INV-3: the SCCs' modules are 1 to 4; an SCC document without one is refused, and
    other documents carry none."""
    for module in (None, 0, 5):
        with pytest.raises(RuleBroken) as broken:
            await add(seeded, draft(scc_module=module))
        assert (broken.value.rule_id, broken.value.field) == ("R-INV-3", "scc_module")
    with pytest.raises(InvalidInput):
        await add(seeded, draft(kind=DocumentKind.DPA, scc_module=2))
    assert await add(seeded, draft(kind=DocumentKind.DPA, scc_module=None))


async def test_r_inv_3_an_scc_document_covers_transfers_of_its_module_only(
    seeded: Sessions,
) -> None:
    """R-INV-3: Module 1 clauses (controller to controller) cannot stand for a transfer to
    Talkdesk, a processor, under Module 2; nothing is written by the refusal."""
    await add(seeded, draft(scc_module=1))
    before = await changes(seeded)
    with pytest.raises(RuleBroken) as broken:
        async with transaction(seeded) as session:
            await service.attach_document(
                session=session, actor=OFFICER, slug="dpa-talkdesk", transfer_slug=TO_TALKDESK
            )
    assert broken.value.rule_id == "R-INV-3"
    assert await changes(seeded) == before


async def test_r_inv_3_a_module_change_is_checked_against_the_transfers_covered(
    seeded: Sessions,
) -> None:
    """R-INV-3: changing an attached SCC's module away from its transfers' is refused."""
    await add(seeded, draft(transfer_slugs=(TO_TALKDESK,)))
    with pytest.raises(RuleBroken) as broken:
        async with transaction(seeded) as session:
            await service.update_document(
                session=session, actor=OFFICER, slug="dpa-talkdesk", changes={"scc_module": 3}
            )
    assert broken.value.rule_id == "R-INV-3"
    async with seeded() as session:
        assert (await service.document_by_slug(session, "dpa-talkdesk")).scc_module == 2


async def test_r_inv_2_signed_papers_name_the_transfers_exporter_and_importer(
    seeded: Sessions,
) -> None:
    """R-INV-2: SCCs signed by others do not cover this transfer: its exporter and importer
    must be their exporter and importer."""
    other = (service.PartyDraft(entity_slug="mood-media-germany", role=DocumentRole.EXPORTER),)
    talkdesk = (service.PartyDraft(entity_slug="talkdesk", role=DocumentRole.IMPORTER),)
    for parties in (other + talkdesk, draft().parties[:1]):
        with pytest.raises(InvalidInput) as refused:
            await add(seeded, draft(parties=parties, transfer_slugs=(TO_TALKDESK,)))
        assert refused.value.field == "parties"
    # The importer named only as a party, not as the importer, is not enough either.
    as_party = (service.PartyDraft(entity_slug="talkdesk", role=DocumentRole.PARTY),)
    with pytest.raises(InvalidInput):
        await add(
            seeded, draft(parties=draft().parties[:1] + as_party, transfer_slugs=(TO_TALKDESK,))
        )


async def test_dates_are_in_order(seeded: Sessions) -> None:
    """A document is not signed in the future, and expires after it was signed and took
    effect; a refusal names the field."""
    today = clock.today()
    cases = [
        ({"signed_on": today + timedelta(days=1)}, "signed_on"),
        ({"expires_on": signed_day()}, "expires_on"),
        ({"effective_from": today, "expires_on": today - timedelta(days=1)}, "expires_on"),
    ]
    before = await changes(seeded)
    for given, field in cases:
        with pytest.raises(InvalidInput) as refused:
            await add(seeded, draft(**given))
        assert refused.value.field == field
    assert await changes(seeded) == before


async def test_a_withdrawn_or_expired_document_covers_nothing_new(seeded: Sessions) -> None:
    await add(seeded, draft(expires_on=clock.today()))
    with pytest.raises(InvalidInput, match="expired"):
        async with transaction(seeded) as session:
            await service.attach_document(
                session=session, actor=OFFICER, slug="dpa-talkdesk", transfer_slug=TO_TALKDESK
            )
    await add(seeded, draft("scc-2"))
    async with transaction(seeded) as session:
        await service.withdraw_document(
            session=session, actor=OFFICER, slug="scc-2", on=None, reason="Replaced."
        )
    with pytest.raises(InvalidInput, match="withdrawn"):
        async with transaction(seeded) as session:
            await service.attach_document(
                session=session, actor=OFFICER, slug="scc-2", transfer_slug=TO_TALKDESK
            )


async def test_signed_papers_go_with_their_mechanism(seeded: Sessions) -> None:
    """An IDTA does not stand for the EU SCCs; a DPA may cover any transfer between its
    parties, without safeguarding it."""
    idta = draft("idta", kind=DocumentKind.UK_IDTA, scc_module=None)
    with pytest.raises(InvalidInput) as refused:
        await add(seeded, idta.model_copy(update={"transfer_slugs": (TO_TALKDESK,)}))
    assert refused.value.field == "transfer"
    controller = service.PartyDraft(entity_slug=AUSTRIA, role=DocumentRole.CONTROLLER)
    processor = service.PartyDraft(entity_slug="talkdesk", role=DocumentRole.PROCESSOR)
    await add(
        seeded,
        draft(
            "dpa",
            kind=DocumentKind.DPA,
            scc_module=None,
            parties=(controller, processor),
            transfer_slugs=(TO_TALKDESK,),
        ),
    )
    assert (AUSTRIA, "talkdesk") in await gaps(seeded)


async def test_r_inv_7_a_uk_addendum_needs_its_signed_copy(seeded: Sessions) -> None:
    """R-INV-7: the UK company's export to Talkdesk under the UK Addendum is a gap until the
    signed Addendum is on record; the EU SCCs alone are not it."""
    uk = "mood-media-uk--talkdesk"
    async with transaction(seeded) as session:
        await transfers.update_transfer(
            session=session,
            actor=OFFICER,
            slug=uk,
            changes={"mechanism": Mechanism.UK_ADDENDUM, "scc_module": 2},
        )
    await sign_seeded_sccs(seeded)
    gap = (await gaps(seeded))[("mood-media-uk", "talkdesk")]
    assert gap.rule_id == "R-INV-7"
    assert gap.reason is not None and gap.reason.startswith("no signed UK Addendum on record")
    await sign_for(
        seeded,
        exporter="mood-media-uk",
        importer="talkdesk",
        transfer=uk,
        kind=DocumentKind.UK_ADDENDUM,
        module=2,
    )
    assert ("mood-media-uk", "talkdesk") not in await gaps(seeded)


async def test_r_inv_4_every_write_is_an_event_and_a_withdrawn_document_stays(
    seeded: Sessions,
) -> None:
    """R-INV-4: adding, changing, attaching, detaching and withdrawing are each logged with
    the document whole before and after; a withdrawn document is still listed."""
    await add(seeded, draft(signed_on=None))
    async with transaction(seeded) as session:
        await service.update_document(
            session=session, actor=OFFICER, slug="dpa-talkdesk", changes={"signed_on": signed_day()}
        )
        await service.attach_document(
            session=session, actor=OFFICER, slug="dpa-talkdesk", transfer_slug=TO_TALKDESK
        )
        await service.detach_document(
            session=session,
            actor=OFFICER,
            slug="dpa-talkdesk",
            transfer_slug=TO_TALKDESK,
            reason="Wrong copy.",
        )
        await service.withdraw_document(
            session=session, actor=OFFICER, slug="dpa-talkdesk", on=None, reason="Superseded."
        )
    async with seeded() as session:
        logged = (
            await session.scalars(
                select(Change)
                .where(Change.subject_type == "document", Change.subject_slug == "dpa-talkdesk")
                .order_by(Change.id)
            )
        ).all()
        listed = await service.list_documents(
            session=session,
            actor=OFFICER,
            flt=service.DocumentFilter(entity_slug="talkdesk"),
            after_id=0,
            limit=10,
        )
    assert [c.event for c in logged] == [
        ChangeEvent.DOCUMENT_ADDED,
        ChangeEvent.DOCUMENT_UPDATED,
        ChangeEvent.DOCUMENT_ATTACHED,
        ChangeEvent.DOCUMENT_DETACHED,
        ChangeEvent.DOCUMENT_WITHDRAWN,
    ]
    attached, detached, withdrawn = logged[2], logged[3], logged[4]
    assert attached.after is not None and attached.after["transfers"] == [TO_TALKDESK]
    assert detached.after is not None and detached.after["transfers"] == []
    assert detached.reason == "Wrong copy."
    assert withdrawn.after is not None
    assert withdrawn.after["withdrawn_on"] == clock.today().isoformat()
    assert withdrawn.after["parties"] == [
        {"entity": AUSTRIA, "role": "exporter"},
        {"entity": "talkdesk", "role": "importer"},
    ]
    assert "dpa-talkdesk" in {d.slug for d in listed}


# The walk of the policy table (tests/access) sends addDocument as every role; here the
# service itself refuses, whatever the door.
@pytest.mark.parametrize("role", [Role.QA_SPECIALIST, Role.INTEGRATION, Role.ADMIN])
async def test_only_the_privacy_officer_records_documents(seeded: Sessions, role: Role) -> None:
    someone = Actor(handle="someone", roles=frozenset({role}))
    with pytest.raises(Forbidden):
        async with transaction(seeded) as session:
            await service.add_document(session=session, actor=someone, draft=draft())
    officer = Actor(handle="officer", roles=frozenset({Role.PRIVACY_OFFICER}))
    async with transaction(seeded) as session:
        assert await service.add_document(session=session, actor=officer, draft=draft())


async def test_r_inv_5_the_seeds_hold_the_notices_sccs_and_invent_nothing(
    seeded: Sessions,
) -> None:
    """R-INV-5: the SCCs the notice names are on record with no signing date or place (it
    gives none), and cover every seeded transfer under the SCCs, each of its module."""
    async with seeded() as session:
        found = {
            d.slug: d
            for d in await service.list_documents(
                session=session, actor=OFFICER, flt=service.DocumentFilter(), after_id=0, limit=10
            )
        }
        seeded_transfers = await transfers.list_transfers(
            session=session,
            actor=OFFICER,
            flt=transfers.TransferFilter(mechanism=Mechanism.SCC_2021_914),
            after_id=0,
            limit=500,
        )
        covered: dict[str, list[int | None]] = {}
        for transfer in seeded_transfers:
            covering = await service.list_documents(
                session=session,
                actor=OFFICER,
                flt=service.DocumentFilter(transfer_slug=transfer.slug),
                after_id=0,
                limit=10,
            )
            covered[transfer.slug] = [d.scc_module for d in covering]
    assert set(found) == {TALKDESK_SCC, GROUP_SCC}
    assert {(d.signed_on, d.location) for d in found.values()} == {(None, None)}
    assert {(d.slug, d.scc_module) for d in found.values()} == {(TALKDESK_SCC, 2), (GROUP_SCC, 1)}
    assert covered == {t.slug: [t.scc_module] for t in seeded_transfers}
