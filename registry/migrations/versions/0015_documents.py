"""documents as references: contracts, DPAs, signed SCCs and TIAs, their parties and the
transfers they cover, and their change events

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 21:45:00.000000

The record keeps where a document is, not the document. Nothing is on record yet, so a
transfer under the SCCs or a UK mechanism shows as a gap until its signed copy is.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EVENTS_BEFORE = (
    "entity_created",
    "entity_updated",
    "entity_retired",
    "sub_processor_engaged",
    "sub_processor_released",
    "activity_party_added",
    "data_category_attached",
    "transfer_created",
    "transfer_updated",
    "seeds_loaded",
    "adequacy_decision_changed",
    "data_category_added",
    "subject_category_added",
    "data_category_detached",
    "retention_changed",
    "activity_created",
    "activity_updated",
    "activity_retired",
    "purpose_added",
    "purpose_updated",
    "purpose_removed",
    "legal_basis_set",
    "legal_basis_removed",
    "activity_subject_added",
    "activity_subject_removed",
    "country_added",
    "country_updated",
    "adequacy_decision_created",
    "supervisory_authority_added",
    "supervisory_authority_updated",
    "controller_authority_set",
    "controller_authority_cleared",
)
EVENTS_ADDED = (
    "document_added",
    "document_updated",
    "document_withdrawn",
    "document_attached",
    "document_detached",
)
KINDS = ("dpa", "contract", "scc_2021_914", "uk_idta", "uk_addendum", "tia", "other")
ROLES = ("exporter", "importer", "controller", "processor", "party")


def _enum(values: Sequence[str], name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def upgrade() -> None:
    op.create_table(
        "document",
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("location", sa.String(length=500), nullable=True),
        sa.Column("signed_on", sa.Date(), nullable=True),
        sa.Column("effective_from", sa.Date(), nullable=True),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("scc_module", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=200), nullable=False),
        sa.Column("kind", _enum(KINDS, "documentkind"), nullable=False),
        sa.Column("withdrawn_on", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document")),
        sa.UniqueConstraint("slug", name=op.f("uq_document_slug")),
    )
    op.create_table(
        "document_party",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("role", _enum(ROLES, "documentrole"), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"], ["document.id"], name=op.f("fk_document_party_document_id_document")
        ),
        sa.ForeignKeyConstraint(
            ["entity_id"], ["entity.id"], name=op.f("fk_document_party_entity_id_entity")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_party")),
        sa.UniqueConstraint(
            "document_id",
            "entity_id",
            "role",
            name=op.f("uq_document_party_document_id"),
        ),
    )
    op.create_index(
        op.f("ix_document_party_document_id"), "document_party", ["document_id"], unique=False
    )
    op.create_index(
        op.f("ix_document_party_entity_id"), "document_party", ["entity_id"], unique=False
    )
    op.create_table(
        "document_transfer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("transfer_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["document.id"],
            name=op.f("fk_document_transfer_document_id_document"),
        ),
        sa.ForeignKeyConstraint(
            ["transfer_id"],
            ["transfer.id"],
            name=op.f("fk_document_transfer_transfer_id_transfer"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_transfer")),
        sa.UniqueConstraint(
            "document_id",
            "transfer_id",
            name=op.f("uq_document_transfer_document_id"),
        ),
    )
    op.create_index(
        op.f("ix_document_transfer_document_id"),
        "document_transfer",
        ["document_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_document_transfer_transfer_id"),
        "document_transfer",
        ["transfer_id"],
        unique=False,
    )
    with op.batch_alter_table("change", schema=None) as batch_op:
        batch_op.alter_column(
            "event",
            existing_type=_enum(EVENTS_BEFORE, "changeevent"),
            type_=_enum((*EVENTS_BEFORE, *EVENTS_ADDED), "changeevent"),
            existing_nullable=False,
        )


def downgrade() -> None:
    # Changes of the new kinds cannot be kept under the old CHECK: they go with it, as do
    # the documents they describe.
    change = sa.table("change", sa.column("event", sa.String()))
    op.execute(change.delete().where(change.c.event.in_(EVENTS_ADDED)))
    with op.batch_alter_table("change", schema=None) as batch_op:
        batch_op.alter_column(
            "event",
            existing_type=_enum((*EVENTS_BEFORE, *EVENTS_ADDED), "changeevent"),
            type_=_enum(EVENTS_BEFORE, "changeevent"),
            existing_nullable=False,
        )
    op.drop_index(op.f("ix_document_transfer_transfer_id"), table_name="document_transfer")
    op.drop_index(op.f("ix_document_transfer_document_id"), table_name="document_transfer")
    op.drop_table("document_transfer")
    op.drop_index(op.f("ix_document_party_entity_id"), table_name="document_party")
    op.drop_index(op.f("ix_document_party_document_id"), table_name="document_party")
    op.drop_table("document_party")
    op.drop_table("document")
