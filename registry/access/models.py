"""Principals and their bearer tokens."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, String, UniqueConstraint
from sqlmodel import Field

from registry._columns import UtcDateTime
from registry.db import Base


class PrincipalProfile(Base):
    """Who a principal is and what it may do, as an administrator gives it: declared once for
    the table and the service's list of what may change."""

    handle: str = Field(unique=True, sa_type=String(80))
    display_name: str = Field(sa_type=String(200))
    roles: list[str] = Field(default_factory=list, sa_type=JSON)
    confidentiality_committed_on: date | None = Field(default=None, sa_type=Date)
    trained_on: date | None = Field(default=None, sa_type=Date)


class Principal(PrincipalProfile, table=True):
    """A person or integration with a personal, never-reassigned ID (``handle``).

    A deactivated principal keeps its row, so that its handle stays taken for good (R-ACC-2)
    and what the audit log and history say it did still names someone.
    """

    __tablename__ = "principal"

    id: int = Field(default=None, primary_key=True)
    created_at: datetime = Field(sa_type=UtcDateTime)
    deactivated_at: datetime | None = Field(default=None, sa_type=UtcDateTime)

    @property
    def active(self) -> bool:
        return self.deactivated_at is None


class ApiToken(Base, table=True):
    """A bearer token. Only its SHA-256 is stored; the token itself is shown once."""

    __tablename__ = "api_token"

    id: int = Field(default=None, primary_key=True)
    principal_id: int = Field(foreign_key="principal.id", index=True)
    token_hash: str = Field(unique=True, sa_type=String(64))
    label: str = Field(sa_type=String(200))
    created_at: datetime = Field(sa_type=UtcDateTime)
    expires_at: datetime = Field(sa_type=UtcDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class ExternalIdentity(Base, table=True):
    """A person as the identity provider knows them (issuer and subject), tied to one
    principal for good: never moved to another, so a subject never comes to act as
    someone else, nor a principal's ID to stand for a new person (R-ACC-2)."""

    __tablename__ = "external_identity"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)

    id: int = Field(default=None, primary_key=True)
    issuer: str = Field(sa_type=String(500))
    # OpenID Connect caps a subject at 255 ASCII characters.
    subject: str = Field(sa_type=String(255))
    principal_id: int = Field(foreign_key="principal.id", unique=True)
    first_seen_at: datetime = Field(sa_type=UtcDateTime)
    last_seen_at: datetime = Field(sa_type=UtcDateTime)
    # The registry roles the provider's claims stood for at the last sign-in: what the
    # person may act as when signed in through it, never more than the registry granted.
    claimed_roles: list[str] = Field(default_factory=list, sa_type=JSON)


class ConsoleSession(Base, table=True):
    """A browser's signed-in session on the console, kept on the server.

    ``id`` is the SHA-256 of the random token in the browser's cookie, so that a copy of the
    table signs no one in; ``csrf_secret`` is what every form of the session must send back.
    """

    __tablename__ = "console_session"

    id: str = Field(primary_key=True, sa_type=String(64))
    principal_id: int = Field(foreign_key="principal.id", index=True)
    # How the principal proved who they are ("token", later "oidc"): kept for the audit.
    method: str = Field(sa_type=String(20))
    csrf_secret: str = Field(sa_type=String(64))
    created_at: datetime = Field(sa_type=UtcDateTime)
    last_seen_at: datetime = Field(sa_type=UtcDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
