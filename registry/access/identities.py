"""People signed in through the company's identity provider, each a principal for good.

The provider names a person by its issuer and a subject; the first sign-in of a subject
creates a principal of its own, and every later one finds it again. The tie is never moved:
a deactivated principal's subject is refused, never given a new principal, and a principal's
ID never comes to stand for another subject (R-ACC-2).

Roles. The provider's claims cap what the person may act as: signed in through it, a
principal acts with the roles that an administrator granted in the registry *and* that the
claims stand for, never one more. The claims never grant a role, because whoever
administers the provider's groups (possibly the person themselves) would then grant
registry roles outside the registry's separation of duties; roles keep coming from another
admin or the operator's CLI (R-ACC-7), and a person the provider no longer vouches for loses
the role at the next sign-in. A new principal so has no role until an admin grants one, nor
clearance until someone else records its dates (R-ACC-3).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from registry import clock
from registry._text import stated
from registry.access.models import ExternalIdentity, Principal
from registry.access.policy import Action, Role
from registry.access.service import Actor, Refused, authorize, refuse_taken_handle

# Who creates a principal at a subject's first sign-in: the identity provider, through the
# registry's own code, never the person signing in.
PROVIDER = Actor.system("oidc")
# Characters of the subject kept readable in the handle; the digest after them keeps the
# handles of different subjects (or issuers) apart.
READABLE = 40
_NOT_IN_A_HANDLE = re.compile(r"[^a-z0-9._-]+")


@dataclass(frozen=True)
class SignIn:
    """A person signed in: their principal, what they may act as this way, and whether this
    sign-in created the principal (for the audit log, which the caller writes)."""

    principal: Principal
    actor: Actor
    created: bool

    def audit_detail(self) -> dict[str, Any]:
        return {"created": self.created, "roles": sorted(self.actor.roles)}


def handle_for(issuer: str, subject: str) -> str:
    """The principal's ID for a subject: the same subject of the same issuer always gets the
    same one, and two subjects never do (R-ACC-2)."""
    readable = _NOT_IN_A_HANDLE.sub("-", subject.lower()).strip("-._")[:READABLE].strip("-._")
    digest = hashlib.sha256(f"{issuer}\n{subject}".encode()).hexdigest()[:12]
    return f"{readable or 'person'}.{digest}"


def capped(principal: Principal, claimed: Iterable[str]) -> Actor:
    """The actor of a principal signed in through the provider: the registry's roles that
    the claims stand for too; clearance as for any principal (R-ACC-3)."""
    actor = Actor.of(principal)
    return dataclasses.replace(actor, roles=actor.roles & {Role(role) for role in claimed})


async def actor_of(*, session: AsyncSession, principal: Principal) -> Actor:
    """The actor of a principal's session opened through the provider, as the claims of its
    last sign-in cap it; a principal never signed in that way gets its roles uncapped."""
    claimed = await session.scalar(
        select(col(ExternalIdentity.claimed_roles)).where(
            col(ExternalIdentity.principal_id) == principal.id
        )
    )
    return Actor.of(principal) if claimed is None else capped(principal, claimed)


async def sign_in(
    *,
    session: AsyncSession,
    issuer: str,
    subject: str,
    display_name: str,
    claimed: frozenset[Role],
) -> SignIn:
    """The principal of a subject the provider vouched for, created at its first sign-in."""
    authorize(PROVIDER, Action.PRINCIPALS_MANAGE)
    now = clock.now()
    roles = sorted(role.value for role in claimed)
    identity = await session.scalar(
        select(ExternalIdentity).where(
            col(ExternalIdentity.issuer) == issuer, col(ExternalIdentity.subject) == subject
        )
    )
    if identity is None:
        principal = await _new_person(session, issuer, subject, display_name)
        identity = ExternalIdentity(
            issuer=issuer,
            subject=subject,
            principal_id=principal.id,
            first_seen_at=now,
            last_seen_at=now,
            claimed_roles=roles,
        )
        session.add(identity)
        await session.flush()
        return SignIn(principal, capped(principal, roles), created=True)
    principal = await session.get_one(Principal, identity.principal_id)
    if not principal.active:
        raise Refused(
            "R-ACC-2",
            f"{principal.handle!r} is deactivated: its sign-in stays closed, and the person"
            " is never given a new ID in its place",
        )
    identity.last_seen_at = now
    identity.claimed_roles = roles
    await session.flush()
    return SignIn(principal, capped(principal, roles), created=False)


async def _new_person(
    session: AsyncSession, issuer: str, subject: str, display_name: str
) -> Principal:
    handle = handle_for(issuer, subject)
    await refuse_taken_handle(session, handle)
    # No role and no clearance: both come from others (R-ACC-7), so this principal may do
    # nothing until an administrator grants a role and someone else records its dates.
    principal = Principal(
        handle=handle,
        display_name=stated(display_name, "display_name", limit=200, one_line=True),
        roles=[],
        created_at=clock.now(),
    )
    session.add(principal)
    await session.flush()
    return principal
