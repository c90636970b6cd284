"""pending blob deletions: the sweep writes each recording once

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 02:10:00.000000

The sweep marked a recording shredded, then erased once its blob was gone: two new row
versions, each with an entry in every index of the table. It now marks it erased at once
and keeps the batch's blob keys in a row of ``pending_blob_deletion``, deleted once the
blobs are. The plain indexes of ``status`` and ``expires_at`` give way to partial ones
of the rows their queries ask for (shredded; active by expiry, 0019), which a recording
leaves as it is erased instead of gaining an entry in each.

Downgrade: the recordings whose blobs are still pending are marked shredded again, so
that the earlier sweep, which finishes the shredded, deletes their blobs.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SHREDDED = sa.text("status = 'shredded'")
# The recordings whose blob keys a pending row holds, back to shredded, as each backend
# spells a JSON list's elements.
UNERASED = {
    "postgresql": (
        "UPDATE recording SET status = 'shredded' WHERE status = 'erased' AND blob_key IN"
        " (SELECT json_array_elements_text(blob_keys) FROM pending_blob_deletion)"
    ),
    "sqlite": (
        "UPDATE recording SET status = 'shredded' WHERE status = 'erased' AND blob_key IN"
        " (SELECT value FROM pending_blob_deletion, json_each(pending_blob_deletion.blob_keys))"
    ),
}


def upgrade() -> None:
    op.create_table(
        "pending_blob_deletion",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("blob_keys", sa.JSON(), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_blob_deletion")),
    )
    op.drop_index("ix_recording_status", table_name="recording")
    op.drop_index("ix_recording_expires_at", table_name="recording")
    op.create_index(
        "ix_recording_shredded",
        "recording",
        ["id"],
        postgresql_where=SHREDDED,
        sqlite_where=SHREDDED,
    )


def downgrade() -> None:
    op.execute(UNERASED[op.get_bind().dialect.name])
    op.drop_index("ix_recording_shredded", table_name="recording")
    op.create_index("ix_recording_expires_at", "recording", ["expires_at"])
    op.create_index("ix_recording_status", "recording", ["status"])
    op.drop_table("pending_blob_deletion")
