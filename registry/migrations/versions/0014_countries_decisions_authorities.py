"""countries, adequacy decisions and supervisory authorities kept through services

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 21:30:00.000000

An adequacy decision gains where it is published (``source``); decisions on record so far
name none. Supervisory authorities get a table, and each controller the authority that
stands to it in a role (lead, complaint). The change log's event types gain the writes of
countries, decisions and authorities.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
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
)
EVENTS_ADDED = (
    "country_added",
    "country_updated",
    "adequacy_decision_created",
    "supervisory_authority_added",
    "supervisory_authority_updated",
    "controller_authority_set",
    "controller_authority_cleared",
)


def _event_type(events: Sequence[str]) -> sa.Enum:
    return sa.Enum(
        *events, name="changeevent", native_enum=False, create_constraint=True, length=32
    )


def upgrade() -> None:
    with op.batch_alter_table("adequacy_decision", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source", sa.String(length=500), nullable=True))
    op.create_table(
        "supervisory_authority",
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("country_code", sa.String(length=2), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("website", sa.String(length=500), nullable=True),
        sa.Column("contact", sa.Text(), nullable=True),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["country_code"],
            ["country.code"],
            name=op.f("fk_supervisory_authority_country_code_country"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervisory_authority")),
        sa.UniqueConstraint("slug", name=op.f("uq_supervisory_authority_slug")),
    )
    with op.batch_alter_table("supervisory_authority", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_supervisory_authority_country_code"), ["country_code"], unique=False
        )
    op.create_table(
        "controller_authority",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("controller_id", sa.Integer(), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "lead",
                "complaint",
                name="authorityrole",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("authority_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["authority_id"],
            ["supervisory_authority.id"],
            name=op.f("fk_controller_authority_authority_id_supervisory_authority"),
        ),
        sa.ForeignKeyConstraint(
            ["controller_id"],
            ["entity.id"],
            name=op.f("fk_controller_authority_controller_id_entity"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_controller_authority")),
        sa.UniqueConstraint(
            "controller_id", "role", name=op.f("uq_controller_authority_controller_id")
        ),
    )
    with op.batch_alter_table("controller_authority", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_controller_authority_controller_id"), ["controller_id"], unique=False
        )
    with op.batch_alter_table("change", schema=None) as batch_op:
        batch_op.alter_column(
            "event",
            existing_type=_event_type(EVENTS_BEFORE),
            type_=_event_type((*EVENTS_BEFORE, *EVENTS_ADDED)),
            existing_nullable=False,
        )


def downgrade() -> None:
    # Changes of the new kinds cannot be kept under the old CHECK: they go with it.
    change = sa.table("change", sa.column("event", sa.String()))
    op.execute(change.delete().where(change.c.event.in_(EVENTS_ADDED)))
    with op.batch_alter_table("change", schema=None) as batch_op:
        batch_op.alter_column(
            "event",
            existing_type=_event_type((*EVENTS_BEFORE, *EVENTS_ADDED)),
            type_=_event_type(EVENTS_BEFORE),
            existing_nullable=False,
        )
    with op.batch_alter_table("controller_authority", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_controller_authority_controller_id"))
    op.drop_table("controller_authority")
    with op.batch_alter_table("supervisory_authority", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_supervisory_authority_country_code"))
    op.drop_table("supervisory_authority")
    with op.batch_alter_table("adequacy_decision", schema=None) as batch_op:
        batch_op.drop_column("source")
