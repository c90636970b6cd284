"""taxonomy change events: adding data and subject categories, detaching a data category
from the activity and changing its retention

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 20:00:00.000000

The event types are a CHECK constraint, not a native enum, so adding one retypes the
column (batch mode rebuilds the table on SQLite and alters the constraint on PostgreSQL).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EVENTS = (
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
)
TAXONOMY_EVENTS = (
    "data_category_added",
    "subject_category_added",
    "data_category_detached",
    "retention_changed",
)


def _event_type(*values: str) -> sa.Enum:
    return sa.Enum(
        *values, name="changeevent", native_enum=False, create_constraint=True, length=32
    )


def _retype(before: sa.Enum, after: sa.Enum) -> None:
    with op.batch_alter_table("change", schema=None) as batch_op:
        batch_op.alter_column("event", existing_type=before, type_=after, existing_nullable=False)


def upgrade() -> None:
    _retype(_event_type(*EVENTS), _event_type(*EVENTS, *TAXONOMY_EVENTS))


def downgrade() -> None:
    # A change of the new types stops the downgrade at the CHECK rather than lose its type.
    _retype(_event_type(*EVENTS, *TAXONOMY_EVENTS), _event_type(*EVENTS))
