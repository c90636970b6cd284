"""The audit log's tables. They live in their own database, never the record's."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, String
from sqlmodel import Field, SQLModel

from registry._columns import UtcDateTime, enum_column
from registry.db import RowIdentity, table_registry


class AuditBase(RowIdentity, SQLModel, registry=table_registry()):
    """The audit log's tables, on a metadata of their own."""


class Outcome(StrEnum):
    ALLOWED = "allowed"
    DENIED = "denied"
    FAILED = "failed"


class AuditEvent(AuditBase, table=True):
    """One audited event, chained to the one before: ``hash = SHA-256(prev_hash || event)``."""

    __tablename__ = "audit_event"

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: datetime = Field(sa_type=UtcDateTime)
    principal: str = Field(sa_type=String(80))
    action: str = Field(index=True, sa_type=String(80))
    target: str | None = Field(default=None, sa_type=String(300))
    purpose: str | None = Field(default=None, sa_type=String(80))
    outcome: Outcome = Field(sa_type=enum_column(Outcome))
    request_id: str | None = Field(default=None, sa_type=String(64))
    detail: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    prev_hash: str = Field(sa_type=String(64))
    hash: str = Field(sa_type=String(64))


class AuditCheckpoint(AuditBase, table=True):
    """A signed statement of the chain's head, to be kept elsewhere as well."""

    __tablename__ = "audit_checkpoint"

    id: int = Field(default=None, primary_key=True)
    seq: int
    hash: str = Field(sa_type=String(64))
    at: datetime = Field(sa_type=UtcDateTime)
    key_id: str = Field(sa_type=String(64))
    signature: str = Field(sa_type=String(128))
