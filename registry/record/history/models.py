"""The change history of the record (R-INV-4): who changed what, when, before and after."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, String
from sqlmodel import Field

from registry._columns import UtcDateTime, enum_column
from registry.db import Base


class ChangeAction(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    RETIRED = "retired"
    LINKED = "linked"
    UNLINKED = "unlinked"


class Change(Base, table=True):
    """One change to the record. Rows are only ever added; ``sequence`` orders them for
    followers (see ``history.service.number_changes``)."""

    __tablename__ = "change"

    id: int = Field(default=None, primary_key=True)
    # Given as the writing transaction commits, in commit order; empty only until then, so
    # no other transaction ever reads a change without one.
    sequence: int | None = Field(default=None, unique=True, index=True)
    at: datetime = Field(sa_type=UtcDateTime)
    actor: str = Field(sa_type=String(80))
    subject_type: str = Field(index=True, sa_type=String(40))
    subject_slug: str = Field(index=True, sa_type=String(200))
    action: ChangeAction = Field(sa_type=enum_column(ChangeAction))
    before: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    after: dict[str, Any] | None = Field(default=None, sa_type=JSON)


class ChangeCounter(Base, table=True):
    """The last sequence given to a change: one row, locked by each commit that numbers."""

    __tablename__ = "change_counter"

    id: int = Field(default=None, primary_key=True)
    last_sequence: int
