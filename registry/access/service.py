"""Who may do what: principals, bearer tokens and the check against the policy table."""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlmodel import col

from registry import clock
from registry._edits import refuse_unknown_fields
from registry._text import optional_text, stated
from registry.access.models import ApiToken, Principal, PrincipalProfile
from registry.access.policy import PERSONAL, Action, Role, roles_may
from registry.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    RuleBroken,
    Unauthenticated,
)

TOKEN_PREFIX = "rgt_"  # noqa: S105 - a marker that makes leaked tokens easy to scan for
DEFAULT_TOKEN_LIFETIME = timedelta(days=90)
MAX_TOKEN_LIFETIME = timedelta(days=365)
LAST_USED_RESOLUTION = timedelta(minutes=1)
# Lower case only, so that "Ana" can never be handed out beside "ana" (R-ACC-2); no ":",
# which marks the system's own actors ("system:cli"), so nobody can pass for one of them.
HANDLE = re.compile(r"[a-z0-9][a-z0-9._-]{0,79}")
# The handle is personal and for good (R-ACC-2): everything else about a principal may change.
EDITABLE_FIELDS = frozenset(PrincipalProfile.model_fields) - {"handle"}


@dataclass(frozen=True)
class Actor:
    """Whoever asks: a principal with its roles, or the system itself (seeding, jobs, CLI).

    ``cleared``: committed to confidentiality and trained, both on record (R-ACC-3). A
    principal's comes from its record (``Actor.of``); an actor made by hand is the system
    or a test, and is trusted as such.
    """

    handle: str
    roles: frozenset[Role]
    principal_id: int | None = None
    cleared: bool = True

    @classmethod
    def system(cls, name: str) -> Actor:
        return cls(handle=f"system:{name}", roles=frozenset(Role))

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        return cls.of_fields(
            principal_id=principal.id,
            handle=principal.handle,
            roles=principal.roles,
            confidentiality_committed_on=principal.confidentiality_committed_on,
            trained_on=principal.trained_on,
        )

    @classmethod
    def of_fields(
        cls,
        *,
        principal_id: int,
        handle: str,
        roles: Iterable[str],
        confidentiality_committed_on: date | None,
        trained_on: date | None,
    ) -> Actor:
        """A principal's actor from its fields as stored: what ``of`` and the token check,
        which reads only these columns, both make it from."""
        today = clock.today()
        dates = (confidentiality_committed_on, trained_on)
        return cls(
            handle=handle,
            roles=frozenset(Role(role) for role in roles),
            principal_id=principal_id,
            # A date still to come is a promise, not a commitment or a training.
            cleared=all(when is not None and when <= today for when in dates),
        )

    def may(self, action: Action) -> bool:
        return roles_may(self.roles, action)


class Refused(RuleBroken, Forbidden):
    """A rule refuses this actor (R-ACC-3, R-ACC-7): a broken rule to the caller, and a
    denial to the audit log."""


@dataclass(frozen=True)
class TokenInfo:
    """What may be known about a token once issued: never the token, nor its hash."""

    id: int
    handle: str
    label: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, token: ApiToken, handle: str) -> TokenInfo:
        return cls(
            id=token.id,
            handle=handle,
            label=token.label,
            created_at=token.created_at,
            expires_at=token.expires_at,
            revoked_at=token.revoked_at,
            last_used_at=token.last_used_at,
        )


def require_cleared(actor: Actor) -> None:
    if not actor.cleared:
        raise Refused(
            "R-ACC-3",
            f"{actor.handle} has not both committed to confidentiality and been trained"
            " (dates on record, not to come), so may not see personal data",
        )


def authorize(actor: Actor, action: Action) -> None:
    if not actor.may(action):
        raise Forbidden(f"{actor.handle} may not {action.value}")
    if action in PERSONAL:
        require_cleared(actor)


