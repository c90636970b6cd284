"""GraphQL types of the supervisory authorities and of a controller's entry in a role."""

from __future__ import annotations

import strawberry

from registry.record.supervision.models import AuthorityRole, SupervisoryAuthority

strawberry.enum(AuthorityRole)


@strawberry.type(name="SupervisoryAuthority", description="A supervisory authority (Art. 51).")
class SupervisoryAuthorityType:
    slug: str
    name: str
    country_code: str
    address: str | None
    website: str | None
    contact: str | None
    verified: bool
    note: str | None

    @classmethod
    def of(cls, row: SupervisoryAuthority) -> SupervisoryAuthorityType:
        return cls(
            slug=row.slug,
            name=row.name,
            country_code=row.country_code,
            address=row.address,
            website=row.website,
            contact=row.contact,
            verified=row.verified,
            note=row.note,
        )


@strawberry.type(
    name="ControllerAuthority",
    description="The authority that stands to a controller in a role, or, with no authority, "
    "the rule that names it (the note).",
)
class ControllerAuthorityType:
    role: AuthorityRole
    authority: SupervisoryAuthorityType | None
    note: str | None
