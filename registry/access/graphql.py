"""GraphQL of access: the caller's identity; principals and tokens, for admin."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import strawberry

from registry.access import service as access
from registry.access.models import Principal
from registry.access.policy import Role
from registry.audit.models import Outcome
from registry.errors import InvalidInput
from registry.graphql.context import Info
from registry.graphql.errors import ErrorType
from registry.graphql.mutations import given_fields, run
from registry.graphql.relay import Connection, connection, global_id, page, parse_global_id

# Keys are PostgreSQL ``integer`` columns: a forged key past them would fail in the driver.
KEYS = range(1, 2**31)


@strawberry.type(name="Me")
class MeType:
    handle: str
    roles: list[Role]


@strawberry.type(name="Principal", description="A person or integration that uses the registry.")
class PrincipalType:
    handle: str = strawberry.field(
        description="Personal ID: unique, never changed, never given to anyone else."
    )
    display_name: str
    roles: list[Role]
    active: bool
    confidentiality_committed_on: date | None
    trained_on: date | None
    created_at: datetime
    deactivated_at: datetime | None

    @classmethod
    def from_row(cls, row: Principal) -> PrincipalType:
        return cls(
            handle=row.handle,
            display_name=row.display_name,
            roles=[Role(role) for role in row.roles],
            active=row.active,
            confidentiality_committed_on=row.confidentiality_committed_on,
            trained_on=row.trained_on,
            created_at=row.created_at,
            deactivated_at=row.deactivated_at,
        )


@strawberry.type(name="Token", description="A bearer token as it is kept: never the token itself.")
class TokenType:
    id: strawberry.ID
    principal: str = strawberry.field(description="The handle of the one principal it is for.")
    label: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None = strawberry.field(description="To the minute.")

    @classmethod
    def from_info(cls, token: access.TokenInfo) -> TokenType:
        return cls(
            id=global_id("Token", token.id),
            principal=token.handle,
            label=token.label,
            created_at=token.created_at,
            expires_at=token.expires_at,
            revoked_at=token.revoked_at,
            last_used_at=token.last_used_at,
        )


@strawberry.input
class CreatePrincipalInput:
    handle: str = strawberry.field(
        description="Personal ID: 1 to 80 lower-case letters, digits, '.', '_' or '-'."
    )
    display_name: str
    roles: list[Role]
    confidentiality_committed_on: date | None = None
    trained_on: date | None = None


@strawberry.input(description="Only the fields given are changed; null clears a date.")
class UpdatePrincipalInput:
    display_name: str | None = strawberry.UNSET
    roles: list[Role] | None = strawberry.UNSET
    confidentiality_committed_on: date | None = strawberry.UNSET
    trained_on: date | None = strawberry.UNSET


@strawberry.type
class PrincipalPayload:
    principal: PrincipalType | None
    errors: list[ErrorType]


@strawberry.type
class IssuedTokenPayload:
    secret: str | None = strawberry.field(
        description="The bearer token itself: shown in this answer only, never stored."
    )
    token: TokenType | None
    errors: list[ErrorType]


@strawberry.type
class TokenPayload:
    token: TokenType | None
    errors: list[ErrorType]


def _token_key(id: strawberry.ID) -> int:
    # Anything but one of our token IDs names no token: the service then says so, once it
    # has checked that the caller may ask at all.
    try:
        type_name, key = parse_global_id(id)
    except InvalidInput:
        return 0
    return key if type_name == "Token" and key in KEYS else 0


def _lifetime(days: int) -> timedelta:
    # A count out of range becomes a lifetime the service refuses, once it has checked that
    # the caller may issue tokens at all; as given, it could overflow ``timedelta``.
    return timedelta(days=max(0, min(days, access.MAX_TOKEN_LIFETIME.days + 1)))


def _principal_payload(row: Principal | None, errors: list[ErrorType]) -> PrincipalPayload:
    return PrincipalPayload(
        principal=PrincipalType.from_row(row) if row is not None else None, errors=errors
    )


@strawberry.type
class AccessQuery:
    @strawberry.field(description="Who the token in use stands for.")
    def me(self, info: Info) -> MeType:
        actor = info.context.actor
        return MeType(handle=actor.handle, roles=sorted(actor.roles))

    @strawberry.field(description="Principals, deactivated ones included (admin). Audited.")
    async def principals(
        self, info: Info, first: int = 50, after: str | None = None
    ) -> Connection[PrincipalType]:
        ctx = info.context
        window = page(first, after, limit=ctx.settings.max_page_size)
        rows = await access.list_principals(
            session=ctx.session, actor=ctx.actor, after_id=window.after, limit=window.fetch
        )
        shown, more = window.split(rows)
        # People's names and dates: their reading is logged like any personal data (R-ACC-6).
        ctx.audit("principals", Outcome.ALLOWED, detail={"principals": len(shown)})
        return connection(
            [PrincipalType.from_row(row) for row in shown],
            [row.id for row in shown],
            has_next_page=more,
        )

    @strawberry.field(description="Tokens, of one principal or all (admin). Audited.")
    async def tokens(
        self, info: Info, handle: str | None = None, first: int = 50, after: str | None = None
    ) -> Connection[TokenType]:
        ctx = info.context
        window = page(first, after, limit=ctx.settings.max_page_size)
        found = await access.list_tokens(
            session=ctx.session,
            actor=ctx.actor,
            handle=handle,
            after_id=window.after,
            limit=window.fetch,
        )
        shown, more = window.split(found)
        ctx.audit(
            "tokens",
            Outcome.ALLOWED,
            target=f"handle={handle}" if handle is not None else None,
            detail={"tokens": len(shown)},
        )
        return connection(
            [TokenType.from_info(token) for token in shown],
            [token.id for token in shown],
            has_next_page=more,
        )


@strawberry.type
class AccessMutation:
    @strawberry.mutation(description="Creates a principal; its ID is never given to another.")
    async def create_principal(self, info: Info, input: CreatePrincipalInput) -> PrincipalPayload:
        row, errors = await run(
            info,
            lambda s: access.create_principal(
                session=s,
                actor=info.context.actor,
                handle=input.handle,
                display_name=input.display_name,
                roles=input.roles,
                confidentiality_committed_on=input.confidentiality_committed_on,
                trained_on=input.trained_on,
            ),
        )
        return _principal_payload(row, errors)

    @strawberry.mutation(
        description="Changes a principal's name, roles or dates; never its ID, and never"
        " one's own roles or dates. A new name needs a reason."
    )
    async def update_principal(
        self, info: Info, handle: str, input: UpdatePrincipalInput, reason: str | None = None
    ) -> PrincipalPayload:
        changes = given_fields(input)
        # Awaited apart: in ``await run(...)`` mypy takes the result type from the awaiting
        # context, which allows None, and then refuses ``detail``.
        running = run(
            info,
            lambda s: access.update_principal(
                session=s, actor=info.context.actor, handle=handle, changes=changes, reason=reason
            ),
            detail=access.PrincipalChange.audit_detail,
        )
        change, errors = await running
        return _principal_payload(change.principal if change else None, errors)

    @strawberry.mutation(
        description="Ends a principal's access and revokes its tokens; its ID stays reserved."
    )
    async def deactivate_principal(self, info: Info, handle: str) -> PrincipalPayload:
        row, errors = await run(
            info,
            lambda s: access.deactivate_principal(
                session=s, actor=info.context.actor, handle=handle
            ),
        )
        return _principal_payload(row, errors)

    @strawberry.mutation(
        description="Issues a token of an integration or of oneself; the answer is the only"
        " place it appears. Another person's comes only from the operator's CLI."
    )
    async def issue_token(
        self, info: Info, handle: str, label: str, days: int = 90
    ) -> IssuedTokenPayload:
        issued, errors = await run(
            info,
            lambda s: access.issue_token(
                session=s,
                actor=info.context.actor,
                handle=handle,
                label=label,
                lifetime=_lifetime(days),
            ),
        )
        if issued is None:
            return IssuedTokenPayload(secret=None, token=None, errors=errors)
        secret, record = issued
        token = TokenType.from_info(access.TokenInfo.of(record, handle))
        return IssuedTokenPayload(secret=secret, token=token, errors=[])

    @strawberry.mutation(description="Stops a token at once.")
    async def revoke_token(self, info: Info, id: strawberry.ID) -> TokenPayload:
        token, errors = await run(
            info,
            lambda s: access.revoke_token(
                session=s, actor=info.context.actor, token_id=_token_key(id)
            ),
        )
        return TokenPayload(token=TokenType.from_info(token) if token else None, errors=errors)
