"""Signed papers on record, for tests whose transfers under the SCCs must be safeguarded.

The seeds hold the SCCs the notice names, without a signing date (the notice gives none), so
every seeded transfer under them is a gap until a signed copy is recorded (R-INV-2). Tests
about something else record the signature here, through the service, as the privacy team
would.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry import clock
from registry.db import transaction
from registry.record.documents import service
from registry.record.documents.models import DocumentKind, DocumentRole
from tests.conftest import OFFICER

Sessions = async_sessionmaker[AsyncSession]
SEEDED_SCCS = ("scc-group-to-us-companies", "scc-group-to-talkdesk")


def signed_day() -> date:
    return clock.today() - timedelta(days=30)


async def sign_seeded_sccs(sessions: Sessions) -> None:
    """Records the seeded SCCs as signed a month ago, kept in the contract register."""
    async with transaction(sessions) as session:
        for slug in SEEDED_SCCS:
            await service.update_document(
                session=session,
                actor=OFFICER,
                slug=slug,
                changes={"signed_on": signed_day(), "location": f"contracts://{slug}"},
            )


async def sign_for(
    sessions: Sessions,
    *,
    exporter: str,
    importer: str,
    transfer: str,
    kind: DocumentKind = DocumentKind.SCC_2021_914,
    module: int | None = None,
    slug: str | None = None,
) -> None:
    """A signed paper of ``kind`` between the two parties, covering ``transfer``."""
    async with transaction(sessions) as session:
        await service.add_document(
            session=session,
            actor=OFFICER,
            draft=service.DocumentDraft(
                slug=slug or f"{kind.value.replace('_', '-')}-{transfer.replace('--', '-to-')}",
                kind=kind,
                title=f"{kind.value} {exporter} to {importer}",
                location="contracts://signed",
                signed_on=signed_day(),
                scc_module=module,
                parties=(
                    service.PartyDraft(entity_slug=exporter, role=DocumentRole.EXPORTER),
                    service.PartyDraft(entity_slug=importer, role=DocumentRole.IMPORTER),
                ),
                transfer_slugs=(transfer,),
            ),
        )
