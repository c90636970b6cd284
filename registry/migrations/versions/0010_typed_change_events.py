"""typed change events: each change's event type, reason and request, and an index for
updatedSince

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 19:00:00.000000

Changes recorded so far get their event type from their subject type and action, which
named one kind of write each; they keep no reason or request, which were not recorded.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (subject_type, action) -> event, as the code recorded them up to this revision.
BACKFILL = {
    ("entity", "created"): "entity_created",
    ("entity", "updated"): "entity_updated",
    ("entity", "retired"): "entity_retired",
    ("engagement", "linked"): "sub_processor_engaged",
    ("engagement", "unlinked"): "sub_processor_released",
    ("activity_party", "linked"): "activity_party_added",
    ("activity_data_category", "linked"): "data_category_attached",
    ("transfer", "created"): "transfer_created",
    ("transfer", "updated"): "transfer_updated",
    ("seeds", "created"): "seeds_loaded",
}
EVENTS = (*BACKFILL.values(), "adequacy_decision_changed")


def _event_type() -> sa.Enum:
    return sa.Enum(
        *EVENTS, name="changeevent", native_enum=False, create_constraint=True, length=32
    )


def upgrade() -> None:
    with op.batch_alter_table("change", schema=None) as batch_op:
        batch_op.add_column(sa.Column("event", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("request_id", sa.String(length=64), nullable=True))
        batch_op.create_index(
            "ix_change_subject_at", ["subject_type", "subject_slug", "at"], unique=False
        )
    change = sa.table(
        "change",
        sa.column("subject_type", sa.String()),
        sa.column("action", sa.String()),
        sa.column("event", sa.String()),
    )
    for (subject_type, action), event in BACKFILL.items():
        op.execute(
            change.update()
            .where(change.c.subject_type == subject_type, change.c.action == action)
            .values(event=event)
        )
    # Every change had one of the kinds above; one that had not would stop the migration
    # here, at NOT NULL, rather than be given a type it never had.
    with op.batch_alter_table("change", schema=None) as batch_op:
        batch_op.alter_column(
            "event",
            existing_type=sa.String(length=32),
            type_=_event_type(),
            nullable=False,
        )


def downgrade() -> None:
    # The CHECK on the event types goes first: SQLite's rebuilt table would keep it, naming
    # a column that is gone.
    with op.batch_alter_table("change", schema=None) as batch_op:
        batch_op.alter_column(
            "event", existing_type=_event_type(), type_=sa.String(length=32), nullable=True
        )
    with op.batch_alter_table("change", schema=None) as batch_op:
        batch_op.drop_index("ix_change_subject_at")
        batch_op.drop_column("request_id")
        batch_op.drop_column("reason")
        batch_op.drop_column("event")
