"""The entities: the list with its filters, an entity's page, and the forms that record a
new one, edit it, retire it and link a processor's sub-processors.

Every read asks the inventory's, transfers' and history's services with the signed-in
actor, as GraphQL does, so the same authorisation applies; each form goes through the
service its GraphQL mutation calls (``create_entity``, ``update_entity``, ``retire_entity``,
``link_sub_processor``), whose refusals are shown at the field they name and change nothing.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.responses import Response
from starlette.routing import Route

from registry._edits import drafted
from registry.access.policy import Action
from registry.console import controllers, fragments
from registry.console.forms import REASON, Field, Form, Kind, Shown, changed, render, submitted
from registry.console.histories import history_of
from registry.console.visits import Visit, page
from registry.record import answers
from registry.record.inventory import service as inventory
from registry.record.inventory.models import Engagement, Entity, EntityDraft, EntityKind
from registry.record.past.as_of import parse_day, session_as_of
from registry.record.transfers import service as transfers

NONE = ("", "none")

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
# A new entity, as ``create_entity`` takes its draft: what names it and its role are fixed
# once recorded, so they are asked here and nowhere else.
NEW_ENTITY_FORM = Form(
    (
        Field(
            "slug", "Short name used in links (slug)", hint="Lower-case words joined by hyphens."
        ),
        Field(
            "kind",
            "Role",
            Kind.SELECT,
            # No role is chosen for the officer: one left unchosen is refused at the field.
            [("", "choose one"), *((k.value, k.value.replace("_", " ")) for k in EntityKind)],
        ),
        *ENTITY_FORM.fields[:3],
        Field("country_code", "Country code", hint="Two letters, e.g. DE."),
        *ENTITY_FORM.fields[4:],
        Field("active_from", "Taking part from", Kind.DATE),
    ),
    mutation="createEntity",
    asks_reason=False,
)
# Retiring keeps the row and its history (R-INV-4); the service wants the reason.
RETIRE_FORM = Form(
    (Field("retired_on", "Retired on", Kind.DATE, hint="Left empty: today."),),
    mutation="retireEntity",
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
            may_create=visit.actor.may(Action.INVENTORY_WRITE) and day is None,
        )


@page
async def entity_page(visit: Visit) -> Response:
    slug = visit.request.path_params["slug"]
    day = as_of(visit)
    may_write = visit.actor.may(Action.INVENTORY_WRITE) and day is None
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
            "may_edit": may_write and entity.retired_on is None,
            "may_link": may_write
            and entity.retired_on is None
            and entity.kind in inventory.PROCESSOR_KINDS,
            "engaged": await _engaged(past, entity),
            "retire_form": RETIRE_FORM,
            "retire_shown": _retire_shown(entity.slug),
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


# ------------------------------------------------------------------------ a new one

NEW = Shown("Record an entity", "/entities/new", "/entities", submit="Record")


@page
async def new_form(visit: Visit) -> Response:
    visit.require(Action.INVENTORY_WRITE)
    return render(visit, NEW_ENTITY_FORM, NEW, {})


@page
async def create(visit: Visit) -> Response:
    visit.require(Action.INVENTORY_WRITE)
    return await submitted(
        visit,
        NEW_ENTITY_FORM,
        NEW,
        lambda given: inventory.create_entity(
            session=visit.db, actor=visit.actor, draft=_draft(given)
        ),
        lambda made: f"/entities/{made.slug}",
    )


def _draft(given: dict[str, Any]) -> EntityDraft:
    # A field left empty is one the draft's default decides, as a GraphQL client leaving
    # it out would have it; a required one left empty is refused at its field by the draft.
    return drafted(EntityDraft, {name: value for name, value in given.items() if value is not None})


# ------------------------------------------------------------------------ retiring


def _retire_shown(slug: str) -> Shown:
    return Shown(f"Retire {slug}", f"/entities/{slug}/retire", f"/entities/{slug}", submit="Retire")


@page
async def retire_form(visit: Visit) -> Response:
    visit.require(Action.INVENTORY_WRITE)
    entity = await inventory.entity_by_slug(visit.db, visit.request.path_params["slug"])
    return render(visit, RETIRE_FORM, _retire_shown(entity.slug), {})


@page
async def retire(visit: Visit) -> Response:
    visit.require(Action.INVENTORY_WRITE)
    entity = await inventory.entity_by_slug(visit.db, visit.request.path_params["slug"])
    slug = entity.slug
    return await submitted(
        visit,
        RETIRE_FORM,
        _retire_shown(slug),
        lambda given: inventory.retire_entity(
            session=visit.db,
            actor=visit.actor,
            slug=slug,
            # The service refuses an empty reason at its field, as it does GraphQL's.
            reason=given[REASON] or "",
            retired_on=given["retired_on"],
        ),
        lambda _: f"/entities/{slug}",
    )


# ------------------------------------------------------------------------ sub-processors


async def _engaged(session: AsyncSession, processor: Entity) -> list[tuple[Entity, Engagement]]:
    """The sub-processors a processor engages now, with since when."""
    query = (
        select(Entity, Engagement)
        .join(Engagement, col(Engagement.sub_processor_id) == col(Entity.id))
        .where(
            col(Engagement.processor_id) == processor.id,
            col(Engagement.ended_on).is_(None),
        )
        .order_by(col(Entity.slug))
    )
    return [(entity, engagement) for entity, engagement in (await session.execute(query)).all()]


async def _link_form(session: AsyncSession, processor: Entity) -> Form:
    # Only an active sub-processor other than the processor may be engaged (Art. 28(2)).
    query = (
        select(Entity)
        .where(
            col(Entity.kind) == EntityKind.SUB_PROCESSOR,
            col(Entity.retired_on).is_(None),
            col(Entity.id) != processor.id,
        )
        .order_by(col(Entity.slug))
    )
    candidates = (await session.scalars(query)).all()
    return Form(
        (
            Field(
                "sub_processor",
                "Sub-processor",
                Kind.SELECT,
                [NONE, *((e.slug, f"{e.legal_name} ({e.slug})") for e in candidates)],
            ),
            Field("since", "Engaged since", Kind.DATE, hint="Left empty: today."),
        ),
        mutation="linkSubProcessor",
    )


def _link_shown(slug: str) -> Shown:
    return Shown(
        f"Engage a sub-processor of {slug}",
        f"/entities/{slug}/sub-processors/new",
        f"/entities/{slug}",
        submit="Engage",
    )


@page
async def link_form(visit: Visit) -> Response:
    visit.require(Action.INVENTORY_WRITE)
    processor = await inventory.entity_by_slug(visit.db, visit.request.path_params["slug"])
    form = await _link_form(visit.db, processor)
    return render(visit, form, _link_shown(processor.slug), {})


@page
async def link(visit: Visit) -> Response:
    visit.require(Action.INVENTORY_WRITE)
    processor = await inventory.entity_by_slug(visit.db, visit.request.path_params["slug"])
    slug = processor.slug
    form = await _link_form(visit.db, processor)
    return await submitted(
        visit,
        form,
        _link_shown(slug),
        lambda given: inventory.link_sub_processor(
            session=visit.db,
            actor=visit.actor,
            processor_slug=slug,
            sub_processor_slug=given["sub_processor"] or "",
            since=given["since"],
            reason=given[REASON],
        ),
        lambda _: f"/entities/{slug}",
    )


def routes() -> list[Route]:
    # ``/entities/new`` before ``/entities/{slug}``, which would take it for a slug.
    return [
        Route("/entities", entity_list, methods=["GET"]),
        Route("/entities/new", new_form, methods=["GET"]),
        Route("/entities/new", create, methods=["POST"]),
        Route("/entities/{slug}", entity_page, methods=["GET"]),
        Route("/entities/{slug}/edit", edit_form, methods=["GET"]),
        Route("/entities/{slug}/edit", edit, methods=["POST"]),
        Route("/entities/{slug}/retire", retire_form, methods=["GET"]),
        Route("/entities/{slug}/retire", retire, methods=["POST"]),
        Route("/entities/{slug}/sub-processors/new", link_form, methods=["GET"]),
        Route("/entities/{slug}/sub-processors/new", link, methods=["POST"]),
    ]
