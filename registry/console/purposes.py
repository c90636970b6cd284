"""An activity's purposes and their legal bases (Art. 6(1)) for each category of data
subjects: a purpose's page with its history and its bases' (its edit form is on it), and
the forms that add or remove a purpose and set or remove a basis.

The forms call what GraphQL's ``addPurpose``, ``updatePurpose``, ``removePurpose``,
``setLegalBasis`` and ``removeLegalBasis`` call, with the signed-in actor.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.responses import Response
from starlette.routing import Route

from registry.access.policy import Action
from registry.console.forms import REASON, Field, Form, Kind, Shown, changed, render, submitted
from registry.console.histories import HISTORY_LIMIT
from registry.console.visits import Visit, page
from registry.errors import NotFound
from registry.record.activities import service as activities
from registry.record.answers import PurposeWithBases
from registry.record.history import service as history
from registry.record.history.events import link_slug
from registry.record.inventory.models import Activity, ActivitySubject, LegalBasis, SubjectCategory
from registry.record.taxonomy import service as taxonomy

NAMING = (Field("name", "Name"), Field("description", "Description", Kind.TEXTAREA))
PURPOSE_FORM = Form(NAMING, mutation="updatePurpose")
NEW_FORM = Form(
    (Field("key", "Key", hint="Lower-case words joined by hyphens."), *NAMING),
    mutation="addPurpose",
    asks_reason=False,
)
# Removing asks only why.
REMOVE_FORM = Form((), mutation="removePurpose")
BASES = [
    (basis.value, basis.value.replace("_", " ").replace("art6 1 ", "Art. 6(1)(") + ")")
    for basis in LegalBasis
]


async def purposes_of(visit: Visit, activity: Activity) -> list[PurposeWithBases]:
    return list(
        await taxonomy.list_purposes(
            session=visit.db, actor=visit.actor, activity_slug=activity.slug
        )
    )


async def _subjects(session: AsyncSession, activity: Activity) -> list[SubjectCategory]:
    rows = await session.scalars(
        select(SubjectCategory)
        .join(ActivitySubject, col(ActivitySubject.subject_category_id) == col(SubjectCategory.id))
        .where(col(ActivitySubject.activity_id) == activity.id)
        .order_by(col(SubjectCategory.key))
    )
    return list(rows.all())


async def _purpose(visit: Visit) -> tuple[Activity, PurposeWithBases]:
    visit.require(Action.INVENTORY_WRITE)
    activity = await activities.activity_by_slug(visit.db, visit.request.path_params["slug"])
    key = visit.request.path_params["key"]
    for found in await purposes_of(visit, activity):
        if found.purpose.key == key:
            return activity, found
    raise NotFound(f"{activity.slug} has no purpose {key!r}")


async def _history(visit: Visit, activity: Activity, key: str) -> dict[str, Any]:
    """The purpose's changes, then those of its bases, one subject category after another."""
    if not visit.actor.may(Action.HISTORY_READ):
        return {}
    changes = list(
        await history.list_changes(
            session=visit.db,
            actor=visit.actor,
            limit=HISTORY_LIMIT,
            subject_type="purpose",
            subject_slug=link_slug(activity.slug, key),
        )
    )
    for subject in await _subjects(visit.db, activity):
        changes += await history.list_changes(
            session=visit.db,
            actor=visit.actor,
            limit=HISTORY_LIMIT,
            subject_type="purpose_basis",
            subject_slug=link_slug(activity.slug, key, subject.key),
        )
    return {"changes": sorted(changes, key=lambda change: change.sequence)}


def _links(activity: Activity, key: str) -> dict[str, Any]:
    path = _path(activity, key)
    return {
        "links": [
            (f"{path}/basis", "Set a legal basis for a category of data subjects"),
            (f"{path}/basis/remove", "Remove a legal basis"),
            (f"{path}/remove", "Remove this purpose"),
        ]
    }


def _path(activity: Activity, key: str) -> str:
    return f"/activities/{activity.slug}/purposes/{key}"


def _shown(activity: Activity, found: PurposeWithBases) -> Shown:
    path = _path(activity, found.purpose.key)
    return Shown(f"Purpose: {found.purpose.name}", path, f"/activities/{activity.slug}")


def _current(found: PurposeWithBases) -> dict[str, Any]:
    return {"name": found.purpose.name, "description": found.purpose.description}


@page
async def purpose_page(visit: Visit) -> Response:
    activity, found = await _purpose(visit)
    key = found.purpose.key
    context = {**await _history(visit, activity, key), **_links(activity, key)}
    return render(visit, PURPOSE_FORM, _shown(activity, found), _current(found), **context)


@page
async def edit(visit: Visit) -> Response:
    activity, found = await _purpose(visit)
    current, key = _current(found), found.purpose.key
    return await submitted(
        visit,
        PURPOSE_FORM,
        _shown(activity, found),
        lambda given: activities.update_purpose(
            session=visit.db,
            actor=visit.actor,
            activity_slug=activity.slug,
            key=key,
            changes=changed(given, current),
            reason=given[REASON],
        ),
        lambda _: _path(activity, key),
        {**await _history(visit, activity, key), **_links(activity, key)},
    )