def hash_token(token: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


def _text(field: str, value: str | None, limit: int) -> str:
    # A principal's name, a reason, a token's label: each one line.
    return stated(value, field, limit=limit, one_line=True)


def _roles(roles: Iterable[Role | str] | None) -> list[str]:
    try:
        values = sorted({Role(role).value for role in roles or ()})
    except ValueError as error:
        raise InvalidInput(str(error), field="roles") from None
    if not values:
        raise InvalidInput("a principal needs at least one role", field="roles")
    if Role.INTEGRATION.value in values and len(values) > 1:
        # An admin may issue an integration's tokens (issue_token): they must never act as
        # a person's would.
        raise RuleBroken(
            "R-ACC-7", "an integration has the integration role and no other", field="roles"
        )
    return values


def _is_integration(roles: Iterable[str]) -> bool:
    return list(roles) == [Role.INTEGRATION.value]


async def _principal(session: AsyncSession, handle: str) -> Principal:
    principal = await session.scalar(select(Principal).where(col(Principal.handle) == handle))
    if principal is None:
        raise NotFound(f"no principal {handle!r}", field="handle")
    return principal


def _require_active(principal: Principal) -> None:
    if not principal.active:
        raise Conflict(
            f"{principal.handle!r} is deactivated: its ID stays reserved, unchanged (R-ACC-2)",
            field="handle",
        )


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
    if not HANDLE.fullmatch(handle):
        raise InvalidInput(
            "an ID is 1 to 80 lower-case letters, digits, '.', '_' or '-'", field="handle"
        )
    principal = Principal(
        handle=handle,
        display_name=_text("display_name", display_name, 200),
        roles=_roles(roles),
        confidentiality_committed_on=confidentiality_committed_on,
        trained_on=trained_on,
        created_at=clock.now(),
    )
    await refuse_taken_handle(session, handle)
    session.add(principal)
    await session.flush()
    return principal


async def refuse_taken_handle(session: AsyncSession, handle: str) -> None:
    taken = await session.scalar(
        select(col(Principal.deactivated_at).is_not(None)).where(
            func.lower(col(Principal.handle)) == handle
        )
    )
    if taken is not None:
        # Deactivated or not, the row stays, and so does its claim on the ID.
        whose = "a deactivated principal's" if taken else "taken"
        raise Conflict(
            f"R-ACC-2: the ID {handle!r} is {whose} and can never be given to anyone else",
            field="handle",
        )


@dataclass(frozen=True)
class PrincipalChange:
    """A principal as changed, with what the changed fields held before and hold now."""

    principal: Principal
    before: dict[str, Any]
    after: dict[str, Any]
    reason: str | None

    def audit_detail(self) -> dict[str, Any]:
        # In the audit log, a name given to someone else shows with who did it and why.
        return {"before": self.before, "after": self.after, "reason": self.reason}


def _shown(principal: Principal, field: str) -> Any:
    value = getattr(principal, field)
    return value.isoformat() if isinstance(value, date) else value


async def update_principal(
    *,
    session: AsyncSession,
    actor: Actor,
    handle: str,
    changes: Mapping[str, Any],
    reason: str | None = None,
) -> PrincipalChange:
    """Changes the given fields. The handle is not one of them: a personal ID never changes.

    Nobody changes their own roles or clearance dates (R-ACC-7). A new name needs a reason,
    kept in the audit log with the name before and after: an ID stays its person's (R-ACC-2).
    """
    authorize(actor, Action.PRINCIPALS_MANAGE)
    if "handle" in changes:
        raise RuleBroken("R-ACC-2", "a personal ID never changes", field="handle")
    refuse_unknown_fields(changes, EDITABLE_FIELDS)
    principal = await _principal(session, handle)
    _require_active(principal)
    if principal.id == actor.principal_id and changes.keys() - {"display_name"}:
        raise Refused(
            "R-ACC-7",
            "no one changes their own roles or clearance dates: another admin, or the"
            " operator's CLI, does",
        )
    wanted = {name: _cleaned(name, value) for name, value in changes.items()}
    if "roles" in wanted and _is_integration(wanted["roles"]) != _is_integration(principal.roles):
        raise RuleBroken(
            "R-ACC-7",
            "a person stays a person and an integration an integration, so that a token"
            " issued for an integration never comes to act as a person",
            field="roles",
        )
    changed = sorted(name for name, value in wanted.items() if getattr(principal, name) != value)
    why = optional_text(reason, "reason", limit=500, one_line=True)
    if "display_name" in changed and why is None:
        raise RuleBroken(
            "R-ACC-2",
            "a change of name needs a reason: a personal ID is never passed on to someone else",
            field="reason",
        )
    before = {name: _shown(principal, name) for name in changed}
    for name in changed:
        setattr(principal, name, wanted[name])
    await session.flush()
    return PrincipalChange(
        principal, before, {name: _shown(principal, name) for name in changed}, why
    )


def _cleaned(field: str, value: Any) -> Any:
    if field == "display_name":
        return _text(field, value, 200)
    if field == "roles":
        return _roles(value)
    return value


async def deactivate_principal(*, session: AsyncSession, actor: Actor, handle: str) -> Principal:
    """Ends a principal's access for good: its tokens are revoked, its ID stays reserved."""
    authorize(actor, Action.PRINCIPALS_MANAGE)
    principal = await _principal(session, handle)
    _require_active(principal)
    now = clock.now()
    principal.deactivated_at = now
    await session.execute(
        update(ApiToken)
        .where(col(ApiToken.principal_id) == principal.id, col(ApiToken.revoked_at).is_(None))
        .values(revoked_at=now)
    )
    await session.flush()
    return principal


async def list_principals(
    *, session: AsyncSession, actor: Actor, after_id: int = 0, limit: int | None = None
) -> Sequence[Principal]:
    authorize(actor, Action.PRINCIPALS_READ)
    query = (
        select(Principal)
        .where(col(Principal.id) > after_id)
        .order_by(col(Principal.id))
        .limit(limit)
    )
    return (await session.scalars(query)).all()


async def issue_token(
    *,
    session: AsyncSession,
    actor: Actor,
    handle: str,
    label: str,
    lifetime: timedelta = DEFAULT_TOKEN_LIFETIME,
) -> tuple[str, ApiToken]:
    """Returns the token itself (shown once, never stored) and its stored record.

    A principal issues tokens only of integrations and of itself; a token that acts as
    another person comes only from the system, that is the operator's audited CLI (R-ACC-7).
    """
    authorize(actor, Action.PRINCIPALS_MANAGE)
    if not timedelta(0) < lifetime <= MAX_TOKEN_LIFETIME:
        raise InvalidInput(
            f"a token lives more than no time and at most {MAX_TOKEN_LIFETIME.days} days",
            field="lifetime",
        )
    principal = await _principal(session, handle)
    _require_active(principal)
    # The system (the operator's CLI, which audits it; the bootstrap) has no principal.
    if actor.principal_id not in (None, principal.id) and not _is_integration(principal.roles):
        raise Refused(
            "R-ACC-7",
            f"a token that acts as {handle!r} comes only from the operator's audited CLI"
            " (`registry tokens issue`): here, tokens are issued for integrations and oneself",
            field="handle",
        )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = clock.now()
    record = ApiToken(
        principal_id=principal.id,
        token_hash=hash_token(token),
        label=_text("label", label, 200),
        created_at=now,
        expires_at=now + lifetime,
    )
    session.add(record)
    await session.flush()
    return token, record


async def revoke_token(*, session: AsyncSession, actor: Actor, token_id: int) -> TokenInfo:
    """Stops a token at once. Revoking it again changes nothing."""
    authorize(actor, Action.PRINCIPALS_MANAGE)
    row = (
        await session.execute(
            select(ApiToken, col(Principal.handle))
            .join(Principal, col(Principal.id) == col(ApiToken.principal_id))
            .where(col(ApiToken.id) == token_id)
        )
    ).one_or_none()
    if row is None:
        raise NotFound(f"no token {token_id}", field="id")
    token, handle = row
    if token.revoked_at is None:
        token.revoked_at = clock.now()
        await session.flush()
    return TokenInfo.of(token, handle)


async def list_tokens(
    *,
    session: AsyncSession,
    actor: Actor,
    handle: str | None = None,
    after_id: int = 0,
    limit: int | None = None,
) -> list[TokenInfo]:
    """Tokens, oldest first: whose, what for, until when and when last used."""
    authorize(actor, Action.PRINCIPALS_READ)
    query = (
        select(ApiToken, col(Principal.handle))
        .join(Principal, col(Principal.id) == col(ApiToken.principal_id))
        .where(col(ApiToken.id) > after_id)
    )
    if handle is not None:
        owner = await _principal(session, handle)
        query = query.where(col(ApiToken.principal_id) == owner.id)
    rows = await session.execute(query.order_by(col(ApiToken.id)).limit(limit))
    return [TokenInfo.of(token, whose) for token, whose in rows]


async def authenticate(*, session: AsyncSession, token: str) -> Actor:
    """The actor a bearer token stands for; expired, revoked or unknown tokens are refused.

    The token's last use, when due, is written in ``session``'s transaction: the caller
    commits it.
    """
    checked = await check_token(session, token)
    return checked.actor


@dataclass(frozen=True)
class CheckedToken:
    """A token that passed: its actor, the values read alongside, and whether its last use
    was written (in the transaction of the connection or session it was checked on, which
    the caller then commits, whatever else it goes on to do)."""

    actor: Actor
    read: tuple[Any, ...]
    wrote: bool


async def check_token(
    on: AsyncSession | AsyncConnection,
    token: str,
    alongside: Sequence[ColumnElement[Any]] = (),
) -> CheckedToken:
    """The actor of ``token``, checked against the database on every call (a revocation
    counts at once), and the values of ``alongside`` read in the same statement: a request
    that needs something more before it starts (the record's version, for its cache) gets
    it without a round trip of its own. Read only for a token that passes.

    Only the columns the check needs are read, as plain values: loading the token and its
    principal as objects cost more than the statement itself.
    """
    now = clock.now()
    query = _token_query(tuple(alongside))
    row = (await on.execute(query, {"token_hash": hash_token(token)})).one_or_none()
    if row is None:
        raise Unauthenticated("unknown token")
    (
        token_id,
        expires_at,
        revoked_at,
        last_used_at,
        principal_id,
        handle,
        roles,
        committed_on,
        trained_on,
        deactivated_at,
        *read,
    ) = row
    # A deactivated principal (``Principal.active`` false) has its tokens revoked anyway;
    # checked here too, as the session's and the console's checks do.
    if revoked_at is not None or expires_at <= now or deactivated_at is not None:
        raise Unauthenticated("token expired or revoked")
    actor = Actor.of_fields(
        principal_id=principal_id,
        handle=handle,
        roles=roles,
        confidentiality_committed_on=committed_on,
        trained_on=trained_on,
    )
    # Written at most once a minute, so that reads do not each cost a write.
    due = last_used_at is None or now - last_used_at > LAST_USED_RESOLUTION
    if due:
        await on.execute(_LAST_USED, {"token_id": token_id, "used_at": now})
    return CheckedToken(actor, tuple(read), wrote=due)


_TOKEN: Table = ApiToken.__table__  # type: ignore[attr-defined]
_PRINCIPAL: Table = Principal.__table__  # type: ignore[attr-defined]
# On the table, not the mapped class: a plain statement, without the ORM's work around it.
_LAST_USED = (
    update(_TOKEN)
    .where(_TOKEN.c.id == bindparam("token_id"))
    .values(last_used_at=bindparam("used_at", type_=_TOKEN.c.last_used_at.type))
)


@functools.lru_cache(maxsize=8)
def _token_query(alongside: tuple[ColumnElement[Any], ...]) -> Select[Any]:
    # Built once, the hash a parameter: building the statement and its cache key on every
    # request cost about as much as running it. The order is the one check_token unpacks.
    return (
        select(
            _TOKEN.c.id,
            _TOKEN.c.expires_at,
            _TOKEN.c.revoked_at,
            _TOKEN.c.last_used_at,
            _PRINCIPAL.c.id,
            _PRINCIPAL.c.handle,
            _PRINCIPAL.c.roles,
            _PRINCIPAL.c.confidentiality_committed_on,
            _PRINCIPAL.c.trained_on,
            _PRINCIPAL.c.deactivated_at,
            *alongside,
        )
        .join_from(_TOKEN, _PRINCIPAL, _PRINCIPAL.c.id == _TOKEN.c.principal_id)
        .where(_TOKEN.c.token_hash == bindparam("token_hash"))
    )


async def ensure_bootstrap_admin(*, session: AsyncSession) -> str | None:
    """On a registry with no principal yet, creates the first one and returns its token."""
    if await session.scalar(select(col(Principal.id)).limit(1)) is not None:
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
