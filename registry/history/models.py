"""The change history of the record (R-INV-4): who changed what, when, before and after."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from registry._columns import UtcDateTime, enum_column
from registry.db import Base


class ChangeAction(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    RETIRED = "retired"
    LINKED = "linked"
    UNLINKED = "unlinked"


class Change(Base):
    """One change to the record. Rows are only ever added; the id orders them for followers."""

    __tablename__ = "change"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(80))
    subject_type: Mapped[str] = mapped_column(String(40), index=True)
    subject_slug: Mapped[str] = mapped_column(String(200), index=True)
    action: Mapped[ChangeAction] = mapped_column(enum_column(ChangeAction))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
