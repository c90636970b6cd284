"""What happens to a document after it is recorded: it is withdrawn, or attached to or
detached from a transfer it covers. Each has its form, calling what GraphQL's
``withdrawDocument``, ``attachDocumentToTransfer`` and
``detachDocumentFromTransfer`` call."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from registry.access.policy import Action
from registry.console.documents import covered, transfer_slugs
from registry.console.forms import REASON, Field, Form, Kind, Shown, render, submitted
from registry.console.visits import Visit, page
from registry.record.documents import service as documents
from registry.record.documents.models import Document

WITHDRAW_FORM = Form(
    (Field("on", "Withdrawn on", Kind.DATE, hint="Left empty: today."),),
    mutation="withdrawDocument",
)


def _transfer_form(slugs: list[str], *, mutation: str, asks_reason: bool) -> Form:
    choices = [(slug, slug) for slug in slugs]
    field = Field("transfer", "Transfer", Kind.SELECT, choices)
    return Form((field,), mutation=mutation, asks_reason=asks_reason)


async def _document(visit: Visit) -> Document:
    visit.require(Action.TRANSFERS_WRITE)
    return await documents.document_by_slug(visit.db, visit.request.path_params["slug"])


def _shown(document: Document, what: str, verb: str) -> Shown:
    slug = document.slug
    return Shown(f"{what} {slug}", f"/documents/{slug}/{verb}", f"/documents/{slug}", what)


@page
async def withdraw_form(visit: Visit) -> Response:
    document = await _document(visit)
    return render(visit, WITHDRAW_FORM, _shown(document, "Withdraw", "withdraw"), {})


@page
async def withdraw(visit: Visit) -> Response:
    document = await _document(visit)
    slug = document.slug
    return await submitted(
        visit,
        WITHDRAW_FORM,
        _shown(document, "Withdraw", "withdraw"),
        lambda given: documents.withdraw_document(
            session=visit.db, actor=visit.actor, slug=slug, on=given["on"], reason=given[REASON]
        ),
        lambda _: f"/documents/{slug}",
    )


# Attaching records what the document covers; the log needs no reason for it, as in GraphQL.
async def _attach_form(visit: Visit) -> Form:
    return _transfer_form(
        await transfer_slugs(visit.db), mutation="attachDocumentToTransfer", asks_reason=False
    )


@page
async def attach_form(visit: Visit) -> Response:
    document = await _document(visit)
    form = await _attach_form(visit)
    return render(visit, form, _shown(document, "Attach", "attach"), {})


@page
async def attach(visit: Visit) -> Response:
    document = await _document(visit)
    slug = document.slug
    return await submitted(
        visit,
        await _attach_form(visit),
        _shown(document, "Attach", "attach"),
        lambda given: documents.attach_document(
            session=visit.db, actor=visit.actor, slug=slug, transfer_slug=given["transfer"]
        ),
        lambda _: f"/documents/{slug}",
    )


def _detach_form(slugs: list[str]) -> Form:
    return _transfer_form(slugs, mutation="detachDocumentFromTransfer", asks_reason=True)


@page
async def detach_form(visit: Visit) -> Response:
    document = await _document(visit)
    form = _detach_form(await covered(visit.db, document))
    return render(visit, form, _shown(document, "Detach", "detach"), {})


@page
async def detach(visit: Visit) -> Response:
    document = await _document(visit)
    slug = document.slug
    return await submitted(
        visit,
        _detach_form(await covered(visit.db, document)),
        _shown(document, "Detach", "detach"),
        lambda given: documents.detach_document(
            session=visit.db,
            actor=visit.actor,
            slug=slug,
            transfer_slug=given["transfer"],
            reason=given[REASON],
        ),
        lambda _: f"/documents/{slug}",
    )


def routes() -> list[Route]:
    return [
        Route("/documents/{slug}/withdraw", withdraw_form, methods=["GET"]),
        Route("/documents/{slug}/withdraw", withdraw, methods=["POST"]),
        Route("/documents/{slug}/attach", attach_form, methods=["GET"]),
        Route("/documents/{slug}/attach", attach, methods=["POST"]),
        Route("/documents/{slug}/detach", detach_form, methods=["GET"]),
        Route("/documents/{slug}/detach", detach, methods=["POST"]),
    ]
