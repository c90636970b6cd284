"""editable activities: DPIA status and references, retirement, and their change events

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 19:30:00.000000

Activities recorded so far have not been assessed as far as the record knows
(``not_assessed``), name no DPIA or LIA document and are not retired. The change log's
event types gain the writes of activities, purposes, legal bases and subjects.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
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
)
EVENTS_ADDED = (
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
DPIA_STATUSES = ("not_assessed", "not_required", "required", "in_progress", "done")


def _event_type(events: Sequence[str]) -> sa.Enum:
    return sa.Enum(
        *events, name="changeevent", native_enum=False, create_constraint=True, length=32
    )


def _dpia_status() -> sa.Enum:
    return sa.Enum(
        *DPIA_STATUSES, name="dpiastatus", native_enum=False, create_constraint=True, length=32
    )


def upgrade() -> None:
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "dpia_status",
                _dpia_status(),
                nullable=False,
                server_default="not_assessed",
            )
        )
        batch_op.add_column(sa.Column("dpia_reference", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("lia_reference", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("retired_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("retirement_reason", sa.Text(), nullable=True))
    # The default was for the rows there were; new ones are given theirs by the code.
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.alter_column("dpia_status", server_default=None)
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
    # The CHECK on the DPIA statuses goes first: SQLite's rebuilt table would keep it, naming
    # a column that is gone.
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.alter_column(
            "dpia_status",
            existing_type=_dpia_status(),
            type_=sa.String(length=32),
            existing_nullable=False,
        )
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.drop_column("retirement_reason")
        batch_op.drop_column("retired_on")
        batch_op.drop_column("lia_reference")
        batch_op.drop_column("dpia_reference")
        batch_op.drop_column("dpia_status")
