"""Builds a controller's entries (lead, complaint) for the entities a query selects."""

from __future__ import annotations

from collections.abc import Sequence

from strawberry.utils.str_converters import to_snake_case

from registry.graphql.context import Context
from registry.graphql.selection import Selection
from registry.graphql.shape import Relation
from registry.record.supervision import service
from registry.record.supervision.models import AuthorityRole
from registry.record.supervision.types import ControllerAuthorityType, SupervisoryAuthorityType

FIELDS = {"leadAuthority": AuthorityRole.LEAD, "complaintAuthority": AuthorityRole.COMPLAINT}


async def authority_relations(
    ctx: Context, entity_ids: Sequence[int], sel: Selection
) -> dict[str, Relation]:
    """``lead_authority`` and ``complaint_authority`` of the entities, if selected: one query
    for both, whatever the number of entities."""
    wanted = {name: role for name, role in FIELDS.items() if name in sel}
    if not wanted:
        return {}
    found = await service.assignments(ctx.session, entity_ids)
    built = {
        key: ControllerAuthorityType(
            role=key[1],
            authority=SupervisoryAuthorityType.of(authority) if authority is not None else None,
            note=note,
        )
        for key, (authority, note) in found.items()
    }

    def of_role(role: AuthorityRole) -> Relation:
        return Relation("id", lambda entity_id: built.get((entity_id, role)))

    return {to_snake_case(name): of_role(role) for name, role in wanted.items()}
