"""inventory, transfers, history and access

Revision ID: 0001
Revises:
Create Date: 2026-11-30 08:25:34.639505
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "activity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("automated_decisions", sa.Text(), nullable=False),
        sa.Column("arrangement_summary", sa.Text(), nullable=False),
        sa.Column("operations", sa.JSON(), nullable=False),
        sa.Column("recipient_categories", sa.JSON(), nullable=False),
        sa.Column("security_measures", sa.JSON(), nullable=False),
        sa.Column("transfer_summary", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity")),
        sa.UniqueConstraint("slug", name=op.f("uq_activity_slug")),
    )
    op.create_table(
        "change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("subject_type", sa.String(length=40), nullable=False),
        sa.Column("subject_slug", sa.String(length=200), nullable=False),
        sa.Column(
            "action",
            sa.Enum(
                "created",
                "updated",
                "retired",
                "linked",
                "unlinked",
                name="changeaction",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change")),
    )
    with op.batch_alter_table("change", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_change_subject_slug"), ["subject_slug"], unique=False)
        batch_op.create_index(batch_op.f("ix_change_subject_type"), ["subject_type"], unique=False)

    op.create_table(
        "country",
        sa.Column("code", sa.String(length=2), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("eea", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_country")),
    )
    op.create_table(
        "data_category",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("special_category", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_category")),
        sa.UniqueConstraint("key", name=op.f("uq_data_category_key")),
    )
    op.create_table(
        "principal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("handle", sa.String(length=80), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("confidentiality_committed_on", sa.Date(), nullable=True),
        sa.Column("trained_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_principal")),
        sa.UniqueConstraint("handle", name=op.f("uq_principal_handle")),
    )
    op.create_table(
        "subject_category",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject_category")),
        sa.UniqueConstraint("key", name=op.f("uq_subject_category_key")),
    )
    op.create_table(
        "activity_data_category",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("data_category_id", sa.Integer(), nullable=False),
        sa.Column("retention_days", sa.Integer(), nullable=True),
        sa.Column("retention_criterion", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activity.id"],
            name=op.f("fk_activity_data_category_activity_id_activity"),
        ),
        sa.ForeignKeyConstraint(
            ["data_category_id"],
            ["data_category.id"],
            name=op.f("fk_activity_data_category_data_category_id_data_category"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_data_category")),
        sa.UniqueConstraint(
            "activity_id", "data_category_id", name=op.f("uq_activity_data_category_activity_id")
        ),
    )
    with op.batch_alter_table("activity_data_category", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_activity_data_category_activity_id"), ["activity_id"], unique=False
        )

    op.create_table(
        "activity_subject",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("subject_category_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["activity_id"], ["activity.id"], name=op.f("fk_activity_subject_activity_id_activity")
        ),
        sa.ForeignKeyConstraint(
            ["subject_category_id"],
            ["subject_category.id"],
            name=op.f("fk_activity_subject_subject_category_id_subject_category"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_subject")),
        sa.UniqueConstraint(
            "activity_id", "subject_category_id", name=op.f("uq_activity_subject_activity_id")
        ),
    )
    with op.batch_alter_table("activity_subject", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_activity_subject_activity_id"), ["activity_id"], unique=False
        )

    op.create_table(
        "adequacy_decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("country_code", sa.String(length=2), nullable=False),
        sa.Column("reference", sa.String(length=300), nullable=False),
        sa.Column(
            "scope",
            sa.Enum(
                "whole_country",
                "certified_organisations",
                name="adequacyscope",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("scope_note", sa.Text(), nullable=True),
        sa.Column("adopted_on", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["country_code"],
            ["country.code"],
            name=op.f("fk_adequacy_decision_country_code_country"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adequacy_decision")),
        sa.UniqueConstraint("slug", name=op.f("uq_adequacy_decision_slug")),
    )
    with op.batch_alter_table("adequacy_decision", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_adequacy_decision_country_code"), ["country_code"], unique=False
        )

    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("principal_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["principal_id"], ["principal.id"], name=op.f("fk_api_token_principal_id_principal")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_token_token_hash")),
    )
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_api_token_principal_id"), ["principal_id"], unique=False
        )

    op.create_table(
        "entity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "group_company",
                "processor",
                "sub_processor",
                "authority",
                name="entitykind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("known_as", sa.String(length=200), nullable=True),
        sa.Column("legal_name", sa.String(length=300), nullable=False),
        sa.Column("registered_office", sa.Text(), nullable=True),
        sa.Column("country_code", sa.String(length=2), nullable=False),
        sa.Column("contact", sa.Text(), nullable=True),
        sa.Column("dpo", sa.Text(), nullable=True),
        sa.Column("representative", sa.Text(), nullable=True),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("verification_note", sa.Text(), nullable=True),
        sa.Column("dpf_certified", sa.Boolean(), nullable=False),
        sa.Column("notice_number", sa.Integer(), nullable=True),
        sa.Column("active_from", sa.Date(), nullable=True),
        sa.Column("retired_on", sa.Date(), nullable=True),
        sa.Column("retirement_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["country_code"], ["country.code"], name=op.f("fk_entity_country_code_country")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entity")),
        sa.UniqueConstraint("slug", name=op.f("uq_entity_slug")),
    )
    with op.batch_alter_table("entity", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_entity_country_code"), ["country_code"], unique=False)

    op.create_table(
        "purpose",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["activity_id"], ["activity.id"], name=op.f("fk_purpose_activity_id_activity")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purpose")),
        sa.UniqueConstraint("activity_id", "key", name=op.f("uq_purpose_activity_id")),
    )
    with op.batch_alter_table("purpose", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_purpose_activity_id"), ["activity_id"], unique=False)

    op.create_table(
        "activity_party",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "joint_controller",
                "processor",
                name="partyrole",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["activity_id"], ["activity.id"], name=op.f("fk_activity_party_activity_id_activity")
        ),
        sa.ForeignKeyConstraint(
            ["entity_id"], ["entity.id"], name=op.f("fk_activity_party_entity_id_entity")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_party")),
        sa.UniqueConstraint("activity_id", "entity_id", name=op.f("uq_activity_party_activity_id")),
    )
    with op.batch_alter_table("activity_party", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_activity_party_activity_id"), ["activity_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_activity_party_entity_id"), ["entity_id"], unique=False
        )

    op.create_table(
        "engagement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("processor_id", sa.Integer(), nullable=False),
        sa.Column("sub_processor_id", sa.Integer(), nullable=False),
        sa.Column("since", sa.Date(), nullable=True),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["processor_id"], ["entity.id"], name=op.f("fk_engagement_processor_id_entity")
        ),
        sa.ForeignKeyConstraint(
            ["sub_processor_id"], ["entity.id"], name=op.f("fk_engagement_sub_processor_id_entity")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engagement")),
        sa.UniqueConstraint(
            "processor_id", "sub_processor_id", name=op.f("uq_engagement_processor_id")
        ),
    )
    with op.batch_alter_table("engagement", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_engagement_processor_id"), ["processor_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_engagement_sub_processor_id"), ["sub_processor_id"], unique=False
        )

    op.create_table(
        "purpose_basis",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("purpose_id", sa.Integer(), nullable=False),
        sa.Column("subject_category_id", sa.Integer(), nullable=False),
        sa.Column(
            "legal_basis",
            sa.Enum(
                "art6_1_a",
                "art6_1_b",
                "art6_1_c",
                "art6_1_d",
                "art6_1_e",
                "art6_1_f",
                name="legalbasis",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["purpose_id"], ["purpose.id"], name=op.f("fk_purpose_basis_purpose_id_purpose")
        ),
        sa.ForeignKeyConstraint(
            ["subject_category_id"],
            ["subject_category.id"],
            name=op.f("fk_purpose_basis_subject_category_id_subject_category"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purpose_basis")),
        sa.UniqueConstraint(
            "purpose_id", "subject_category_id", name=op.f("uq_purpose_basis_purpose_id")
        ),
    )
    with op.batch_alter_table("purpose_basis", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_purpose_basis_purpose_id"), ["purpose_id"], unique=False
        )

    op.create_table(
        "transfer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=200), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("exporter_id", sa.Integer(), nullable=False),
        sa.Column("importer_id", sa.Integer(), nullable=False),
        sa.Column("destination_country_code", sa.String(length=2), nullable=False),
        sa.Column(
            "mechanism",
            sa.Enum(
                "scc_2021_914",
                "adequacy_decision",
                "bcr",
                "art49_derogation",
                name="mechanism",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("scc_module", sa.Integer(), nullable=True),
        sa.Column("adequacy_decision_id", sa.Integer(), nullable=True),
        sa.Column("derogation", sa.Text(), nullable=True),
        sa.Column("signed_on", sa.Date(), nullable=True),
        sa.Column("tia_reference", sa.String(length=300), nullable=True),
        sa.Column("tia_date", sa.Date(), nullable=True),
        sa.Column("supplementary_measures", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["activity_id"], ["activity.id"], name=op.f("fk_transfer_activity_id_activity")
        ),
        sa.ForeignKeyConstraint(
            ["adequacy_decision_id"],
            ["adequacy_decision.id"],
            name=op.f("fk_transfer_adequacy_decision_id_adequacy_decision"),
        ),
        sa.ForeignKeyConstraint(
            ["destination_country_code"],
            ["country.code"],
            name=op.f("fk_transfer_destination_country_code_country"),
        ),
        sa.ForeignKeyConstraint(
            ["exporter_id"], ["entity.id"], name=op.f("fk_transfer_exporter_id_entity")
        ),
        sa.ForeignKeyConstraint(
            ["importer_id"], ["entity.id"], name=op.f("fk_transfer_importer_id_entity")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfer")),
        sa.UniqueConstraint("slug", name=op.f("uq_transfer_slug")),
    )
    with op.batch_alter_table("transfer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_transfer_activity_id"), ["activity_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_transfer_exporter_id"), ["exporter_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_transfer_importer_id"), ["importer_id"], unique=False)

    op.create_table(
        "transfer_data_category",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("transfer_id", sa.Integer(), nullable=False),
        sa.Column("data_category_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["data_category_id"],
            ["data_category.id"],
            name=op.f("fk_transfer_data_category_data_category_id_data_category"),
        ),
        sa.ForeignKeyConstraint(
            ["transfer_id"],
            ["transfer.id"],
            name=op.f("fk_transfer_data_category_transfer_id_transfer"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfer_data_category")),
        sa.UniqueConstraint(
            "transfer_id", "data_category_id", name=op.f("uq_transfer_data_category_transfer_id")
        ),
    )
    with op.batch_alter_table("transfer_data_category", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transfer_data_category_transfer_id"), ["transfer_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("transfer_data_category", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transfer_data_category_transfer_id"))

    op.drop_table("transfer_data_category")
    with op.batch_alter_table("transfer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transfer_importer_id"))
        batch_op.drop_index(batch_op.f("ix_transfer_exporter_id"))
        batch_op.drop_index(batch_op.f("ix_transfer_activity_id"))

    op.drop_table("transfer")
    with op.batch_alter_table("purpose_basis", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_purpose_basis_purpose_id"))

    op.drop_table("purpose_basis")
    with op.batch_alter_table("engagement", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_engagement_sub_processor_id"))
        batch_op.drop_index(batch_op.f("ix_engagement_processor_id"))

    op.drop_table("engagement")
    with op.batch_alter_table("activity_party", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activity_party_entity_id"))
        batch_op.drop_index(batch_op.f("ix_activity_party_activity_id"))

    op.drop_table("activity_party")
    with op.batch_alter_table("purpose", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_purpose_activity_id"))

    op.drop_table("purpose")
    with op.batch_alter_table("entity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_entity_country_code"))

    op.drop_table("entity")
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_token_principal_id"))

    op.drop_table("api_token")
    with op.batch_alter_table("adequacy_decision", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_adequacy_decision_country_code"))

    op.drop_table("adequacy_decision")
    with op.batch_alter_table("activity_subject", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activity_subject_activity_id"))

    op.drop_table("activity_subject")
    with op.batch_alter_table("activity_data_category", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activity_data_category_activity_id"))

    op.drop_table("activity_data_category")
    op.drop_table("subject_category")
    op.drop_table("principal")
    op.drop_table("data_category")
    op.drop_table("country")
    with op.batch_alter_table("change", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_change_subject_type"))
        batch_op.drop_index(batch_op.f("ix_change_subject_slug"))

    op.drop_table("change")
    op.drop_table("activity")
