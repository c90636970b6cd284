"""An activity's parties: who takes part in it as joint controller or processor, and the
form that adds one through ``add_party``, as GraphQL's ``addActivityParty`` does.

The service decides who fits which role (a group company is a joint controller, a processor
or sub-processor a processor) and refuses an entity that is a party already; its refusals
are shown on the form and nothing is saved.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.responses import Response
from starlette.routing import Route

from registry.access.policy import Action
from registry.console.forms import Field, Form, Kind, Shown, render, submitted
from registry.console.visits import Visit, page
from registry.record.activities import service as activities
from registry.record.inventory import service as inventory
from registry.record.inventory.models import Activity, ActivityParty, Entity, PartyRole


async def parties_of(session: AsyncSession, activity: Activity) -> list[tuple[Entity, PartyRole]]:
    """The activity's parties with their role, by name."""
    query = (
        select(Entity, col(ActivityParty.role))
        .join(ActivityParty, col(ActivityParty.entity_id) == col(Entity.id))
        .where(col(ActivityParty.activity_id) == activity.id)
        .order_by(col(Entity.legal_name))
    )
    return [(entity, role) for entity, role in (await session.execute(query)).all()]


async def _form(session: AsyncSession) -> Form:
    # Every active entity is offered: the service says which role each may take.
    query = select(Entity).where(col(Entity.retired_on).is_(None)).order_by(col(Entity.slug))
    entities = (await session.scalars(query)).all()
    return Form(
        (
            Field(
                "entity",
                "Entity",
                Kind.SELECT,
                [("", "choose one"), *((e.slug, f"{e.legal_name} ({e.slug})") for e in entities)],
            ),
            Field(
                "role",
                "Its role in the activity",
                Kind.SELECT,
                [(role.value, role.value.replace("_", " ")) for role in PartyRole],
                convert=PartyRole,
            ),
        ),
        mutation="addActivityParty",
        # The service keeps no reason for a new party.
        asks_reason=False,
    )


def _shown(activity: Activity) -> Shown:
    slug = activity.slug
    return Shown(
        f"Add a party to {activity.name}",
        f"/activities/{slug}/parties/new",
        f"/activities/{slug}",
        submit="Add",
    )


@page
async def new_form(visit: Visit) -> Response:
    visit.require(Action.INVENTORY_WRITE)
    activity = await activities.activity_by_slug(visit.db, visit.request.path_params["slug"])
    return render(visit, await _form(visit.db), _shown(activity), {})


@page
async def add(visit: Visit) -> Response:
    visit.require(Action.INVENTORY_WRITE)
    activity = await activities.activity_by_slug(visit.db, visit.request.path_params["slug"])
    slug = activity.slug
    return await submitted(
        visit,
        await _form(visit.db),
        _shown(activity),
        lambda given: inventory.add_party(
            session=visit.db,
            actor=visit.actor,
            activity_slug=slug,
            entity_slug=given["entity"] or "",
            role=given["role"],
        ),
        lambda _: f"/activities/{slug}",
    )


def routes() -> list[Route]:
    return [
        Route("/activities/{slug}/parties/new", new_form, methods=["GET"]),
        Route("/activities/{slug}/parties/new", add, methods=["POST"]),
    ]
