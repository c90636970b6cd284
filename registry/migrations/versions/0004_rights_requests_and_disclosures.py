"""rights requests, packages and disclosures to authorities

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 11:52:41.172312
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "authority_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("authority", sa.String(length=200), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "received",
                "approved",
                "rejected",
                "released",
                name="disclosurestatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_by", sa.String(length=80), nullable=False),
        sa.Column("necessity", sa.Text(), nullable=True),
        sa.Column("compatibility", sa.Text(), nullable=True),
        sa.Column("reviewed_by", sa.String(length=80), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_by", sa.String(length=80), nullable=True),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authority_request")),
    )
    with op.batch_alter_table("authority_request", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_authority_request_status"), ["status"], unique=False)

    op.create_table(
        "rights_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "access",
                "rectification",
                "erasure",
                "restriction",
                "objection",
                "portability",
                "consent_withdrawal",
                "arrangement",
                "child_deletion",
                name="requestkind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "received",
                "identity_pending",
                "registered",
                "in_progress",
                "extended",
                "completed",
                "refused",
                name="requeststatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("controller_id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=True),
        sa.Column("phone_index", sa.String(length=64), nullable=True),
        sa.Column("email_index", sa.String(length=64), nullable=True),
        sa.Column("by_guardian", sa.Boolean(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_by", sa.String(length=80), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("extended_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("extension_reason", sa.Text(), nullable=True),
        sa.Column("extension_notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("identity_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("identity_established_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("identity_evidence", sa.Text(), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fee_cents", sa.Integer(), nullable=True),
        sa.Column(
            "fee_ground",
            sa.Enum(
                "manifestly_unfounded",
                "repetitive",
                "excessive",
                name="feeground",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("fee_reason", sa.Text(), nullable=True),
        sa.Column(
            "refusal_ground",
            sa.Enum(
                "manifestly_unfounded",
                "repetitive",
                "excessive",
                "identity_not_established",
                "legal_claims",
                name="refusalground",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("refusal_reason", sa.Text(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("details_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("outcome", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["controller_id"], ["entity.id"], name=op.f("fk_rights_request_controller_id_entity")
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.id"], name=op.f("fk_rights_request_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rights_request")),
    )
    with op.batch_alter_table("rights_request", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rights_request_controller_id"), ["controller_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_rights_request_due_at"), ["due_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_rights_request_email_index"), ["email_index"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_rights_request_kind"), ["kind"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_rights_request_phone_index"), ["phone_index"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_rights_request_status"), ["status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_rights_request_subject_id"), ["subject_id"], unique=False
        )

    op.create_table(
        "objection",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("lodged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("compelling_grounds", sa.Text(), nullable=True),
        sa.Column("grounds_recorded_by", sa.String(length=80), nullable=True),
        sa.Column("grounds_recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["rights_request.id"],
            name=op.f("fk_objection_request_id_rights_request"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.id"], name=op.f("fk_objection_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_objection")),
    )
    with op.batch_alter_table("objection", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_objection_subject_id"), ["subject_id"], unique=False)

    op.create_table(
        "package",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "access",
                "portability",
                "arrangement",
                "disclosure",
                name="packagekind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("rights_request_id", sa.Integer(), nullable=True),
        sa.Column("authority_request_id", sa.Integer(), nullable=True),
        sa.Column("file_name", sa.String(length=120), nullable=False),
        sa.Column("media_type", sa.String(length=80), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("built_by", sa.String(length=80), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=True),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("blob_key", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("downloads", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["authority_request_id"],
            ["authority_request.id"],
            name=op.f("fk_package_authority_request_id_authority_request"),
        ),
        sa.ForeignKeyConstraint(
            ["rights_request_id"],
            ["rights_request.id"],
            name=op.f("fk_package_rights_request_id_rights_request"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_package")),
    )
    with op.batch_alter_table("package", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_package_authority_request_id"), ["authority_request_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_package_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_package_rights_request_id"), ["rights_request_id"], unique=False
        )

    op.create_table(
        "recipient_notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("owed_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=80), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["entity_id"], ["entity.id"], name=op.f("fk_recipient_notice_entity_id_entity")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["rights_request.id"],
            name=op.f("fk_recipient_notice_request_id_rights_request"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recipient_notice")),
    )
    with op.batch_alter_table("recipient_notice", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_recipient_notice_request_id"), ["request_id"], unique=False
        )

    op.create_table(
        "restriction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_by", sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["rights_request.id"],
            name=op.f("fk_restriction_request_id_rights_request"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.id"], name=op.f("fk_restriction_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_restriction")),
    )
    with op.batch_alter_table("restriction", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_restriction_subject_id"), ["subject_id"], unique=False)

    op.create_table(
        "rights_request_step",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "received",
                "identity_pending",
                "registered",
                "in_progress",
                "extended",
                "completed",
                "refused",
                name="requeststatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["rights_request.id"],
            name=op.f("fk_rights_request_step_request_id_rights_request"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rights_request_step")),
    )
    with op.batch_alter_table("rights_request_step", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rights_request_step_request_id"), ["request_id"], unique=False
        )

    op.create_table(
        "disclosure_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("recording_id", sa.String(length=36), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withheld_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["recording_id"],
            ["recording.id"],
            name=op.f("fk_disclosure_item_recording_id_recording"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["authority_request.id"],
            name=op.f("fk_disclosure_item_request_id_authority_request"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disclosure_item")),
    )
    with op.batch_alter_table("disclosure_item", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_disclosure_item_request_id"), ["request_id"], unique=False
        )

    with op.batch_alter_table("subject", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("consent_withdrawn_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("subject", schema=None) as batch_op:
        batch_op.drop_column("consent_withdrawn_at")

    with op.batch_alter_table("disclosure_item", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_disclosure_item_request_id"))

    op.drop_table("disclosure_item")
    with op.batch_alter_table("rights_request_step", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rights_request_step_request_id"))

    op.drop_table("rights_request_step")
    with op.batch_alter_table("restriction", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_restriction_subject_id"))

    op.drop_table("restriction")
    with op.batch_alter_table("recipient_notice", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recipient_notice_request_id"))

    op.drop_table("recipient_notice")
    with op.batch_alter_table("package", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_package_rights_request_id"))
        batch_op.drop_index(batch_op.f("ix_package_expires_at"))
        batch_op.drop_index(batch_op.f("ix_package_authority_request_id"))

    op.drop_table("package")
    with op.batch_alter_table("objection", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_objection_subject_id"))

    op.drop_table("objection")
    with op.batch_alter_table("rights_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rights_request_subject_id"))
        batch_op.drop_index(batch_op.f("ix_rights_request_status"))
        batch_op.drop_index(batch_op.f("ix_rights_request_phone_index"))
        batch_op.drop_index(batch_op.f("ix_rights_request_kind"))
        batch_op.drop_index(batch_op.f("ix_rights_request_email_index"))
        batch_op.drop_index(batch_op.f("ix_rights_request_due_at"))
        batch_op.drop_index(batch_op.f("ix_rights_request_controller_id"))

    op.drop_table("rights_request")
    with op.batch_alter_table("authority_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_authority_request_status"))

    op.drop_table("authority_request")
