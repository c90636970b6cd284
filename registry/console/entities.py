"""The entities: the list with its filters, an entity's page, and its edit form.

Every read asks the inventory's, transfers' and history's services with the signed-in
actor, as GraphQL does, so the same authorisation applies; the edit goes through
``update_entity``, whose refusals are shown at the field they name and change nothing.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from registry.access.policy import Action
from registry.console import fragments
from registry.console.pages import PREFIX
from registry.console.visits import Visit, page
from registry.errors import DomainError, RuleBroken
from registry.record import answers
from registry.record.history import service as history
from registry.record.inventory import service as inventory
from registry.record.inventory.models import EntityKind
from registry.record.past.as_of import parse_day, session_as_of
from registry.record.transfers import service as transfers

# The most entities one list shows: the group and its processors are a few dozen.
LIST_LIMIT = 500
HISTORY_LIMIT = 200
# The fields the edit form offers, in its order (text fields, then the flags), and labels.
TEXT_FIELDS = (
    "legal_name",
    "known_as",
    "registered_office",
    "country_code",
    "contact",
    "dpo",
    "representative",
    "verification_note",
)
FLAGS = ("verified", "dpf_certified")
LABELS = {
    "legal_name": "Legal name",
    "known_as": "Known as",
    "registered_office": "Registered office",
    "country_code": "Country code",
    "contact": "Contact",
    "dpo": "Data protection officer",
    "representative": "Representative (Art. 27)",
    "verification_note": "Verification note",
    "verified": "Name verified",
    "dpf_certified": "Certified under the EU-US Data Privacy Framework",
}


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
        }
    # The history is the log as it is now, shown only to who may read it.
    if visit.actor.may(Action.HISTORY_READ):
        context["changes"] = await history.list_changes(
            session=visit.db,
            actor=visit.actor,
            limit=HISTORY_LIMIT,
            subject_type="entity",
            subject_slug=slug,
        )
    return visit.render("entity.html", **context)


@page
async def edit_form(visit: Visit) -> Response:
    visit.require(Action.INVENTORY_WRITE)
    entity = await inventory.entity_by_slug(visit.db, visit.request.path_params["slug"])
    values = {name: getattr(entity, name) for name in (*TEXT_FIELDS, *FLAGS)}
    return _form(visit, entity.slug, values, errors={}, status=200)


@page
async def edit(visit: Visit) -> Response:
    visit.require(Action.INVENTORY_WRITE)
    slug = visit.request.path_params["slug"]
    form = visit.form
    assert form is not None  # a POST's, read by ``page``
    entity = await inventory.entity_by_slug(visit.db, slug)
    given: dict[str, Any] = {name: _text(form.get(name)) for name in TEXT_FIELDS}
    given.update({name: form.get(name) == "on" for name in FLAGS})
    # Only what differs is sent, as a GraphQL client would, so the history shows the change.
    changes = {name: value for name, value in given.items() if getattr(entity, name) != value}
    reason = _text(form.get("reason"))
    try:
        async with visit.db.begin_nested():
            await inventory.update_entity(
                session=visit.db, actor=visit.actor, slug=slug, changes=changes, reason=reason
            )
    except DomainError as error:
        field = error.field if error.field in given or error.field == "reason" else "form"
        rule = error.rule_id if isinstance(error, RuleBroken) else None
        errors = {field: {"rule": rule, "code": error.code, "message": error.message}}
        return _form(visit, slug, {**given, "reason": reason}, errors=errors, status=422)
    return RedirectResponse(f"{PREFIX}/entities/{slug}", status_code=303)


def _text(value: object) -> str | None:
    # An empty input is a field left empty: the service's ``None``.
    return value.strip() or None if isinstance(value, str) else None


def _form(
    visit: Visit, slug: str, values: dict[str, Any], *, errors: dict[str, Any], status: int
) -> Response:
    return visit.render(
        "entity_edit.html",
        slug=slug,
        values=values,
        errors=errors,
        text_fields=TEXT_FIELDS,
        flags=FLAGS,
        labels=LABELS,
        status=status,
    )


def routes() -> list[Route]:
    return [
        Route("/entities", entity_list, methods=["GET"]),
        Route("/entities/{slug}", entity_page, methods=["GET"]),
        Route("/entities/{slug}/edit", edit_form, methods=["GET"]),
        Route("/entities/{slug}/edit", edit, methods=["POST"]),
    ]
