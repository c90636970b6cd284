"""The form that sets an activity's security measures (Art. 30(1)(g)) through
``set_security_measures``, as GraphQL's ``setSecurityMeasures`` does.

The service replaces the whole list: the form shows each measure on record as a group of
fields and one empty group for a new one; a group left empty is dropped. The service names
a refused measure by its part (``security_measures.key``), not by its place in the list, so
its refusals are shown at the top of the form.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from registry.access.policy import Action
from registry.console.forms import REASON, Field, Form, Kind, Shown, render, submitted
from registry.console.visits import Visit, page
from registry.record.activities import service as activities
from registry.record.inventory.models import Activity

PARTS = ("key", "description", "software", "contract")


def _fields(number: int) -> list[Field]:
    said = f"Measure {number}"
    return [
        Field(f"m{number}_key", f"{said}: short name", hint="Lower-case words joined by hyphens."),
        Field(f"m{number}_description", f"{said}: what is done", Kind.TEXTAREA),
        Field(f"m{number}_software", f"{said}: enforced by the software", Kind.CHECKBOX),
        Field(f"m{number}_contract", f"{said}: contract binding the party that takes it"),
    ]


def _form(activity: Activity) -> Form:
    # One group more than the record holds: the one a new measure is written in.
    groups = len(activity.security_measures) + 1
    fields = [field for number in range(1, groups + 1) for field in _fields(number)]
    return Form(fields, mutation="setSecurityMeasures")


def _current(activity: Activity) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for number, measure in enumerate(activity.security_measures, start=1):
        values[f"m{number}_key"] = measure["key"]
        values[f"m{number}_description"] = measure["description"]
        values[f"m{number}_software"] = measure["enforced_by_software"]
        values[f"m{number}_contract"] = measure.get("contract_reference")
    return values


def _measures(form: Form, given: dict[str, Any]) -> list[activities.SecurityMeasure]:
    groups = len(form.fields) // len(PARTS)
    measures = []
    for number in range(1, groups + 1):
        key, description, software, contract = (given[f"m{number}_{part}"] for part in PARTS)
        if key is None and description is None and contract is None:
            continue
        measures.append(
            activities.SecurityMeasure(
                key=key or "",
                description=description or "",
                enforced_by_software=software,
                contract_reference=contract,
            )
        )
    return measures


def _shown(activity: Activity) -> Shown:
    slug = activity.slug
    return Shown(
        f"Security measures of {activity.name}",
        f"/activities/{slug}/security-measures",
        f"/activities/{slug}",
    )


@page
async def measures_form(visit: Visit) -> Response:
    visit.require(Action.INVENTORY_WRITE)
    activity = await activities.activity_by_slug(visit.db, visit.request.path_params["slug"])
    return render(visit, _form(activity), _shown(activity), _current(activity))


@page
async def set_measures(visit: Visit) -> Response:
    visit.require(Action.INVENTORY_WRITE)
    activity = await activities.activity_by_slug(visit.db, visit.request.path_params["slug"])
    slug, form = activity.slug, _form(activity)
    return await submitted(
        visit,
        form,
        _shown(activity),
        lambda given: activities.set_security_measures(
            session=visit.db,
            actor=visit.actor,
            activity_slug=slug,
            measures=_measures(form, given),
            reason=given[REASON],
        ),
        lambda _: f"/activities/{slug}",
    )


def routes() -> list[Route]:
    return [
        Route("/activities/{slug}/security-measures", measures_form, methods=["GET"]),
        Route("/activities/{slug}/security-measures", set_measures, methods=["POST"]),
    ]
