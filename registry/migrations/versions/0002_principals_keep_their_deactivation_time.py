"""principals keep their deactivation time

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 09:24:15.381937
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

principal = sa.table(
    "principal",
    sa.column("active", sa.Boolean()),
    sa.column("deactivated_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    with op.batch_alter_table("principal", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deactivated_at", sa.DateTime(timezone=True), nullable=True))
    # A principal made inactive before this revision was deactivated no later than now.
    op.execute(
        principal.update()
        .where(principal.c.active == sa.false())
        .values(deactivated_at=sa.func.current_timestamp())
    )
    with op.batch_alter_table("principal", schema=None) as batch_op:
        batch_op.drop_column("active")


def downgrade() -> None:
    with op.batch_alter_table("principal", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    op.execute(
        principal.update().where(principal.c.deactivated_at.is_not(None)).values(active=sa.false())
    )
    with op.batch_alter_table("principal", schema=None) as batch_op:
        batch_op.alter_column("active", server_default=None)
        batch_op.drop_column("deactivated_at")
