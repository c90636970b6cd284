"""GraphQL of disclosures to authorities (R-ACC-5): thin wiring over the service.

The released package itself is downloaded over HTTP (``/packages/{id}``), never through GraphQL.
"""

from __future__ import annotations

import strawberry

from registry.audit.models import Outcome
from registry.authorities import service
from registry.authorities.models import DisclosureStatus
from registry.authorities.types import AuthorityRequestType
from registry.graphql.context import Info
from registry.graphql.errors import ErrorType
from registry.graphql.mutations import run
from registry.graphql.relay import Connection, connection, page


@strawberry.input
class AuthorityRequestInput:
    authority: str
    reference: str = strawberry.field(description="The authority's own reference for it.")
    legal_basis: str = strawberry.field(description="The law under which the authority asks.")
    scope: str
    recordings: list[str] = strawberry.field(description="IDs of the recordings asked for.")


@strawberry.type
class AuthorityRequestPayload:
    authority_request: AuthorityRequestType | None
    errors: list[ErrorType]


def _payload(found: service.Disclosure | None, errors: list[ErrorType]) -> AuthorityRequestPayload:
    return AuthorityRequestPayload(
        authority_request=AuthorityRequestType.of(found) if found is not None else None,
        errors=errors,
    )


@strawberry.type
class AuthoritiesQuery:
    @strawberry.field(description="Authorities' requests, oldest first, a page at a time.")
    async def authority_requests(
        self,
        info: Info,
        status: DisclosureStatus | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> Connection[AuthorityRequestType]:
        ctx = info.context
        window = page(first, after, limit=ctx.settings.max_page_size)
        found = await service.list_requests(
            session=ctx.session,
            actor=ctx.actor,
            status=status,
            after_id=window.after,
            limit=window.fetch,
        )
        shown, more = window.split(found)
        ctx.audit(
            "authorityRequests",
            Outcome.ALLOWED,
            target=f"status={status.value}" if status is not None else None,
            detail={"authorityRequests": len(shown)},
        )
        return connection(
            [AuthorityRequestType.of(d) for d in shown],
            [d.request.id for d in shown],
            has_next_page=more,
        )

    @strawberry.field(description="An authority's request, its review and what was released.")
    async def authority_request(self, info: Info, id: int) -> AuthorityRequestType | None:
        ctx = info.context
        found = await service.get_request(session=ctx.session, actor=ctx.actor, request_id=id)
        if found is None:
            return None
        ctx.audit("authorityRequest", Outcome.ALLOWED, target=f"authorityRequest:{id}")
        return AuthorityRequestType.of(found)


@strawberry.type
class AuthoritiesMutation:
    @strawberry.mutation(description="Records an authority's explicit legal request (R-ACC-5).")
    async def record_authority_request(
        self, info: Info, input: AuthorityRequestInput
    ) -> AuthorityRequestPayload:
        found, errors = await run(
            info,
            lambda s: service.record_request(
                session=s,
                actor=info.context.actor,
                authority=input.authority,
                reference=input.reference,
                legal_basis=input.legal_basis,
                scope=input.scope,
                recording_ids=input.recordings,
            ),
        )
        return _payload(found, errors)

    @strawberry.mutation(
        description="Approves or rejects a request, weighing necessity against compatibility"
        " with the original purpose (R-ACC-5)."
    )
    async def review_authority_request(
        self, info: Info, request: int, approve: bool, necessity: str, compatibility: str
    ) -> AuthorityRequestPayload:
        found, errors = await run(
            info,
            lambda s: service.review(
                session=s,
                actor=info.context.actor,
                request_id=request,
                approve=approve,
                necessity=necessity,
                compatibility=compatibility,
            ),
        )
        return _payload(found, errors)

    @strawberry.mutation(
        description="Releases an approved request: its recordings, sealed in one package."
    )
    async def release_disclosure(self, info: Info, request: int) -> AuthorityRequestPayload:
        ctx = info.context
        found, errors = await run(
            info,
            lambda s: service.release(
                session=s, actor=ctx.actor, ring=ctx.ring, blobs=ctx.blobs, request_id=request
            ),
        )
        return _payload(found, errors)
