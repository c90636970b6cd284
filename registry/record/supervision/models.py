"""Tables of the supervisory authorities (Art. 51) and which one stands to each controller.

Two roles: the lead authority of a controller's main establishment (Art. 56), and the
authority a data subject's complaint goes to (Art. 77, the notice's complaint right). Where
the notice names a rule rather than an authority ("the authority of the country where you
live"), the controller's entry keeps the rule as a note and names no authority.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import String, Text, UniqueConstraint
from sqlmodel import Field

from registry._columns import enum_column
from registry.db import Base


class AuthorityRole(StrEnum):
    LEAD = "lead"
    COMPLAINT = "complaint"


class SupervisoryAuthorityDraft(Base):
    """A supervisory authority as it is given; the table adds its identity."""

    slug: str = Field(unique=True, sa_type=String(80))
    name: str = Field(sa_type=String(300))
    country_code: str = Field(foreign_key="country.code", sa_type=String(2), index=True)
    address: str | None = Field(default=None, sa_type=Text)
    website: str | None = Field(default=None, sa_type=String(500))
    contact: str | None = Field(default=None, sa_type=Text)
    verified: bool = Field(default=False)
    note: str | None = Field(default=None, sa_type=Text)


class SupervisoryAuthority(SupervisoryAuthorityDraft, table=True):
    __tablename__ = "supervisory_authority"

    id: int = Field(default=None, primary_key=True)


class ControllerAuthority(Base, table=True):
    """The authority that stands to a controller in one role, or the rule that names it."""

    __tablename__ = "controller_authority"
    __table_args__ = (UniqueConstraint("controller_id", "role"),)

    id: int = Field(default=None, primary_key=True)
    controller_id: int = Field(foreign_key="entity.id", index=True)
    role: AuthorityRole = Field(sa_type=enum_column(AuthorityRole))
    authority_id: int | None = Field(default=None, foreign_key="supervisory_authority.id")
    note: str | None = Field(default=None, sa_type=Text)
