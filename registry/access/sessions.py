"""Console sessions: a principal signed in once (token or OIDC), then known by a cookie.

The cookie holds a random token; the table keeps only its SHA-256, so that a copy of the
table signs no one in. A session ends at logout, after ``idle`` without a request, after
``MAX_LIFETIME`` whatever its use, and as soon as its principal is deactivated. The
principal's roles and clearance are read again on every request, so a change an
administrator makes applies to a session already open; a session opened through the
identity provider acts with those roles as the claims of its sign-in cap them (R-ACC-7).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from registry import clock
from registry.access import identities
from registry.access.models import ConsoleSession, Principal
from registry.access.service import Actor, hash_token
from registry.errors import Unauthenticated

# However busy, a session is signed in again after a working day.
MAX_LIFETIME = timedelta(hours=10)
# A session's last use is written at most this often, so that reads do not each cost a write.
LAST_SEEN_RESOLUTION = timedelta(seconds=30)
# The method of a session opened through the identity provider: its roles are capped.
OIDC = "oidc"


@dataclass(frozen=True)
class OpenSession:
    """A session as a request sees it: who, and the secret its forms must send back."""

    id: str
    actor: Actor
    csrf_secret: str
    method: str


async def start_session(
    *, session: AsyncSession, principal: Principal, method: str
) -> tuple[str, OpenSession]:
    """Opens a session for ``principal`` and returns the cookie's token (shown only here)."""
    if not principal.active:
        raise Unauthenticated(f"{principal.handle} is deactivated")
    token = secrets.token_urlsafe(32)
    now = clock.now()
    row = ConsoleSession(
        id=hash_token(token),
        principal_id=principal.id,
        method=method,
        csrf_secret=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
    )
    session.add(row)
    await session.flush()
    actor = await _actor(session, principal, method)
    return token, OpenSession(row.id, actor, row.csrf_secret, method)


async def resume_session(*, session: AsyncSession, token: str, idle: timedelta) -> OpenSession:
    """The session a cookie's token stands for, if it is still open; its use is noted."""
    found = (
        await session.execute(
            select(ConsoleSession, Principal)
            .join(Principal, col(Principal.id) == col(ConsoleSession.principal_id))
            .where(col(ConsoleSession.id) == hash_token(token))
        )
    ).one_or_none()
    if found is None:
        raise Unauthenticated("no such console session")
    row, principal = found
    now = clock.now()
    over = now - row.last_seen_at > idle or now - row.created_at > MAX_LIFETIME
    if row.ended_at is not None or over or not principal.active:
        raise Unauthenticated("the console session has ended: sign in again")
    if now - row.last_seen_at > LAST_SEEN_RESOLUTION:
        row.last_seen_at = now
    actor = await _actor(session, principal, row.method)
    return OpenSession(row.id, actor, row.csrf_secret, row.method)


async def _actor(session: AsyncSession, principal: Principal, method: str) -> Actor:
    # ``Actor.of`` alone would give an OIDC session every role granted, dropping the cap the
    # provider's claims put on them at sign-in.
    if method == OIDC:
        return await identities.actor_of(session=session, principal=principal)
    return Actor.of(principal)


async def end_session(*, session: AsyncSession, session_id: str) -> None:
    """Logout: the session's cookie signs no one in from now on."""
    await session.execute(
        update(ConsoleSession)
        .where(col(ConsoleSession.id) == session_id, col(ConsoleSession.ended_at).is_(None))
        .values(ended_at=clock.now())
    )


async def principal_of(session: AsyncSession, actor: Actor) -> Principal:
    """The principal row behind an authenticated actor (a token's), to open its session."""
    principal = await session.get(Principal, actor.principal_id)
    if principal is None:
        raise Unauthenticated(f"{actor.handle} is not a principal")
    return principal
