"""The supervisory authorities (Art. 51): their list, an authority's page with its history,
and the forms that add and correct one.

The forms call what GraphQL's ``addSupervisoryAuthority`` and ``updateSupervisoryAuthority``
call, with the signed-in actor.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from registry._edits import drafted
from registry.access.policy import Action
from registry.console.forms import REASON, Field, Form, Kind, Shown, changed, render, submitted
from registry.console.histories import history_of
from registry.console.visits import Visit, page
from registry.record.supervision import service as supervision
from registry.record.supervision.models import SupervisoryAuthority, SupervisoryAuthorityDraft

FACTS = (
    Field("name", "Name"),
    Field("country_code", "Country (ISO code)"),
    Field("address", "Address", Kind.TEXTAREA),
    Field("website", "Website"),
    Field("contact", "Contact", Kind.TEXTAREA),
    Field("verified", "Checked against the authority's own publication", Kind.CHECKBOX),
    Field("note", "Note", Kind.TEXTAREA),
)
AUTHORITY_FORM = Form(FACTS, mutation="updateSupervisoryAuthority")
NEW_FORM = Form(
    (Field("slug", "Slug", hint="Lower-case words joined by hyphens, e.g. de-bfdi."), *FACTS),
    mutation="addSupervisoryAuthority",
    asks_reason=False,
)
NEW = Shown("Add a supervisory authority", "/authorities/new", "/authorities", submit="Add")


@page
async def authority_list(visit: Visit) -> Response:
    found = await supervision.list_authorities(session=visit.db, actor=visit.actor)
    return visit.render(
        "authorities.html",
        authorities=found,
        may_edit=visit.actor.may(Action.INVENTORY_WRITE),
    )


@page
async def authority_page(visit: Visit) -> Response:
    visit.require(Action.INVENTORY_READ)
    authority = await supervision.authority_by_slug(visit.db, visit.request.path_params["slug"])
    return visit.render(
        "authority.html",
        authority=authority,
        may_edit=visit.actor.may(Action.INVENTORY_WRITE),
        **await history_of(visit, "supervisory_authority", authority.slug),
    )


def _shown(slug: str) -> Shown:
    return Shown(f"Edit {slug}", f"/authorities/{slug}/edit", f"/authorities/{slug}")


def _current(authority: SupervisoryAuthority) -> dict[str, Any]:
    return {name: getattr(authority, name) for name in AUTHORITY_FORM.names}


@page
async def edit_form(visit: Visit) -> Response:
    visit.require(Action.INVENTORY_WRITE)
    authority = await supervision.authority_by_slug(visit.db, visit.request.path_params["slug"])
    return render(visit, AUTHORITY_FORM, _shown(authority.slug), _current(authority))


@page
async def edit(visit: Visit) -> Response:
    visit.require(Action.INVENTORY_WRITE)
    authority = await supervision.authority_by_slug(visit.db, visit.request.path_params["slug"])
    slug, current = authority.slug, _current(authority)
    return await submitted(
        visit,
        AUTHORITY_FORM,
        _shown(slug),
        lambda given: supervision.update_authority(
            session=visit.db,
            actor=visit.actor,
            slug=slug,
            changes=changed(given, current),
            reason=given[REASON],
        ),
        lambda _: f"/authorities/{slug}",
    )


@page
async def new_form(visit: Visit) -> Response:
    visit.require(Action.INVENTORY_WRITE)
    return render(visit, NEW_FORM, NEW, {})


@page
async def add(visit: Visit) -> Response:
    visit.require(Action.INVENTORY_WRITE)
    return await submitted(
        visit,
        NEW_FORM,
        NEW,
        lambda given: supervision.add_authority(
            session=visit.db,
            actor=visit.actor,
            draft=drafted(SupervisoryAuthorityDraft, given),
        ),
        lambda added: f"/authorities/{added.slug}",
    )


def routes() -> list[Route]:
    # ``/authorities/new`` before ``/authorities/{slug}``, which would take it for a slug.
    return [
        Route("/authorities", authority_list, methods=["GET"]),
        Route("/authorities/new", new_form, methods=["GET"]),
        Route("/authorities/new", add, methods=["POST"]),
        Route("/authorities/{slug}", authority_page, methods=["GET"]),
        Route("/authorities/{slug}/edit", edit_form, methods=["GET"]),
        Route("/authorities/{slug}/edit", edit, methods=["POST"]),
    ]
