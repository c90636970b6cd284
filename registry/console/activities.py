"""An activity's page with its history, and the form that edits its own Art. 30 facts.

The form calls what GraphQL's ``updateActivity`` calls, with the signed-in actor; its
purposes, legal bases and data keep their own edits in the service.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from registry.access.policy import Action
from registry.console import activity_data, parties, purposes
from registry.console.forms import REASON, Field, Form, Kind, Shown, changed, render, submitted
from registry.console.histories import history_of
from registry.console.visits import Visit, page
from registry.record.activities import service as activities
from registry.record.inventory.models import Activity, DpiaStatus

ACTIVITY_FORM = Form(
    (
        Field("name", "Name"),
        Field("description", "Description", Kind.TEXTAREA),
        Field("source", "Source of the data", Kind.TEXTAREA),
        Field("automated_decisions", "Automated decisions", Kind.TEXTAREA),
        Field("arrangement_summary", "Joint-controller arrangement (Art. 26)", Kind.TEXTAREA),
        Field("transfer_summary", "Transfers (summary)", Kind.TEXTAREA),
        Field("operations", "Operations", Kind.LINES, hint="One a line."),
        Field(
            "dpia_status",
            "DPIA status",
            Kind.SELECT,
            [(status.value, status.value.replace("_", " ")) for status in DpiaStatus],
        ),
        Field("dpia_reference", "DPIA (where it is kept)"),
        Field("lia_reference", "Legitimate interests assessment (where it is kept)"),
        Field("notice_last_updated", "Notice last updated", hint="A month (2022-08) or a day."),
        Field("notice_authoritative_language", "Notice's governing language"),
        Field("platform", "Platform"),
    ),
    mutation="updateActivity",
)


def _current(activity: Activity) -> dict[str, Any]:
    return {name: getattr(activity, name) for name in ACTIVITY_FORM.names}


def _shown(activity: Activity) -> Shown:
    slug = activity.slug
    return Shown(f"Edit {activity.name}", f"/activities/{slug}/edit", f"/activities/{slug}")


@page
async def activity_page(visit: Visit) -> Response:
    visit.require(Action.INVENTORY_READ)
    activity = await activities.activity_by_slug(visit.db, visit.request.path_params["slug"])
    return visit.render(
        "activity.html",
        activity=activity,
        # A retired activity is kept as it was retired: the service refuses its edit.
        may_edit=visit.actor.may(Action.INVENTORY_WRITE) and activity.retired_on is None,
        data=await activity_data.kept(visit.db, activity),
        parties=await parties.parties_of(visit.db, activity),
        purposes=await purposes.purposes_of(visit, activity),
        **await history_of(visit, "activity", activity.slug),
    )


@page
async def edit_form(visit: Visit) -> Response:
    visit.require(Action.INVENTORY_WRITE)
    activity = await activities.activity_by_slug(visit.db, visit.request.path_params["slug"])
    return render(visit, ACTIVITY_FORM, _shown(activity), _current(activity))


@page
async def edit(visit: Visit) -> Response:
    visit.require(Action.INVENTORY_WRITE)
    activity = await activities.activity_by_slug(visit.db, visit.request.path_params["slug"])
    slug, current = activity.slug, _current(activity)
    return await submitted(
        visit,
        ACTIVITY_FORM,
        _shown(activity),
        lambda given: activities.update_activity(
            session=visit.db,
            actor=visit.actor,
            slug=slug,
            changes=changed(given, current),
            reason=given[REASON],
        ),
        lambda _: f"/activities/{slug}",
    )


def routes() -> list[Route]:
    return [
        Route("/activities/{slug}", activity_page, methods=["GET"]),
        Route("/activities/{slug}/edit", edit_form, methods=["GET"]),
        Route("/activities/{slug}/edit", edit, methods=["POST"]),
    ]
