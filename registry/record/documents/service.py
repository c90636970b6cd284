"""Rules of the documents the record refers to: contracts, DPAs, signed SCCs, TIAs.

A document is a reference (where it is kept, when signed, between whom), checked on the way
in: its dates in order, an SCC's module 1 to 4, and, for each transfer it covers, the
transfer's exporter and importer among its parties and, for the SCCs, the transfer's module
(R-INV-3). Withdrawing keeps it and its history (R-INV-4). Whether a transfer's signed
papers are on record and in force on a day is the flow graph's question
(``safeguards.check_papers``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel
from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from registry import clock
from registry._columns import text_lengths
from registry._edits import drafted, refuse_unknown_fields
from registry._text import optional_text, stated
from registry.access.policy import Action
from registry.access.service import Actor, authorize
from registry.errors import Conflict, InvalidInput, NotFound
from registry.record.documents._checks import (
    PAPER_MECHANISMS as PAPER_MECHANISMS,  # the seeds match papers to transfers by it
)
from registry.record.documents._checks import (
    Party,
    check_cover,
    check_current,
    check_terms,
)
from registry.record.documents.models import (
    Document,
    DocumentKind,
    DocumentParty,
    DocumentRole,
    DocumentTerms,
    DocumentTransfer,
)
from registry.record.history import service as history
from registry.record.history.models import ChangeEvent
from registry.record.inventory.models import Entity
from registry.record.transfers.models import Transfer

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_PARTIES = 100
TEXT_LIMITS = text_lengths(Document)


class PartyDraft(BaseModel):
    entity_slug: str
    role: DocumentRole


class DocumentDraft(DocumentTerms):
    """A document as it is given: its reference and dates, its kind, and its parties by
    slug."""

    slug: str
    kind: DocumentKind
    parties: tuple[PartyDraft, ...] = ()
    # The transfers it covers from the start; later, attach and detach change them.
    transfer_slugs: tuple[str, ...] = ()


# Fixed once recorded: the slug names the document, the kind is what it is; the transfers it
# covers change one at a time, by attaching and detaching.
FIXED_FIELDS = frozenset({"slug", "kind", "transfer_slugs"})
MAX_TRANSFERS = 500
EDITABLE_FIELDS = frozenset(DocumentDraft.model_fields) - FIXED_FIELDS


@dataclass(frozen=True)
class DocumentFilter:
    kind: DocumentKind | None = None
    entity_slug: str | None = None
    transfer_slug: str | None = None
    include_withdrawn: bool = True


async def document_by_slug(session: AsyncSession, slug: str) -> Document:
    document = await session.scalar(select(Document).where(col(Document.slug) == slug))
    if document is None:
        raise NotFound(f"no document {slug!r}")
    return document


def _clean(draft: DocumentDraft) -> DocumentDraft:
    """The draft with its text trimmed and bounded, blank text as missing (R-INV-5)."""
    return draft.model_copy(
        update={
            "title": stated(draft.title, "title", limit=TEXT_LIMITS["title"], one_line=True),
            "location": optional_text(
                draft.location, "location", limit=TEXT_LIMITS["location"], one_line=True
            ),
            "note": optional_text(draft.note, "note"),
        }
    )


async def _parties(session: AsyncSession, draft: DocumentDraft) -> list[Party]:
    if len(draft.parties) > MAX_PARTIES:
        raise InvalidInput(f"at most {MAX_PARTIES} parties", field="parties")
    slugs = {party.entity_slug for party in draft.parties}
    entities = {
        e.slug: e
        for e in (await session.scalars(select(Entity).where(col(Entity.slug).in_(slugs)))).all()
    }
    if missing := slugs - set(entities):
        raise NotFound(f"no entity {', '.join(sorted(missing))}")
    unique = {(p.entity_slug, p.role): p for p in draft.parties}
    return [Party(entities[slug], role) for slug, role in sorted(unique)]


async def _covered(session: AsyncSession, document: Document) -> list[Transfer]:
    rows = await session.scalars(
        select(Transfer)
        .join(DocumentTransfer, col(DocumentTransfer.transfer_id) == col(Transfer.id))
        .where(col(DocumentTransfer.document_id) == document.id)
        .order_by(col(Transfer.slug))
    )
    return list(rows.all())


async def _parties_of(session: AsyncSession, document: Document) -> list[Party]:
    rows = await session.execute(
        select(Entity, col(DocumentParty.role))
        .join(DocumentParty, col(DocumentParty.entity_id) == col(Entity.id))
        .where(col(DocumentParty.document_id) == document.id)
        .order_by(col(Entity.slug), col(DocumentParty.role))
    )
    return [Party(entity, role) for entity, role in rows.all()]


async def _snapshot(session: AsyncSession, document: Document) -> dict[str, Any]:
    # The row, then its parties and transfers by name: each event logs the document whole.
    return {
        **history.snapshot(document),
        "parties": [
            {"entity": p.entity.slug, "role": p.role.value}
            for p in await _parties_of(session, document)
        ],
        "transfers": [t.slug for t in await _covered(session, document)],
    }


async def _replace_parties(session: AsyncSession, document: Document, parties: list[Party]) -> None:
    await session.execute(
        delete(DocumentParty).where(col(DocumentParty.document_id) == document.id)
    )
    session.add_all(
        DocumentParty(document_id=document.id, entity_id=p.entity.id, role=p.role) for p in parties
    )
    await session.flush()


async def add_document(*, session: AsyncSession, actor: Actor, draft: DocumentDraft) -> Document:
    authorize(actor, Action.TRANSFERS_WRITE)
    draft = _clean(draft)
    if not SLUG.match(draft.slug):
        raise InvalidInput("slug must be lower-case words joined by hyphens", field="slug")
    if await session.scalar(select(col(Document.id)).where(col(Document.slug) == draft.slug)):
        raise Conflict(f"a document {draft.slug!r} exists already", field="slug")
    check_terms(draft.kind, draft)
    parties = await _parties(session, draft)
    document = Document(
        slug=draft.slug,
        kind=draft.kind,
        **{name: getattr(draft, name) for name in DocumentTerms.model_fields},
    )
    covered = await _transfers(session, draft.transfer_slugs)
    if covered:
        check_current(document)
    for transfer in covered:
        check_cover(document, parties, transfer)
    session.add(document)
    await session.flush()
    await _replace_parties(session, document, parties)
    session.add_all(
        DocumentTransfer(document_id=document.id, transfer_id=transfer.id) for transfer in covered
    )
    await session.flush()
    await history.record_change(
        session=session,
        actor=actor,
        event=ChangeEvent.DOCUMENT_ADDED,
        subject_slug=document.slug,
        before=None,
        after=await _snapshot(session, document),
    )
    return document


async def update_document(
    *,
    session: AsyncSession,
    actor: Actor,
    slug: str,
    changes: Mapping[str, Any],
    reason: str | None = None,
) -> Document:
    """Applies changes, then checks the document again, against each transfer it covers."""
    authorize(actor, Action.TRANSFERS_WRITE)
    refuse_unknown_fields(changes, EDITABLE_FIELDS)
    why = history.stated_reason(reason)
    document = await document_by_slug(session, slug)
    before = await _snapshot(session, document)
    current = {
        **{name: getattr(document, name) for name in DocumentTerms.model_fields},
        "slug": document.slug,
        "kind": document.kind,
        "parties": [{"entity_slug": p["entity"], "role": p["role"]} for p in before["parties"]],
    }
    draft = _clean(drafted(DocumentDraft, {**current, **changes}))
    check_terms(draft.kind, draft)
    parties = await _parties(session, draft)
    terms = {name: getattr(draft, name) for name in DocumentTerms.model_fields}
    # Checked as it would be, before the row changes: a refusal leaves nothing half-written.
    proposed = Document(slug=document.slug, kind=document.kind, **terms)
    for transfer in await _covered(session, document):
        check_cover(proposed, parties, transfer)
    for name, value in terms.items():
        setattr(document, name, value)
    await session.flush()
    await _replace_parties(session, document, parties)
    await history.record_if_changed(
        session=session,
        actor=actor,
        event=ChangeEvent.DOCUMENT_UPDATED,
        subject_slug=slug,
        before=before,
        after=await _snapshot(session, document),
        reason=why,
    )
    return document


async def withdraw_document(
    *, session: AsyncSession, actor: Actor, slug: str, on: date | None, reason: str
) -> Document:
    """Marks the document withdrawn from ``on`` (today unless given): from that day it
    counts for no transfer, and it stays on record with its history (R-INV-4)."""
    authorize(actor, Action.TRANSFERS_WRITE)
    why = stated(reason, "reason", limit=history.REASON_LIMIT)
    document = await document_by_slug(session, slug)
    day = on or clock.today()
    if document.withdrawn_on is not None:
        raise InvalidInput(f"{slug} was withdrawn on {document.withdrawn_on}", field="slug")
    if day > clock.today():
        raise InvalidInput("a withdrawal is recorded once it happened", field="on")
    if document.signed_on is not None and day < document.signed_on:
        raise InvalidInput("a document is withdrawn after it was signed", field="on")
    before = await _snapshot(session, document)
    document.withdrawn_on = day
    await session.flush()
    await history.record_change(
        session=session,
        actor=actor,
        event=ChangeEvent.DOCUMENT_WITHDRAWN,
        subject_slug=slug,
        before=before,
        after=await _snapshot(session, document),
        reason=why,
    )
    return document


async def _link(session: AsyncSession, document: Document, transfer: Transfer) -> int | None:
    return await session.scalar(
        select(col(DocumentTransfer.id)).where(
            col(DocumentTransfer.document_id) == document.id,
            col(DocumentTransfer.transfer_id) == transfer.id,
        )
    )


async def _transfer(session: AsyncSession, slug: str) -> Transfer:
    transfer = await session.scalar(select(Transfer).where(col(Transfer.slug) == slug))
    if transfer is None:
        raise NotFound(f"no transfer {slug!r}")
    return transfer


async def _transfers(session: AsyncSession, slugs: Sequence[str]) -> list[Transfer]:
    if len(slugs) > MAX_TRANSFERS:
        raise InvalidInput(f"at most {MAX_TRANSFERS} transfers", field="transfers")
    found = {
        t.slug: t
        for t in (await session.scalars(select(Transfer).where(col(Transfer.slug).in_(slugs))))
    }
    if missing := set(slugs) - set(found):
        raise NotFound(f"no transfer {', '.join(sorted(missing))}")
    return [found[slug] for slug in sorted(set(slugs))]


async def attach_document(
    *, session: AsyncSession, actor: Actor, slug: str, transfer_slug: str
) -> Document:
    """Records that the document covers the transfer; a document withdrawn or expired
    covers nothing new."""
    authorize(actor, Action.TRANSFERS_WRITE)
    document = await document_by_slug(session, slug)
    transfer = await _transfer(session, transfer_slug)
    check_current(document)
    if await _link(session, document, transfer) is not None:
        raise Conflict(f"{slug} covers {transfer_slug} already", field="transfer")
    check_cover(document, await _parties_of(session, document), transfer)
    before = await _snapshot(session, document)
    session.add(DocumentTransfer(document_id=document.id, transfer_id=transfer.id))
    await session.flush()
    await history.record_change(
        session=session,
        actor=actor,
        event=ChangeEvent.DOCUMENT_ATTACHED,
        subject_slug=slug,
        before=before,
        after=await _snapshot(session, document),
    )
    return document


async def detach_document(
    *,
    session: AsyncSession,
    actor: Actor,
    slug: str,
    transfer_slug: str,
    reason: str | None = None,
) -> Document:
    authorize(actor, Action.TRANSFERS_WRITE)
    why = history.stated_reason(reason)
    document = await document_by_slug(session, slug)
    transfer = await _transfer(session, transfer_slug)
    link = await _link(session, document, transfer)
    if link is None:
        raise NotFound(f"{slug} does not cover {transfer_slug}")
    before = await _snapshot(session, document)
    await session.execute(delete(DocumentTransfer).where(col(DocumentTransfer.id) == link))
    await history.record_change(
        session=session,
        actor=actor,
        event=ChangeEvent.DOCUMENT_DETACHED,
        subject_slug=slug,
        before=before,
        after=await _snapshot(session, document),
        reason=why,
    )
    return document


# The kinds that bind parties to each other: contracts, DPAs and signed transfer papers.
CONTRACT_KINDS = frozenset(
    {
        DocumentKind.DPA,
        DocumentKind.CONTRACT,
        DocumentKind.SCC_2021_914,
        DocumentKind.UK_IDTA,
        DocumentKind.UK_ADDENDUM,
    }
)


async def contracts_of(
    session: AsyncSession, entity_ids: Sequence[int], *, on: date
) -> dict[int, list[Document]]:
    """The contracts each entity is a party to and that were not withdrawn by ``on``, by
    title: the export's references to them."""
    rows = await session.execute(
        select(col(DocumentParty.entity_id), Document)
        .join(Document, col(Document.id) == col(DocumentParty.document_id))
        .where(
            col(DocumentParty.entity_id).in_(entity_ids),
            col(Document.kind).in_(CONTRACT_KINDS),
            or_(col(Document.withdrawn_on).is_(None), col(Document.withdrawn_on) > on),
        )
        .distinct()
        .order_by(col(Document.title), col(Document.id))
    )
    found: dict[int, list[Document]] = {}
    for entity_id, document in rows:
        found.setdefault(entity_id, []).append(document)
    return found


async def list_documents(
    *, session: AsyncSession, actor: Actor, flt: DocumentFilter, after_id: int, limit: int
) -> Sequence[Document]:
    authorize(actor, Action.TRANSFERS_READ)
    query = (
        select(Document).where(col(Document.id) > after_id).order_by(col(Document.id)).limit(limit)
    )
    if flt.kind is not None:
        query = query.where(col(Document.kind) == flt.kind)
    if flt.entity_slug is not None:
        query = query.where(
            col(Document.id).in_(
                select(col(DocumentParty.document_id))
                .join(Entity, col(Entity.id) == col(DocumentParty.entity_id))
                .where(col(Entity.slug) == flt.entity_slug)
            )
        )
    if flt.transfer_slug is not None:
        query = query.where(
            col(Document.id).in_(
                select(col(DocumentTransfer.document_id))
                .join(Transfer, col(Transfer.id) == col(DocumentTransfer.transfer_id))
                .where(col(Transfer.slug) == flt.transfer_slug)
            )
        )
    if not flt.include_withdrawn:
        query = query.where(col(Document.withdrawn_on).is_(None))
    return (await session.scalars(query)).all()
