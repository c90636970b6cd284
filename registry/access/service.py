"""Who may do what: principals, bearer tokens and the check against the policy table."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from registry import clock
from registry.access.models import ApiToken, Principal
from registry.access.policy import Action, Role, allowed_roles
from registry.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated

TOKEN_PREFIX = "rgt_"  # noqa: S105 - a marker that makes leaked tokens easy to scan for
DEFAULT_TOKEN_LIFETIME = timedelta(days=90)
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class Actor:
    """Whoever asks: a principal with its roles, or the system itself (seeding, jobs)."""

    handle: str
    roles: frozenset[Role]
    principal_id: int | None = None

    @classmethod
    def system(cls, name: str) -> Actor:
        return cls(handle=f"system:{name}", roles=frozenset(Role))

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        return cls(
            handle=principal.handle,
            roles=frozenset(Role(role) for role in principal.roles),
            principal_id=principal.id,
        )

    def may(self, action: Action) -> bool:
        return not self.roles.isdisjoint(allowed_roles(action))


def authorize(actor: Actor, action: Action) -> None:
    if not actor.may(action):
        raise Forbidden(f"{actor.handle} may not {action.value}")


def hash_token(token: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


async def create_principal(
    *,
    session: AsyncSession,
    actor: Actor,
    handle: str,
    display_name: str,
    roles: Iterable[Role],
    confidentiality_committed_on: date | None = None,
    trained_on: date | None = None,
) -> Principal:
    authorize(actor, Action.PRINCIPALS_MANAGE)
    role_list = sorted({Role(role).value for role in roles})
    if not role_list:
        raise InvalidInput("a principal needs at least one role", field="roles")
    existing = await session.scalar(select(Principal).where(Principal.handle == handle))
    if existing is not None:
        # Personal IDs are never reassigned, not even after deactivation (R-ACC-2).
        raise Conflict(f"the ID {handle!r} is taken and can never be given to anyone else")
    principal = Principal(
        handle=handle,
        display_name=display_name,
        roles=role_list,
        confidentiality_committed_on=confidentiality_committed_on,
        trained_on=trained_on,
        created_at=clock.now(),
    )
    session.add(principal)
    await session.flush()
    return principal


async def issue_token(
    *,
    session: AsyncSession,
    actor: Actor,
    handle: str,
    label: str,
    lifetime: timedelta = DEFAULT_TOKEN_LIFETIME,
) -> tuple[str, ApiToken]:
    """Returns the token itself (shown once, never stored) and its stored record."""
    authorize(actor, Action.PRINCIPALS_MANAGE)
    principal = await session.scalar(select(Principal).where(Principal.handle == handle))
    if principal is None or not principal.active:
        raise NotFound(f"no active principal {handle!r}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = clock.now()
    record = ApiToken(
        principal_id=principal.id,
        token_hash=hash_token(token),
        label=label,
        created_at=now,
        expires_at=now + lifetime,
    )
    session.add(record)
    await session.flush()
    return token, record


async def authenticate(*, session: AsyncSession, token: str) -> Actor:
    """The actor a bearer token stands for; expired, revoked or unknown tokens are refused."""
    now = clock.now()
    row = (
        await session.execute(
            select(ApiToken, Principal)
            .join(Principal, Principal.id == ApiToken.principal_id)
            .where(ApiToken.token_hash == hash_token(token))
        )
    ).one_or_none()
    if row is None:
        raise Unauthenticated("unknown token")
    record, principal = row
    if record.revoked_at is not None or record.expires_at <= now or not principal.active:
        raise Unauthenticated("token expired or revoked")
    # Written at most once a minute, so that reads do not each cost a write.
    if record.last_used_at is None or now - record.last_used_at > LAST_USED_RESOLUTION:
        record.last_used_at = now
    return Actor.of(principal)


async def ensure_bootstrap_admin(*, session: AsyncSession) -> str | None:
    """On a registry with no principal yet, creates the first one and returns its token."""
    if await session.scalar(select(Principal.id).limit(1)) is not None:
        return None
    system = Actor.system("bootstrap")
    await create_principal(
        session=session,
        actor=system,
        handle="bootstrap-admin",
        display_name="Bootstrap administrator and privacy officer",
        roles=[Role.ADMIN, Role.PRIVACY_OFFICER],
    )
    token, _ = await issue_token(
        session=session, actor=system, handle="bootstrap-admin", label="bootstrap"
    )
    return token
