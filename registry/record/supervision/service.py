"""The supervisory authorities and which one stands to each controller, kept by the privacy
team.

A controller has at most one authority in each role: its lead authority (Art. 56) and the
authority a data subject's complaint goes to (Art. 77). Where the notice gives a rule rather
than an authority, the entry keeps the rule as its note and names none; nothing is invented
(R-INV-5): a controller without a lead authority on record is a gap of its Art. 30 record.
Each write is an event of the change log with a whole snapshot (R-INV-4), naming the
controller and the authority by slug, so that the record as of a day can be rebuilt.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from registry._columns import text_lengths
from registry._edits import edited, refuse_unknown_fields
from registry._text import optional_text, stated
from registry.access.policy import Action
from registry.access.service import Actor, authorize
from registry.countries import Country
from registry.errors import Conflict, InvalidInput, NotFound
from registry.record.history import service as history
from registry.record.history.events import link_slug
from registry.record.history.models import ChangeEvent
from registry.record.inventory.models import Entity, EntityKind
from registry.record.supervision.models import (
    AuthorityRole,
    ControllerAuthority,
    SupervisoryAuthority,
    SupervisoryAuthorityDraft,
)

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
TEXT_LIMITS = text_lengths(SupervisoryAuthority)
NOTE_LIMIT = 2000
ONE_LINE_FIELDS = frozenset({"slug", "name", "website"})
# The slug names the authority in the log and in the controllers' entries.
EDITABLE_FIELDS = frozenset(SupervisoryAuthorityDraft.model_fields) - {"slug"}
TEXT_FIELDS = ("name", "address", "website", "contact", "note")


@dataclass(frozen=True)
class Assignment:
    """The authority that stands to a controller in a role, or the rule that names it."""

    controller: Entity
    role: AuthorityRole
    authority: SupervisoryAuthority | None
    note: str | None


async def list_authorities(
    *, session: AsyncSession, actor: Actor
) -> Sequence[SupervisoryAuthority]:
    authorize(actor, Action.INVENTORY_READ)
    query = select(SupervisoryAuthority).order_by(col(SupervisoryAuthority.slug))
    return (await session.scalars(query)).all()


async def authority_by_slug(session: AsyncSession, slug: str) -> SupervisoryAuthority:
    query = select(SupervisoryAuthority).where(col(SupervisoryAuthority.slug) == slug)
    authority = await session.scalar(query)
    if authority is None:
        raise NotFound(f"no supervisory authority {slug!r}")
    return authority


async def _cleaned(
    session: AsyncSession, draft: SupervisoryAuthorityDraft, names: Collection[str]
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in names:
        value = getattr(draft, name)
        limit = TEXT_LIMITS.get(name, NOTE_LIMIT)
        one_line = name in ONE_LINE_FIELDS
        if name == "name":
            value = stated(value, name, limit=limit, one_line=True)
        elif name in TEXT_FIELDS:
            value = optional_text(value, name, limit=limit, one_line=one_line)
        elif name == "country_code":
            value = value.strip().upper()
            if await session.get(Country, value) is None:
                raise InvalidInput(f"unknown country {value!r}", field="country_code")
        values[name] = value
    return values


async def add_authority(
    *, session: AsyncSession, actor: Actor, draft: SupervisoryAuthorityDraft
) -> SupervisoryAuthority:
    authorize(actor, Action.INVENTORY_WRITE)
    slug = stated(draft.slug, "slug", limit=TEXT_LIMITS["slug"], one_line=True)
    if not SLUG.match(slug):
        raise InvalidInput("slug must be lower-case words joined by hyphens", field="slug")
    existing = select(col(SupervisoryAuthority.id)).where(col(SupervisoryAuthority.slug) == slug)
    if await session.scalar(existing) is not None:
        raise Conflict(f"a supervisory authority {slug!r} exists already", field="slug")
    authority = SupervisoryAuthority(slug=slug, **await _cleaned(session, draft, EDITABLE_FIELDS))
    session.add(authority)
    await history.record_row(
        session=session,
        actor=actor,
        event=ChangeEvent.SUPERVISORY_AUTHORITY_ADDED,
        row=authority,
        subject_slug=slug,
    )
    return authority


async def update_authority(
    *,
    session: AsyncSession,
    actor: Actor,
    slug: str,
    changes: Mapping[str, Any],
    reason: str | None = None,
) -> SupervisoryAuthority:
    """Applies the given changes; one that alters nothing is not recorded."""
    authorize(actor, Action.INVENTORY_WRITE)
    refuse_unknown_fields(changes, EDITABLE_FIELDS)
    why = history.stated_reason(reason)
    authority = await authority_by_slug(session, slug)
    draft = edited(SupervisoryAuthorityDraft, authority, changes)
    await history.apply_edit(
        session=session,
        actor=actor,
        event=ChangeEvent.SUPERVISORY_AUTHORITY_UPDATED,
        row=authority,
        subject_slug=slug,
        values=await _cleaned(session, draft, list(changes)),
        reason=why,
    )
    return authority


async def _controller(session: AsyncSession, slug: str) -> Entity:
    entity = await session.scalar(select(Entity).where(col(Entity.slug) == slug))
    if entity is None:
        raise NotFound(f"no entity {slug!r}")
    # The authorities stand to the controllers; the group companies are the controllers.
    if entity.kind is not EntityKind.GROUP_COMPANY:
        raise InvalidInput(f"{slug} is a {entity.kind.value}, not a controller", field="controller")
    return entity


async def _entry(
    session: AsyncSession, controller: Entity, role: AuthorityRole
) -> ControllerAuthority | None:
    return await session.scalar(
        select(ControllerAuthority).where(
            col(ControllerAuthority.controller_id) == controller.id,
            col(ControllerAuthority.role) == role,
        )
    )


def _snapshot(
    entry: ControllerAuthority, controller: Entity, authority: SupervisoryAuthority | None
) -> dict[str, Any]:
    # Both ends by slug, as the log names every link.
    return {
        "controller": controller.slug,
        "role": entry.role.value,
        "authority": authority.slug if authority is not None else None,
        "note": entry.note,
    }


async def set_controller_authority(
    *,
    session: AsyncSession,
    actor: Actor,
    controller_slug: str,
    role: AuthorityRole,
    authority_slug: str | None,
    note: str | None = None,
    reason: str | None = None,
) -> Assignment:
    """Names the authority that stands to the controller in ``role``, or, with a note and no
    authority, the rule that names it; replaces what was there. Either is needed."""
    authorize(actor, Action.INVENTORY_WRITE)
    why = history.stated_reason(reason)
    controller = await _controller(session, controller_slug)
    authority = (
        await authority_by_slug(session, authority_slug) if authority_slug is not None else None
    )
    cleaned_note = optional_text(note, "note", limit=NOTE_LIMIT)
    if authority is None and cleaned_note is None:
        raise InvalidInput(
            "name an authority, or say in a note which one stands (the notice's rule)",
            field="authority",
        )
    entry = await _entry(session, controller, role)
    before: dict[str, Any] | None = None
    if entry is None:
        entry = ControllerAuthority(controller_id=controller.id, role=role)
        session.add(entry)
    else:
        previous = (
            await session.get(SupervisoryAuthority, entry.authority_id)
            if entry.authority_id is not None
            else None
        )
        before = _snapshot(entry, controller, previous)
    entry.authority_id = authority.id if authority is not None else None
    entry.note = cleaned_note
    after = _snapshot(entry, controller, authority)
    if after != before:
        await session.flush()
        await history.record_change(
            session=session,
            actor=actor,
            event=ChangeEvent.CONTROLLER_AUTHORITY_SET,
            subject_slug=link_slug(controller.slug, role.value),
            before=before,
            after=after,
            reason=why,
        )
    return Assignment(controller, role, authority, cleaned_note)


async def clear_controller_authority(
    *,
    session: AsyncSession,
    actor: Actor,
    controller_slug: str,
    role: AuthorityRole,
    reason: str | None = None,
) -> Entity:
    """Takes the controller's entry in ``role`` off the record (a lead authority cleared is a
    gap again, R-INV-5)."""
    authorize(actor, Action.INVENTORY_WRITE)
    why = history.stated_reason(reason)
    controller = await _controller(session, controller_slug)
    entry = await _entry(session, controller, role)
    if entry is None:
        raise NotFound(f"{controller_slug} has no {role.value} authority on record")
    authority = (
        await session.get(SupervisoryAuthority, entry.authority_id)
        if entry.authority_id is not None
        else None
    )
    before = _snapshot(entry, controller, authority)
    await session.delete(entry)
    await session.flush()
    await history.record_change(
        session=session,
        actor=actor,
        event=ChangeEvent.CONTROLLER_AUTHORITY_CLEARED,
        subject_slug=link_slug(controller.slug, role.value),
        before=before,
        after=None,
        reason=why,
    )
    return controller


async def assignments(
    session: AsyncSession, controller_ids: Collection[int]
) -> dict[tuple[int, AuthorityRole], tuple[SupervisoryAuthority | None, str | None]]:
    """The entries of the given controllers, by controller and role: authority and note."""
    if not controller_ids:
        return {}
    rows = await session.execute(
        select(ControllerAuthority, SupervisoryAuthority)
        .outerjoin(
            SupervisoryAuthority,
            col(SupervisoryAuthority.id) == col(ControllerAuthority.authority_id),
        )
        .where(col(ControllerAuthority.controller_id).in_(controller_ids))
    )
    return {(entry.controller_id, entry.role): (authority, entry.note) for entry, authority in rows}
