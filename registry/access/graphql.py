"""GraphQL view of the caller's own identity."""

from __future__ import annotations

import strawberry

from registry.access.policy import Role
from registry.graphql.context import Info


@strawberry.type(name="Me")
class MeType:
    handle: str
    roles: list[Role]


@strawberry.type
class AccessQuery:
    @strawberry.field(description="Who the token in use stands for.")
    def me(self, info: Info) -> MeType:
        actor = info.context.actor
        return MeType(handle=actor.handle, roles=sorted(actor.roles))
