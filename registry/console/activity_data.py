"""The data categories an activity processes: how long each is kept (R-INV-6), with the
history of that, and detaching one the activity no longer processes.

The forms call what GraphQL's ``updateRetention`` and ``detachDataCategory`` call, with
the signed-in actor.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.responses import Response
from starlette.routing import Route

from registry.access.policy import Action
from registry.console.forms import REASON, Field, Form, Kind, Shown, render, submitted
from registry.console.histories import history_of
from registry.console.visits import Visit, page
from registry.errors import NotFound
from registry.record.activities import service as activities
from registry.record.history.events import link_slug
from registry.record.inventory.models import Activity, ActivityDataCategory, DataCategory
from registry.record.taxonomy import service as taxonomy

RETENTION_FORM = Form(
    (
        Field("retention_criterion", "Retention period or criterion", Kind.TEXTAREA),
        Field("retention_days", "Days kept, if a number is set", Kind.NUMBER),
    ),
    mutation="updateRetention",
)
# Detaching asks only why.
DETACH_FORM = Form((), mutation="detachDataCategory")


async def kept(session: AsyncSession, activity: Activity) -> list[tuple[DataCategory, Any]]:
    """The activity's data categories, each with how it is kept, for the activity's page."""
    rows = await session.execute(
        select(DataCategory, ActivityDataCategory)
        .join(
            ActivityDataCategory, col(ActivityDataCategory.data_category_id) == col(DataCategory.id)
        )
        .where(col(ActivityDataCategory.activity_id) == activity.id)
        .order_by(col(DataCategory.key))
    )
    return [(category, link) for category, link in rows.all()]


async def _link(visit: Visit) -> tuple[Activity, DataCategory, ActivityDataCategory]:
    visit.require(Action.INVENTORY_WRITE)
    activity = await activities.activity_by_slug(visit.db, visit.request.path_params["slug"])
    key = visit.request.path_params["key"]
    for category, link in await kept(visit.db, activity):
        if category.key == key:
            return activity, category, link
    raise NotFound(f"{activity.slug} does not process {key}")


def _shown(activity: Activity, category: DataCategory, verb: str, title: str) -> Shown:
    path = f"/activities/{activity.slug}/data/{category.key}"
    return Shown(
        f"{title}: {category.name} in {activity.name}",
        f"{path}/{verb}",
        f"/activities/{activity.slug}",
    )


async def _history(visit: Visit, activity: Activity, category: DataCategory) -> dict[str, Any]:
    return await history_of(visit, "activity_data_category", link_slug(activity.slug, category.key))


@page
async def retention_form(visit: Visit) -> Response:
    activity, category, link = await _link(visit)
    values = {
        "retention_criterion": link.retention_criterion,
        "retention_days": link.retention_days,
    }
    shown = _shown(activity, category, "retention", "Retention")
    return render(visit, RETENTION_FORM, shown, values, **await _history(visit, activity, category))


@page
async def retention(visit: Visit) -> Response:
    activity, category, _ = await _link(visit)
    return await submitted(
        visit,
        RETENTION_FORM,
        _shown(activity, category, "retention", "Retention"),
        lambda given: taxonomy.update_retention(
            session=visit.db,
            actor=visit.actor,
            activity_slug=activity.slug,
            category_key=category.key,
            retention_criterion=given["retention_criterion"],
            retention_days=given["retention_days"],
            reason=given[REASON],
        ),
        lambda _: f"/activities/{activity.slug}",
        await _history(visit, activity, category),
    )


@page
async def detach_form(visit: Visit) -> Response:
    activity, category, _ = await _link(visit)
    return render(visit, DETACH_FORM, _shown(activity, category, "detach", "Detach"), {})


@page
async def detach(visit: Visit) -> Response:
    activity, category, _ = await _link(visit)
    return await submitted(
        visit,
        DETACH_FORM,
        _shown(activity, category, "detach", "Detach"),
        lambda given: taxonomy.detach_data_category(
            session=visit.db,
            actor=visit.actor,
            activity_slug=activity.slug,
            category_key=category.key,
            reason=given[REASON],
        ),
        lambda _: f"/activities/{activity.slug}",
    )


def routes() -> list[Route]:
    return [
        Route("/activities/{slug}/data/{key}/retention", retention_form, methods=["GET"]),
        Route("/activities/{slug}/data/{key}/retention", retention, methods=["POST"]),
        Route("/activities/{slug}/data/{key}/detach", detach_form, methods=["GET"]),
        Route("/activities/{slug}/data/{key}/detach", detach, methods=["POST"]),
    ]
