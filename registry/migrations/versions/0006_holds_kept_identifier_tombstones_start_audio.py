"""erasures kept by holds, tombstones of identifiers, deleted start-of-call audio

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 15:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _erasure_reason() -> sa.Enum:
    return sa.Enum(
        "expired",
        "consent_refused",
        "consent_withdrawn",
        "erasure_request",
        "minor",
        "start_of_call",
        name="erasurereason",
        native_enum=False,
        create_constraint=True,
        length=32,
    )


def upgrade() -> None:
    op.create_table(
        "identifier_tombstone",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", _erasure_reason(), nullable=False),
        sa.Column("erased_by", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subject.id"],
            name=op.f("fk_identifier_tombstone_subject_id_subject"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identifier_tombstone")),
        sa.UniqueConstraint("subject_id", name=op.f("uq_identifier_tombstone_subject_id")),
    )
    op.create_table(
        "kept_from_erasure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recording_id", sa.String(length=36), nullable=False),
        sa.Column("hold_id", sa.Integer(), nullable=False),
        sa.Column("reason", _erasure_reason(), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("asked_by", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(
            ["hold_id"], ["legal_hold.id"], name=op.f("fk_kept_from_erasure_hold_id_legal_hold")
        ),
        sa.ForeignKeyConstraint(
            ["recording_id"],
            ["recording.id"],
            name=op.f("fk_kept_from_erasure_recording_id_recording"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kept_from_erasure")),
    )
    with op.batch_alter_table("kept_from_erasure", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_kept_from_erasure_recording_id"), ["recording_id"], unique=False
        )
    with op.batch_alter_table("call", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("start_audio_deleted_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("call", schema=None) as batch_op:
        batch_op.drop_column("start_audio_deleted_at")
    with op.batch_alter_table("kept_from_erasure", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kept_from_erasure_recording_id"))
    op.drop_table("kept_from_erasure")
    op.drop_table("identifier_tombstone")
