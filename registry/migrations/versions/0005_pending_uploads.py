"""uploads under way, so that the sweep removes the blobs of those that never finished

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 15:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pending_upload",
        sa.Column("recording_id", sa.String(length=36), nullable=False),
        sa.Column("call_id", sa.String(length=36), nullable=False),
        sa.Column("blob_key", sa.String(length=100), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"], ["call.id"], name=op.f("fk_pending_upload_call_id_call")
        ),
        sa.PrimaryKeyConstraint("recording_id", name=op.f("pk_pending_upload")),
    )
    with op.batch_alter_table("pending_upload", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pending_upload_call_id"), ["call_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_pending_upload_deadline"), ["deadline"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("pending_upload", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pending_upload_deadline"))
        batch_op.drop_index(batch_op.f("ix_pending_upload_call_id"))
    op.drop_table("pending_upload")
