"""sweep runs: each sweep's counts, the evidence of retention for the privacy team

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 22:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sweep_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("shredded", sa.Integer(), nullable=False),
        sa.Column("blobs_deleted", sa.Integer(), nullable=False),
        sa.Column("identifiers_erased", sa.Integer(), nullable=False),
        sa.Column("expired_packages_erased", sa.Integer(), nullable=False),
        sa.Column("unfinished_uploads_removed", sa.Integer(), nullable=False),
        sa.Column("kept_by_holds", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sweep_run")),
    )
    with op.batch_alter_table("sweep_run", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sweep_run_finished_at"), ["finished_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sweep_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sweep_run_finished_at"))
    op.drop_table("sweep_run")
