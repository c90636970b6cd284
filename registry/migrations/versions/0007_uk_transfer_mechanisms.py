"""UK transfer mechanisms: the IDTA and the UK Addendum

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 16:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EU_MECHANISMS = ("scc_2021_914", "adequacy_decision", "bcr", "art49_derogation")
UK_MECHANISMS = ("uk_idta", "uk_addendum")


def _mechanism(*values: str) -> sa.Enum:
    return sa.Enum(*values, name="mechanism", native_enum=False, create_constraint=True, length=32)


def _retype(before: sa.Enum, after: sa.Enum) -> None:
    # The values are a CHECK constraint, not a native enum: batch mode rebuilds the table on
    # SQLite, which cannot alter a constraint, and alters it in place on PostgreSQL.
    with op.batch_alter_table("transfer", schema=None) as batch_op:
        batch_op.alter_column(
            "mechanism", existing_type=before, type_=after, existing_nullable=False
        )


def upgrade() -> None:
    _retype(_mechanism(*EU_MECHANISMS), _mechanism(*EU_MECHANISMS, *UK_MECHANISMS))


def downgrade() -> None:
    _retype(_mechanism(*EU_MECHANISMS, *UK_MECHANISMS), _mechanism(*EU_MECHANISMS))
