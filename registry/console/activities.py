"""An activity's page with its history, and the forms that record a new one, edit its own
Art. 30 facts, set its categories of recipients and retire it.

The forms call what GraphQL's ``createActivity``, ``updateActivity``,
``setRecipientCategories`` and ``retireActivity`` call, with the signed-in actor; its
purposes, legal bases and data keep their own edits in the service.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from registry._edits import drafted
from registry.access.policy import Action
from registry.console import activity_data, parties, purposes
from registry.console.forms import REASON, Field, Form, Kind, Shown, changed, render, submitted
from registry.console.histories import history_of
from registry.console.visits import Visit, page
from registry.record.activities import service as activities
from registry.record.inventory.models import Activity, ActivityDraft, DpiaStatus

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
RECIPIENTS = Field(
    "recipient_categories",
    "Categories of recipients (Art. 30(1)(d))",
    Kind.LINES,
    hint="One a line.",
)
# A new activity: its slug, fixed once recorded, then its facts as the edit has them.
NEW_ACTIVITY_FORM = Form(
    (
        Field(
            "slug", "Short name used in links (slug)", hint="Lower-case words joined by hyphens."
        ),
        *ACTIVITY_FORM.fields,
        RECIPIENTS,
    ),
    mutation="createActivity",
    asks_reason=False,
)
RECIPIENTS_FORM = Form((RECIPIENTS,), mutation="setRecipientCategories")
# The service retires from today and wants the reason, which the history keeps.
RETIRE_FORM = Form((), mutation="retireActivity")


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
        retire_form=RETIRE_FORM,
        retire_shown=_retire_shown(activity.slug),
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


# ------------------------------------------------------------------------ a new one

NEW = Shown("Record an activity", "/activities/new", "/activities", submit="Record")


@page
async def new_form(visit: Visit) -> Response:
    visit.require(Action.INVENTORY_WRITE)
    return render(visit, NEW_ACTIVITY_FORM, NEW, {"dpia_status": DpiaStatus.NOT_ASSESSED.value})


@page
async def create(visit: Visit) -> Response:
    visit.require(Action.INVENTORY_WRITE)
    return await submitted(
        visit,
        NEW_ACTIVITY_FORM,
        NEW,
        lambda given: activities.create_activity(
            session=visit.db, actor=visit.actor, draft=_draft(given)
        ),
        lambda made: f"/activities/{made.slug}",
    )


def _draft(given: dict[str, Any]) -> ActivityDraft:
    # A field left empty is one the draft's default decides, as a GraphQL client leaving
    # it out would have it; a required one left empty is refused at its field by the draft.
    return drafted(
        ActivityDraft, {name: value for name, value in given.items() if value is not None}
    )


# ------------------------------------------------------------------------ recipients


def _recipients_shown(activity: Activity) -> Shown:
    slug = activity.slug
    return Shown(
        f"Categories of recipients of {activity.name}",
        f"/activities/{slug}/recipients",
        f"/activities/{slug}",
    )


@page
async def recipients_form(visit: Visit) -> Response:
    visit.require(Action.INVENTORY_WRITE)
    activity = await activities.activity_by_slug(visit.db, visit.request.path_params["slug"])
    current = {RECIPIENTS.name: activity.recipient_categories}
    return render(visit, RECIPIENTS_FORM, _recipients_shown(activity), current)


@page
async def set_recipients(visit: Visit) -> Response:
    visit.require(Action.INVENTORY_WRITE)
    activity = await activities.activity_by_slug(visit.db, visit.request.path_params["slug"])
    slug = activity.slug
    return await submitted(
        visit,
        RECIPIENTS_FORM,
        _recipients_shown(activity),
        lambda given: activities.set_recipient_categories(
            session=visit.db,
            actor=visit.actor,
            activity_slug=slug,
            categories=given[RECIPIENTS.name],
            reason=given[REASON],
        ),
        lambda _: f"/activities/{slug}",
    )


# ------------------------------------------------------------------------ retiring


def _retire_shown(slug: str) -> Shown:
    return Shown(
        f"Retire {slug}", f"/activities/{slug}/retire", f"/activities/{slug}", submit="Retire"
    )


@page
async def retire_form(visit: Visit) -> Response:
    visit.require(Action.INVENTORY_WRITE)
    activity = await activities.activity_by_slug(visit.db, visit.request.path_params["slug"])
    return render(visit, RETIRE_FORM, _retire_shown(activity.slug), {})


@page
async def retire(visit: Visit) -> Response:
    visit.require(Action.INVENTORY_WRITE)
    activity = await activities.activity_by_slug(visit.db, visit.request.path_params["slug"])
    slug = activity.slug
    return await submitted(
        visit,
        RETIRE_FORM,
        _retire_shown(slug),
        lambda given: activities.retire_activity(
            session=visit.db,
            actor=visit.actor,
            slug=slug,
            # The service refuses an empty reason at its field, as it does GraphQL's.
            reason=given[REASON] or "",
        ),
        lambda _: f"/activities/{slug}",
    )


def routes() -> list[Route]:
    # ``/activities/new`` before ``/activities/{slug}``, which would take it for a slug.
    return [
        Route("/activities/new", new_form, methods=["GET"]),
        Route("/activities/new", create, methods=["POST"]),
        Route("/activities/{slug}", activity_page, methods=["GET"]),
        Route("/activities/{slug}/edit", edit_form, methods=["GET"]),
        Route("/activities/{slug}/edit", edit, methods=["POST"]),
        Route("/activities/{slug}/recipients", recipients_form, methods=["GET"]),
        Route("/activities/{slug}/recipients", set_recipients, methods=["POST"]),
        Route("/activities/{slug}/retire", retire_form, methods=["GET"]),
        Route("/activities/{slug}/retire", retire, methods=["POST"]),
    ]
