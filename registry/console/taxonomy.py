"""The taxonomy: the data categories and the categories of data subjects, with the history
of their additions, and the forms that add one (what the taxonomy's service lets change).

The forms call what GraphQL's ``addDataCategory`` and ``addSubjectCategory`` call, with the
signed-in actor; nothing is ever added in the special categories' branch (R-INV-1).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from registry.access.policy import Action
from registry.console.forms import Field, Form, Kind, Shown, render, submitted
from registry.console.histories import HISTORY_LIMIT
from registry.console.visits import Visit, page
from registry.record.history import service as history
from registry.record.taxonomy import service as taxonomy

DESCRIPTION = Field("description", "Description", Kind.TEXTAREA)
DATA_FORM = Form(
    (
        Field("parent_key", "Under (the parent's key)", hint="e.g. user.contact"),
        Field("key", "Key (its last segment)", hint="Lower-case a-z, 0-9 and _."),
        Field("name", "Name"),
        DESCRIPTION,
    ),
    mutation="addDataCategory",
    asks_reason=False,
)
SUBJECT_FORM = Form(
    (Field("key", "Key", hint="Dotted, e.g. customer.caller."), Field("name", "Name"), DESCRIPTION),
    mutation="addSubjectCategory",
    asks_reason=False,
)
NEW_DATA = Shown("Add a data category", "/taxonomy/data-categories/new", "/taxonomy", "Add")
NEW_SUBJECT = Shown(
    "Add a category of data subjects", "/taxonomy/subject-categories/new", "/taxonomy", "Add"
)


async def _additions(visit: Visit) -> dict[str, Any]:
    """Each category's history is its addition: shown, as every history, to who may read it."""
    if not visit.actor.may(Action.HISTORY_READ):
        return {}
    found = {}
    for subject_type in ("data_category", "subject_category"):
        found[subject_type] = await history.list_changes(
            session=visit.db, actor=visit.actor, limit=HISTORY_LIMIT, subject_type=subject_type
        )
    return {"additions": found}


@page
async def taxonomy_page(visit: Visit) -> Response:
    return visit.render(
        "taxonomy.html",
        data_categories=await taxonomy.list_data_categories(session=visit.db, actor=visit.actor),
        subject_categories=await taxonomy.list_subject_categories(
            session=visit.db, actor=visit.actor
        ),
        may_edit=visit.actor.may(Action.INVENTORY_WRITE),
        **await _additions(visit),
    )


@page
async def new_data_form(visit: Visit) -> Response:
    visit.require(Action.INVENTORY_WRITE)
    return render(visit, DATA_FORM, NEW_DATA, {})


@page
async def add_data(visit: Visit) -> Response:
    visit.require(Action.INVENTORY_WRITE)
    return await submitted(
        visit,
        DATA_FORM,
        NEW_DATA,
        lambda given: taxonomy.add_data_category(session=visit.db, actor=visit.actor, **given),
        lambda _: "/taxonomy",
    )


@page
async def new_subject_form(visit: Visit) -> Response:
    visit.require(Action.INVENTORY_WRITE)
    return render(visit, SUBJECT_FORM, NEW_SUBJECT, {})


@page
async def add_subject(visit: Visit) -> Response:
    visit.require(Action.INVENTORY_WRITE)
    return await submitted(
        visit,
        SUBJECT_FORM,
        NEW_SUBJECT,
        lambda given: taxonomy.add_subject_category(session=visit.db, actor=visit.actor, **given),
        lambda _: "/taxonomy",
    )


def routes() -> list[Route]:
    return [
        Route("/taxonomy", taxonomy_page, methods=["GET"]),
        Route("/taxonomy/data-categories/new", new_data_form, methods=["GET"]),
        Route("/taxonomy/data-categories/new", add_data, methods=["POST"]),
        Route("/taxonomy/subject-categories/new", new_subject_form, methods=["GET"]),
        Route("/taxonomy/subject-categories/new", add_subject, methods=["POST"]),
    ]
