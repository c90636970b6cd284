"""The entities: the list with its filters, an entity's page, and its edit form.

Every read asks the inventory's, transfers' and history's services with the signed-in
actor, as GraphQL does, so the same authorisation applies; the edit goes through
``update_entity``, whose refusals are shown at the field they name and change nothing.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from registry.access.policy import Action
from registry.console import controllers, fragments
from registry.console.forms import REASON, Field, Form, Kind, Shown, changed, render, submitted
from registry.console.histories import history_of
from registry.console.visits import Visit, page
from registry.record import answers
from registry.record.inventory import service as inventory
from registry.record.inventory.models import Entity, EntityKind
from registry.record.past.as_of import parse_day, session_as_of
from registry.record.transfers import service as transfers

# The most entities one list shows: the group and its processors are a few dozen.
LIST_LIMIT = 500
# What the privacy officer may change of an entity, as ``update_entity`` takes it.
ENTITY_FORM = Form(
    (
        Field("legal_name", "Legal name"),
        Field("known_as", "Known as"),
        Field("registered_office", "Registered office"),
        Field("country_code", "Country code"),
        Field("contact", "Contact"),
        Field("dpo", "Data protection officer"),
        Field("representative", "Representative (Art. 27)"),
        Field("verification_note", "Verification note"),
        Field("verified", "Name verified", Kind.CHECKBOX),
        Field("dpf_certified", "Certified under the EU-US Data Privacy Framework", Kind.CHECKBOX),
    ),
    mutation="updateEntity",
)


def as_of(visit: Visit) -> date | None:
    text = visit.request.query_params.get("asOf", "")
    return parse_day(text) if text else None


@page
async def entity_list(visit: Visit) -> Response:
    query = visit.request.query_params
    day = as_of(visit)
    kind = query.get("kind", "")
    country = query.get("country", "").strip().upper()
    flt = inventory.EntityFilter(
        kinds=frozenset({EntityKind(kind)}) if kind in set(EntityKind) else frozenset(),
        country_codes=frozenset({country}) if country else frozenset(),
        on=day,
    )
    async with session_as_of(
        session=visit.db, actor=visit.actor, day=day, reading=Action.INVENTORY_READ
    ) as past:
        found = await inventory.list_entities(
            session=past, actor=visit.actor, flt=flt, after_id=0, limit=LIST_LIMIT
        )
        gaps = {gap.entity.id: gap for gap in answers.entity_gaps(found)}
        search = query.get("q", "").strip().casefold()
        shown = [
            entity
            for entity in found
            if (not search or search in f"{entity.legal_name} {entity.known_as or ''}".casefold())
            and (query.get("gap") != "yes" or entity.id in gaps)
        ]
        return fragments.render(
            visit,
            "entities.html",
            "_entity_results.html",
            entities=shown,
            gaps=gaps,
            kinds=list(EntityKind),
            query=query,
            as_of=day,
        )


@page
async def entity_page(visit: Visit) -> Response:
    slug = visit.request.path_params["slug"]
    day = as_of(visit)
    async with session_as_of(
        session=visit.db, actor=visit.actor, day=day, reading=Action.INVENTORY_READ
    ) as past:
        entity = await inventory.entity_by_slug(past, slug)
        roles = [
            processing
            for processing in await answers.who_processes(session=past, actor=visit.actor, on=day)
            if processing.entity.id == entity.id
        ]
        outgoing = await transfers.list_transfers(
            session=past,
            actor=visit.actor,
            flt=transfers.TransferFilter(exporter_slug=slug),
            after_id=0,
            limit=LIST_LIMIT,
        )
        incoming = await transfers.list_transfers(
            session=past,
            actor=visit.actor,
            flt=transfers.TransferFilter(importer_slug=slug),
            after_id=0,
            limit=LIST_LIMIT,
        )
        gap = answers.entity_gaps([entity])
        context: dict[str, Any] = {
            "entity": entity,
            "roles": roles,
            "outgoing": outgoing,
            "incoming": incoming,
            "gap": gap[0] if gap else None,
            "as_of": day,
            "may_edit": visit.actor.may(Action.INVENTORY_WRITE) and day is None,
            "may_record": visit.actor.may(Action.TRANSFERS_WRITE) and day is None,
        }
    if day is None:
        # The authorities as they stand now: an as-of view of the record does not hold them.
        context["authorities"] = await controllers.entries(visit.db, entity)
    context.update(await history_of(visit, "entity", slug))
    return visit.render("entity.html", **context)


def _shown(slug: str, name: str) -> Shown:
    return Shown(title=f"Edit {name}", action=f"/entities/{slug}/edit", cancel=f"/entities/{slug}")


def _current(entity: Entity) -> dict[str, Any]:
    return {name: getattr(entity, name) for name in ENTITY_FORM.names}


@page
async def edit_form(visit: Visit) -> Response:
    visit.require(Action.INVENTORY_WRITE)
    entity = await inventory.entity_by_slug(visit.db, visit.request.path_params["slug"])
    return render(visit, ENTITY_FORM, _shown(entity.slug, entity.legal_name), _current(entity))


@page
async def edit(visit: Visit) -> Response:
    visit.require(Action.INVENTORY_WRITE)
    entity = await inventory.entity_by_slug(visit.db, visit.request.path_params["slug"])
    slug, current = entity.slug, _current(entity)
    return await submitted(
        visit,
        ENTITY_FORM,
        _shown(slug, entity.legal_name),
        lambda given: inventory.update_entity(
            session=visit.db,
            actor=visit.actor,
            slug=slug,
            changes=changed(given, current),
            reason=given[REASON],
        ),
        lambda _: f"/entities/{slug}",
    )


def routes() -> list[Route]:
    return [
        Route("/entities", entity_list, methods=["GET"]),
        Route("/entities/{slug}", entity_page, methods=["GET"]),
        Route("/entities/{slug}/edit", edit_form, methods=["GET"]),
        Route("/entities/{slug}/edit", edit, methods=["POST"]),
    ]
