"""changes numbered in commit order, so that a follower of the feed misses none

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 16:00:00.000000

Changes made so far keep their id as their sequence, so a follower's saved cursor stays
valid; the counter goes on from the highest.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("change", sa.Column("sequence", sa.Integer(), nullable=True))
    op.execute("UPDATE change SET sequence = id")
    op.create_index(op.f("ix_change_sequence"), "change", ["sequence"], unique=True)
    op.create_table(
        "change_counter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_sequence", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_counter")),
    )
    op.execute(
        "INSERT INTO change_counter (id, last_sequence) "
        "SELECT 1, COALESCE(MAX(sequence), 0) FROM change"
    )


def downgrade() -> None:
    op.drop_table("change_counter")
    op.drop_index(op.f("ix_change_sequence"), table_name="change")
    with op.batch_alter_table("change", schema=None) as batch_op:
        batch_op.drop_column("sequence")
