"""The export's contracts and transfer papers, from the documents on record (R-INV-2)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry.access.service import Actor
from registry.db import transaction
from registry.exports import ropa
from registry.exports.ropa import RopaExport, TransferRow
from registry.record.documents import service
from registry.record.documents.models import DocumentKind, DocumentRole
from tests.conftest import OFFICER
from tests.documents.papers import sign_for, signed_day

Sessions = async_sessionmaker[AsyncSession]
AUSTRIA = "mood-media-austria"
TRANSFER = "mood-media-austria--talkdesk"


async def export(sessions: Sessions) -> RopaExport:
    async with transaction(sessions) as session:
        return await ropa.build(
            session=session, actor=Actor.system("test"), contact="privacy@example.test"
        )


def row_to_talkdesk(found: RopaExport) -> TransferRow:
    (row,) = [
        r
        for r in found.transfers
        if (r.exporter, r.importer) == ("Mood Media GmbH", "Talkdesk Inc.")
        and r.exporter_country == "AT"
    ]
    return row


async def test_r_inv_2_the_export_shows_the_missing_signed_scc_as_a_gap(seeded: Sessions) -> None:
    """R-INV-2: the seeded transfer to Talkdesk is exported as a gap naming the missing
    signed SCC, with no signing date made up."""
    row = row_to_talkdesk(await export(seeded))
    assert row.gap_rule == "R-INV-2"
    assert row.gap_reason.startswith("no signed SCC on record")
    assert row.signed_on == ""


async def test_signature_tia_and_contracts_come_from_the_documents(seeded: Sessions) -> None:
    """Signed on and the TIA are read from the transfer's documents; the controller's row
    lists its contracts by title and place."""
    await sign_for(seeded, exporter=AUSTRIA, importer="talkdesk", transfer=TRANSFER, module=2)
    async with transaction(seeded) as session:
        await service.add_document(
            session=session,
            actor=OFFICER,
            draft=service.DocumentDraft(
                slug="tia-talkdesk",
                kind=DocumentKind.TIA,
                title="TIA Talkdesk US",
                location="dms://tia/17",
                signed_on=signed_day(),
                parties=(
                    service.PartyDraft(entity_slug=AUSTRIA, role=DocumentRole.EXPORTER),
                    service.PartyDraft(entity_slug="talkdesk", role=DocumentRole.IMPORTER),
                ),
                transfer_slugs=(TRANSFER,),
            ),
        )
    found = await export(seeded)
    row = row_to_talkdesk(found)
    day = signed_day().isoformat()
    assert (row.gap_rule, row.signed_on, row.tia_date) == ("", day, day)
    assert row.tia_reference == f"TIA Talkdesk US (dms://tia/17; signed on {day})"
    (austria,) = [r for r in found.controllers if r.controller == AUSTRIA]
    assert f"(contracts://signed; signed on {day})" in austria.contracts
    # A TIA is not a contract: it is on the transfer's row, not the controller's.
    assert "TIA Talkdesk US" not in austria.contracts
