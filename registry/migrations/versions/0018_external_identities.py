"""external identities: people signed in through the company's identity provider

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 21:45:00.000000

Each (issuer, subject) is tied to one principal for good, and each principal to at most one
of them (R-ACC-2).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "external_identity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("principal_id", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_roles", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["principal_id"],
            ["principal.id"],
            name=op.f("fk_external_identity_principal_id_principal"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_external_identity")),
        sa.UniqueConstraint("issuer", "subject", name=op.f("uq_external_identity_issuer")),
        sa.UniqueConstraint("principal_id", name=op.f("uq_external_identity_principal_id")),
    )


def downgrade() -> None:
    op.drop_table("external_identity")