def _new(activity: Activity) -> Shown:
    path = f"/activities/{activity.slug}/purposes/new"
    return Shown(f"Add a purpose to {activity.name}", path, f"/activities/{activity.slug}", "Add")


async def _activity(visit: Visit) -> Activity:
    visit.require(Action.INVENTORY_WRITE)
    return await activities.activity_by_slug(visit.db, visit.request.path_params["slug"])


@page
async def new_form(visit: Visit) -> Response:
    activity = await _activity(visit)
    return render(visit, NEW_FORM, _new(activity), {})


@page
async def add(visit: Visit) -> Response:
    activity = await _activity(visit)
    return await submitted(
        visit,
        NEW_FORM,
        _new(activity),
        lambda given: activities.add_purpose(
            session=visit.db, actor=visit.actor, activity_slug=activity.slug, **given
        ),
        lambda made: _path(activity, made.key),
    )


def _verb(activity: Activity, found: PurposeWithBases, verb: str, title: str) -> Shown:
    path = _path(activity, found.purpose.key)
    return Shown(f"{title}: {found.purpose.name}", f"{path}/{verb}", path, title)


@page
async def remove_form(visit: Visit) -> Response:
    activity, found = await _purpose(visit)
    return render(visit, REMOVE_FORM, _verb(activity, found, "remove", "Remove"), {})


@page
async def remove(visit: Visit) -> Response:
    activity, found = await _purpose(visit)
    return await submitted(
        visit,
        REMOVE_FORM,
        _verb(activity, found, "remove", "Remove"),
        lambda given: activities.remove_purpose(
            session=visit.db,
            actor=visit.actor,
            activity_slug=activity.slug,
            key=found.purpose.key,
            reason=given[REASON],
        ),
        lambda _: f"/activities/{activity.slug}",
    )


async def _basis_form(visit: Visit, activity: Activity) -> Form:
    subjects = [(s.key, f"{s.name} ({s.key})") for s in await _subjects(visit.db, activity)]
    return Form(
        (
            Field("subject_category", "Category of data subjects", Kind.SELECT, subjects),
            Field("legal_basis", "Legal basis", Kind.SELECT, BASES),
            Field("note", "Note (the interest or consent relied on)", Kind.TEXTAREA),
        ),
        mutation="setLegalBasis",
    )


@page
async def basis_form(visit: Visit) -> Response:
    activity, found = await _purpose(visit)
    form = await _basis_form(visit, activity)
    return render(visit, form, _verb(activity, found, "basis", "Set a legal basis"), {})


@page
async def set_basis(visit: Visit) -> Response:
    activity, found = await _purpose(visit)
    return await submitted(
        visit,
        await _basis_form(visit, activity),
        _verb(activity, found, "basis", "Set a legal basis"),
        lambda given: activities.set_legal_basis(
            session=visit.db,
            actor=visit.actor,
            activity_slug=activity.slug,
            purpose_key=found.purpose.key,
            subject_key=given["subject_category"],
            legal_basis=LegalBasis(given["legal_basis"]),
            note=given["note"],
            reason=given[REASON],
        ),
        lambda _: _path(activity, found.purpose.key),
    )


def _unset_form(found: PurposeWithBases) -> Form:
    subjects = [(b.subject_category.key, b.subject_category.name) for b in found.bases]
    field = Field("subject_category", "Category of data subjects", Kind.SELECT, subjects)
    return Form((field,), mutation="removeLegalBasis")


@page
async def unset_form(visit: Visit) -> Response:
    activity, found = await _purpose(visit)
    shown = _verb(activity, found, "basis/remove", "Remove a legal basis")
    return render(visit, _unset_form(found), shown, {})


@page
async def unset(visit: Visit) -> Response:
    activity, found = await _purpose(visit)
    return await submitted(
        visit,
        _unset_form(found),
        _verb(activity, found, "basis/remove", "Remove a legal basis"),
        lambda given: activities.remove_legal_basis(
            session=visit.db,
            actor=visit.actor,
            activity_slug=activity.slug,
            purpose_key=found.purpose.key,
            subject_key=given["subject_category"],
            reason=given[REASON],
        ),
        lambda _: _path(activity, found.purpose.key),
    )


def routes() -> list[Route]:
    # ``.../purposes/new`` before ``.../purposes/{key}``, which would take it for a key.
    base = "/activities/{slug}/purposes"
    return [
        Route(f"{base}/new", new_form, methods=["GET"]),
        Route(f"{base}/new", add, methods=["POST"]),
        Route(f"{base}/{{key}}", purpose_page, methods=["GET"]),
        Route(f"{base}/{{key}}", edit, methods=["POST"]),
        Route(f"{base}/{{key}}/remove", remove_form, methods=["GET"]),
        Route(f"{base}/{{key}}/remove", remove, methods=["POST"]),
        Route(f"{base}/{{key}}/basis", basis_form, methods=["GET"]),
        Route(f"{base}/{{key}}/basis", set_basis, methods=["POST"]),
        Route(f"{base}/{{key}}/basis/remove", unset_form, methods=["GET"]),
        Route(f"{base}/{{key}}/basis/remove", unset, methods=["POST"]),
    ]
