"""GraphQL types of disclosures to authorities: the request, its review, what went out."""

from __future__ import annotations

from datetime import datetime

import strawberry

from registry.authorities.models import DisclosureItem, DisclosureStatus
from registry.authorities.service import Disclosure

strawberry.enum(DisclosureStatus)


@strawberry.type(
    name="DisclosureItem",
    description="A recording the authority asked for: released, withheld with why, or still due.",
)
class DisclosureItemType:
    recording_id: str
    released_at: datetime | None
    withheld_reason: str | None

    @classmethod
    def of(cls, row: DisclosureItem) -> DisclosureItemType:
        return cls(
            recording_id=row.recording_id,
            released_at=row.released_at,
            withheld_reason=row.withheld_reason,
        )


@strawberry.type(
    name="AuthorityRequest",
    description="An authority's explicit legal request, its review and its release (R-ACC-5).",
)
class AuthorityRequestType:
    id: int
    authority: str
    reference: str = strawberry.field(description="The authority's own reference for it.")
    legal_basis: str
    scope: str
    status: DisclosureStatus
    received_at: datetime
    received_by: str
    necessity: str | None = strawberry.field(
        description="The review: why the communication is necessary."
    )
    compatibility: str | None = strawberry.field(
        description="The review: how it bears on the purpose the recordings were made for."
    )
    reviewed_by: str | None
    reviewed_at: datetime | None
    released_by: str | None
    released_at: datetime | None
    items: list[DisclosureItemType]
    package_id: str | None = strawberry.field(
        description="The sealed package released, downloaded at /packages/{id}."
    )

    @classmethod
    def of(cls, disclosure: Disclosure) -> AuthorityRequestType:
        row = disclosure.request
        return cls(
            id=row.id,
            authority=row.authority,
            reference=row.reference,
            legal_basis=row.legal_basis,
            scope=row.scope,
            status=row.status,
            received_at=row.received_at,
            received_by=row.received_by,
            necessity=row.necessity,
            compatibility=row.compatibility,
            reviewed_by=row.reviewed_by,
            reviewed_at=row.reviewed_at,
            released_by=row.released_by,
            released_at=row.released_at,
            items=[DisclosureItemType.of(item) for item in disclosure.items],
            package_id=disclosure.package_id,
        )
