"""Tables of the documents the record refers to: contracts, DPAs, signed SCCs, TIAs.

The registry keeps references (where a document is kept, when it was signed, between whom,
what it covers), never the files themselves.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from sqlalchemy import Date, String, Text, UniqueConstraint
from sqlmodel import Field

from registry._columns import enum_column
from registry.db import Base


class DocumentKind(StrEnum):
    DPA = "dpa"
    CONTRACT = "contract"
    # The kinds of the transfer mechanisms (``transfers.models.Mechanism``) that are papers
    # the parties sign: a transfer under one of them needs its signed copy on record.
    SCC_2021_914 = "scc_2021_914"
    UK_IDTA = "uk_idta"
    UK_ADDENDUM = "uk_addendum"
    TIA = "tia"
    OTHER = "other"


class DocumentRole(StrEnum):
    """What a party is in the document: the SCCs' exporter and importer, a DPA's controller
    and processor, or only a party."""

    EXPORTER = "exporter"
    IMPORTER = "importer"
    CONTROLLER = "controller"
    PROCESSOR = "processor"
    PARTY = "party"


class DocumentTerms(Base):
    """A document's reference and dates, as they are given: declared once for the table and
    the service's draft."""

    title: str = Field(sa_type=String(300))
    location: str | None = Field(default=None, sa_type=String(500))
    signed_on: date | None = Field(default=None, sa_type=Date)
    effective_from: date | None = Field(default=None, sa_type=Date)
    expires_on: date | None = Field(default=None, sa_type=Date)
    scc_module: int | None = None
    note: str | None = Field(default=None, sa_type=Text)


class Document(DocumentTerms, table=True):
    """A document kept elsewhere, as the record refers to it; withdrawn, it stays."""

    __tablename__ = "document"

    id: int = Field(default=None, primary_key=True)
    slug: str = Field(unique=True, sa_type=String(200))
    kind: DocumentKind = Field(sa_type=enum_column(DocumentKind))
    withdrawn_on: date | None = Field(default=None, sa_type=Date)


class DocumentParty(Base, table=True):
    __tablename__ = "document_party"
    __table_args__ = (UniqueConstraint("document_id", "entity_id", "role"),)

    id: int = Field(default=None, primary_key=True)
    document_id: int = Field(foreign_key="document.id", index=True)
    entity_id: int = Field(foreign_key="entity.id", index=True)
    role: DocumentRole = Field(sa_type=enum_column(DocumentRole))


class DocumentTransfer(Base, table=True):
    """A transfer the document covers: its signed mechanism, its TIA, or its contract."""

    __tablename__ = "document_transfer"
    __table_args__ = (UniqueConstraint("document_id", "transfer_id"),)

    id: int = Field(default=None, primary_key=True)
    document_id: int = Field(foreign_key="document.id", index=True)
    transfer_id: int = Field(foreign_key="transfer.id", index=True)
