"""the index secret version each stored blind index is under, so that it can be rotated

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 17:00:00.000000

Rows indexed before keep no version: theirs is the first, the only one there was.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("subject", "rights_request")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("index_secret_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("index_secret_version")
