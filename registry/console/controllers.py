"""The authority that stands to a controller in each role (Art. 56 lead, Art. 77 complaint):
shown on the controller's page, set or cleared on the entry's own page, with its history.

The forms call what GraphQL's ``setControllerAuthority`` and ``clearControllerAuthority``
call, with the signed-in actor.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from registry.access.policy import Action
from registry.console.forms import FORM, REASON, Field, Form, Kind, Problem, Shown, posted, save
from registry.console.histories import history_of
from registry.console.pages import PREFIX
from registry.console.visits import Visit, page
from registry.errors import NotFound
from registry.record.history.events import link_slug
from registry.record.inventory import service as inventory
from registry.record.inventory.models import Entity, EntityKind
from registry.record.supervision import service as supervision
from registry.record.supervision.models import AuthorityRole

ROLE_NAMES = {
    AuthorityRole.LEAD: "Lead authority (Art. 56)",
    AuthorityRole.COMPLAINT: "Authority for complaints (Art. 77)",
}
# Clearing asks only why.
CLEAR_FORM = Form((), mutation="clearControllerAuthority")


async def entries(session: AsyncSession, entity: Entity) -> list[dict[str, Any]]:
    """The controller's entry in each role, for its page: nothing for other entities."""
    if entity.kind is not EntityKind.GROUP_COMPANY:
        return []
    found = await supervision.assignments(session, [entity.id])
    return [
        {"role": role, "name": ROLE_NAMES[role], "entry": found.get((entity.id, role))}
        for role in AuthorityRole
    ]


async def _form(session: AsyncSession, visit: Visit) -> Form:
    authorities = await supervision.list_authorities(session=session, actor=visit.actor)
    choices = [("", "none named"), *((a.slug, f"{a.name} ({a.slug})") for a in authorities)]
    return Form(
        (
            Field("authority", "Authority", Kind.SELECT, choices, key="authority_slug"),
            Field(
                "note",
                "Note",
                Kind.TEXTAREA,
                hint="With no authority named: the rule that names it (the notice's words).",
            ),
        ),
        mutation="setControllerAuthority",
    )


async def _controller(visit: Visit) -> tuple[Entity, AuthorityRole]:
    entity = await inventory.entity_by_slug(visit.db, visit.request.path_params["slug"])
    role = visit.request.path_params["role"]
    if entity.kind is not EntityKind.GROUP_COMPANY or role not in set(AuthorityRole):
        raise NotFound(f"{entity.slug} has no {role} authority to set")
    return entity, AuthorityRole(role)


def _shown(entity: Entity, role: AuthorityRole) -> Shown:
    path = f"/entities/{entity.slug}/authorities/{role.value}"
    return Shown(f"{ROLE_NAMES[role]} of {entity.legal_name}", path, f"/entities/{entity.slug}")


async def _page(
    visit: Visit,
    entity: Entity,
    role: AuthorityRole,
    values: dict[str, Any],
    problems: dict[str, Problem] | None = None,
) -> Response:
    found = await supervision.assignments(visit.db, [entity.id])
    entry = found.get((entity.id, role))
    history = await history_of(visit, "controller_authority", link_slug(entity.slug, role.value))
    return visit.render(
        "controller_authority.html",
        form=await _form(visit.db, visit),
        clear_form=CLEAR_FORM,
        shown=_shown(entity, role),
        values=values,
        errors=problems or {},
        entry=entry,
        status=422 if problems else 200,
        **history,
    )


@page
async def entry_page(visit: Visit) -> Response:
    visit.require(Action.INVENTORY_WRITE)
    entity, role = await _controller(visit)
    entry = (await supervision.assignments(visit.db, [entity.id])).get((entity.id, role))
    authority, note = entry if entry is not None else (None, None)
    return await _page(
        visit, entity, role, {"authority": authority.slug if authority else None, "note": note}
    )


@page
async def set_entry(visit: Visit) -> Response:
    visit.require(Action.INVENTORY_WRITE)
    entity, role = await _controller(visit)
    form = await _form(visit.db, visit)
    given, problems = form.read(posted(visit))
    if not problems:
        problems = await save(
            visit,
            form,
            lambda: supervision.set_controller_authority(
                session=visit.db,
                actor=visit.actor,
                controller_slug=entity.slug,
                role=role,
                authority_slug=given["authority"],
                note=given["note"],
                reason=given[REASON],
            ),
        )
    if problems:
        return await _page(visit, entity, role, given, problems)
    return RedirectResponse(f"{PREFIX}{_shown(entity, role).action}", status_code=303)


@page
async def clear_entry(visit: Visit) -> Response:
    visit.require(Action.INVENTORY_WRITE)
    entity, role = await _controller(visit)
    given, _ = CLEAR_FORM.read(posted(visit))
    problems = await save(
        visit,
        CLEAR_FORM,
        lambda: supervision.clear_controller_authority(
            session=visit.db,
            actor=visit.actor,
            controller_slug=entity.slug,
            role=role,
            reason=given[REASON],
        ),
    )
    if problems:
        # Nothing to clear, or no reason the log takes: said at the top of the entry's page.
        return await _page(visit, entity, role, {}, {FORM: problems.popitem()[1]})
    return RedirectResponse(f"{PREFIX}{_shown(entity, role).action}", status_code=303)


def routes() -> list[Route]:
    return [
        Route("/entities/{slug}/authorities/{role}", entry_page, methods=["GET"]),
        Route("/entities/{slug}/authorities/{role}", set_entry, methods=["POST"]),
        Route("/entities/{slug}/authorities/{role}/clear", clear_entry, methods=["POST"]),
    ]
