"""active recordings by expiry: the sweep's claim reads only what it may erase

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 22:00:00.000000

The sweep claims the oldest expired active recordings. Erased ones stay as rows (their
tombstones name them), so an index of every recording by expiry makes each claim step
over all the erased ones first; a partial index of the active ones alone does not grow
with the history.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = sa.text("status = 'active'")


def upgrade() -> None:
    op.create_index(
        "ix_recording_active_expires_at",
        "recording",
        ["expires_at"],
        postgresql_where=ACTIVE,
        sqlite_where=ACTIVE,
    )


def downgrade() -> None:
    op.drop_index("ix_recording_active_expires_at", table_name="recording")
