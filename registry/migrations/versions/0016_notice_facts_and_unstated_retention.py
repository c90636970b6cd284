"""notice facts of an activity, and retention not stated by the source

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 21:45:00.000000

An activity keeps the facts of the notice it is taken from (when the notice was last
updated, which language's version governs, the platform it names); activities recorded so
far have none on record. A data category's retention may be recorded as not stated by the
source, a gap (R-INV-6); every retention recorded so far was stated.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notice_last_updated", sa.String(length=10), nullable=True))
        batch_op.add_column(
            sa.Column("notice_authoritative_language", sa.String(length=40), nullable=True)
        )
        batch_op.add_column(sa.Column("platform", sa.Text(), nullable=True))
    with op.batch_alter_table("activity_data_category", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("retention_stated", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    # The default was for the rows there were; new ones are given theirs by the code.
    with op.batch_alter_table("activity_data_category", schema=None) as batch_op:
        batch_op.alter_column("retention_stated", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("activity_data_category", schema=None) as batch_op:
        batch_op.drop_column("retention_stated")
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.drop_column("platform")
        batch_op.drop_column("notice_authoritative_language")
        batch_op.drop_column("notice_last_updated")
