"""The change history of the record (R-INV-4): who changed what, when, before and after."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Index, String, Text
from sqlmodel import Field

from registry._columns import UtcDateTime, enum_column
from registry.db import Base


class ChangeAction(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    RETIRED = "retired"
    LINKED = "linked"
    UNLINKED = "unlinked"


class ChangeEvent(StrEnum):
    """What kind of write a change was: one member for each write to the record.

    Followers code against these; a member is only ever added, never renamed or removed
    (the feed's ``schemaVersion`` moves when one is added).
    """

    ENTITY_CREATED = "entity_created"
    ENTITY_UPDATED = "entity_updated"
    ENTITY_RETIRED = "entity_retired"
    SUB_PROCESSOR_ENGAGED = "sub_processor_engaged"
    SUB_PROCESSOR_RELEASED = "sub_processor_released"
    ACTIVITY_PARTY_ADDED = "activity_party_added"
    DATA_CATEGORY_ATTACHED = "data_category_attached"
    TRANSFER_CREATED = "transfer_created"
    TRANSFER_UPDATED = "transfer_updated"
    ADEQUACY_DECISION_CHANGED = "adequacy_decision_changed"
    SEEDS_LOADED = "seeds_loaded"
    DATA_CATEGORY_ADDED = "data_category_added"
    SUBJECT_CATEGORY_ADDED = "subject_category_added"
    DATA_CATEGORY_DETACHED = "data_category_detached"
    RETENTION_CHANGED = "retention_changed"
    ACTIVITY_CREATED = "activity_created"
    ACTIVITY_UPDATED = "activity_updated"
    ACTIVITY_RETIRED = "activity_retired"
    PURPOSE_ADDED = "purpose_added"
    PURPOSE_UPDATED = "purpose_updated"
    PURPOSE_REMOVED = "purpose_removed"
    LEGAL_BASIS_SET = "legal_basis_set"
    LEGAL_BASIS_REMOVED = "legal_basis_removed"
    ACTIVITY_SUBJECT_ADDED = "activity_subject_added"
    ACTIVITY_SUBJECT_REMOVED = "activity_subject_removed"
    COUNTRY_ADDED = "country_added"
    COUNTRY_UPDATED = "country_updated"
    ADEQUACY_DECISION_CREATED = "adequacy_decision_created"
    SUPERVISORY_AUTHORITY_ADDED = "supervisory_authority_added"
    SUPERVISORY_AUTHORITY_UPDATED = "supervisory_authority_updated"
    CONTROLLER_AUTHORITY_SET = "controller_authority_set"
    CONTROLLER_AUTHORITY_CLEARED = "controller_authority_cleared"
    DOCUMENT_ADDED = "document_added"
    DOCUMENT_UPDATED = "document_updated"
    DOCUMENT_WITHDRAWN = "document_withdrawn"
    DOCUMENT_ATTACHED = "document_attached"
    DOCUMENT_DETACHED = "document_detached"


class Change(Base, table=True):
    """One change to the record. Rows are only ever added; ``sequence`` orders them for
    followers (see ``history.service.number_changes``)."""

    __tablename__ = "change"
    # ``updatedSince``: the changes of one subject at or after a time, found by the index.
    __table_args__ = (Index("ix_change_subject_at", "subject_type", "subject_slug", "at"),)

    id: int = Field(default=None, primary_key=True)
    # Given as the writing transaction commits, in commit order; empty only until then, so
    # no other transaction ever reads a change without one.
    sequence: int | None = Field(default=None, unique=True, index=True)
    at: datetime = Field(sa_type=UtcDateTime)
    actor: str = Field(sa_type=String(80))
    subject_type: str = Field(index=True, sa_type=String(40))
    subject_slug: str = Field(index=True, sa_type=String(200))
    action: ChangeAction = Field(sa_type=enum_column(ChangeAction))
    event: ChangeEvent = Field(sa_type=enum_column(ChangeEvent))
    before: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    after: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    # Why, as the person who made the change said (a retirement's reason, say); often none.
    reason: str | None = Field(default=None, sa_type=Text)
    # The API request that made the change; none for the command line and the seeds.
    request_id: str | None = Field(default=None, sa_type=String(64))
    # The imported file the change came from, if it did: the batch names file, hash and who.
    import_batch_id: int | None = Field(default=None, foreign_key="import_batch.id", index=True)


class ImportBatch(Base, table=True):
    """One applied import of a file: its changes name it, so a list edited in a spreadsheet
    can be traced back to the very file (by name and SHA-256) and to who applied it."""

    __tablename__ = "import_batch"

    id: int = Field(default=None, primary_key=True)
    file_name: str = Field(sa_type=String(255))
    sha256: str = Field(sa_type=String(64))
    actor: str = Field(sa_type=String(80))
    at: datetime = Field(sa_type=UtcDateTime)
    # How many rows were created, updated, retired and left unchanged.
    counts: dict[str, int] = Field(default_factory=dict, sa_type=JSON)


class ChangeCounter(Base, table=True):
    """The last sequence given to a change: one row, locked by each commit that numbers."""

    __tablename__ = "change_counter"

    id: int = Field(default=None, primary_key=True)
    last_sequence: int
