"""The documents the record refers to: their list, a document's page with its parties, the
transfers it covers and its history, and the forms that add and correct one.

The forms call what GraphQL's ``addDocument`` and ``updateDocument`` call, with the
signed-in actor: a document is checked again against each transfer it covers (R-INV-3) and
its refusals are shown at the field they name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.responses import Response
from starlette.routing import Route

from registry._edits import drafted
from registry.access.policy import Action
from registry.console.forms import REASON, Field, Form, Kind, Shown, changed, render, submitted
from registry.console.histories import history_of
from registry.console.visits import Visit, page
from registry.errors import InvalidInput
from registry.record.documents import service as documents
from registry.record.documents.models import (
    Document,
    DocumentKind,
    DocumentParty,
    DocumentRole,
    DocumentTransfer,
)
from registry.record.inventory.models import Entity
from registry.record.transfers.models import Transfer

LIST_LIMIT = 500
SCC_MODULES = (("", "none"), *((str(n), f"Module {n}") for n in range(1, 5)))
ROLES = ", ".join(role.value for role in DocumentRole)
TERMS = (
    Field("title", "Title"),
    Field("location", "Where it is kept"),
    Field("signed_on", "Signed on", Kind.DATE),
    Field("effective_from", "Effective from", Kind.DATE),
    Field("expires_on", "Expires on (the first day it no longer holds)", Kind.DATE),
    Field("scc_module", "SCC module", Kind.SELECT, SCC_MODULES, convert=int),
    Field("note", "Note", Kind.TEXTAREA),
    Field(
        "parties",
        "Parties",
        Kind.LINES,
        hint=f"One a line: the entity's slug and its role ({ROLES}).",
    ),
)
DOCUMENT_FORM = Form(TERMS, mutation="updateDocument")


def parties_of(lines: Sequence[str]) -> tuple[dict[str, str], ...]:
    """The parties' lines as the service takes them; a line that is not ``slug role`` is
    refused at the field."""
    parties = []
    for line in lines:
        words = line.split()
        if len(words) != 2 or words[1] not in set(DocumentRole):
            raise InvalidInput(
                f"{line!r} is not an entity's slug and its role ({ROLES})", field="parties"
            )
        parties.append({"entity_slug": words[0], "role": words[1]})
    return tuple(parties)


async def _lines(session: AsyncSession, document: Document) -> list[str]:
    rows = await session.execute(
        select(col(Entity.slug), col(DocumentParty.role))
        .join(DocumentParty, col(DocumentParty.entity_id) == col(Entity.id))
        .where(col(DocumentParty.document_id) == document.id)
        .order_by(col(Entity.slug), col(DocumentParty.role))
    )
    return [f"{slug} {role.value}" for slug, role in rows.all()]


async def covered(session: AsyncSession, document: Document) -> list[str]:
    rows = await session.scalars(
        select(col(Transfer.slug))
        .join(DocumentTransfer, col(DocumentTransfer.transfer_id) == col(Transfer.id))
        .where(col(DocumentTransfer.document_id) == document.id)
        .order_by(col(Transfer.slug))
    )
    return list(rows.all())


async def transfer_slugs(session: AsyncSession) -> list[str]:
    return list(
        (await session.scalars(select(col(Transfer.slug)).order_by(col(Transfer.slug)))).all()
    )


async def _current(session: AsyncSession, document: Document) -> dict[str, Any]:
    values = {name: getattr(document, name) for name in DOCUMENT_FORM.names - {"parties"}}
    return {**values, "parties": await _lines(session, document)}


@page
async def document_list(visit: Visit) -> Response:
    found = await documents.list_documents(
        session=visit.db,
        actor=visit.actor,
        flt=documents.DocumentFilter(),
        after_id=0,
        limit=LIST_LIMIT,
    )
    return visit.render(
        "documents.html", documents=found, may_edit=visit.actor.may(Action.TRANSFERS_WRITE)
    )


@page
async def document_page(visit: Visit) -> Response:
    visit.require(Action.TRANSFERS_READ)
    document = await documents.document_by_slug(visit.db, visit.request.path_params["slug"])
    return visit.render(
        "document.html",
        document=document,
        parties=await _lines(visit.db, document),
        transfers=await covered(visit.db, document),
        may_edit=visit.actor.may(Action.TRANSFERS_WRITE),
        **await history_of(visit, "document", document.slug),
    )


def _shown(slug: str) -> Shown:
    return Shown(f"Edit document {slug}", f"/documents/{slug}/edit", f"/documents/{slug}")


@page
async def edit_form(visit: Visit) -> Response:
    visit.require(Action.TRANSFERS_WRITE)
    document = await documents.document_by_slug(visit.db, visit.request.path_params["slug"])
    values = await _current(visit.db, document)
    return render(visit, DOCUMENT_FORM, _shown(document.slug), values)


@page
async def edit(visit: Visit) -> Response:
    visit.require(Action.TRANSFERS_WRITE)
    document = await documents.document_by_slug(visit.db, visit.request.path_params["slug"])
    slug, current = document.slug, await _current(visit.db, document)

    def changes(given: dict[str, Any]) -> dict[str, Any]:
        differ = changed(given, current)
        if "parties" in differ:
            differ["parties"] = parties_of(differ["parties"])
        return differ

    return await submitted(
        visit,
        DOCUMENT_FORM,
        _shown(slug),
        lambda given: documents.update_document(
            session=visit.db,
            actor=visit.actor,
            slug=slug,
            changes=changes(given),
            reason=given[REASON],
        ),
        lambda _: f"/documents/{slug}",
    )


async def _new_form(session: AsyncSession) -> Form:
    kinds = [(kind.value, kind.value.replace("_", " ")) for kind in DocumentKind]
    transfers = [(slug, slug) for slug in await transfer_slugs(session)]
    return Form(
        (
            Field("slug", "Slug", hint="Lower-case words joined by hyphens."),
            Field("kind", "Kind", Kind.SELECT, kinds),
            *TERMS,
            Field("transfers", "Transfers it covers", Kind.MULTI, transfers, key="transfer_slugs"),
        ),
        mutation="addDocument",
        asks_reason=False,
    )


NEW = Shown("Add a document", "/documents/new", "/documents", submit="Add")


@page
async def new_form(visit: Visit) -> Response:
    visit.require(Action.TRANSFERS_WRITE)
    return render(visit, await _new_form(visit.db), NEW, {})


@page
async def add(visit: Visit) -> Response:
    visit.require(Action.TRANSFERS_WRITE)
    form = await _new_form(visit.db)

    def draft(given: dict[str, Any]) -> documents.DocumentDraft:
        fields = form.for_service(given)
        fields["parties"] = parties_of(fields["parties"])
        return drafted(documents.DocumentDraft, fields)

    return await submitted(
        visit,
        form,
        NEW,
        lambda given: documents.add_document(
            session=visit.db, actor=visit.actor, draft=draft(given)
        ),
        lambda made: f"/documents/{made.slug}",
    )


def routes() -> list[Route]:
    # ``/documents/new`` before ``/documents/{slug}``, which would take it for a slug.
    return [
        Route("/documents", document_list, methods=["GET"]),
        Route("/documents/new", new_form, methods=["GET"]),
        Route("/documents/new", add, methods=["POST"]),
        Route("/documents/{slug}", document_page, methods=["GET"]),
        Route("/documents/{slug}/edit", edit_form, methods=["GET"]),
        Route("/documents/{slug}/edit", edit, methods=["POST"]),
    ]
