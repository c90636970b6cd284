"""recordings: subjects, calls, consent, sealed audio, holds, monitoring, erasure

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 09:41:00.404794
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


EU = (
    "AT",
    "BE",
    "BG",
    "HR",
    "CY",
    "CZ",
    "DK",
    "EE",
    "FI",
    "FR",
    "DE",
    "GR",
    "HU",
    "IE",
    "IT",
    "LV",
    "LT",
    "LU",
    "MT",
    "NL",
    "PL",
    "PT",
    "RO",
    "SK",
    "SI",
    "ES",
    "SE",
)


def upgrade() -> None:
    op.create_table(
        "tombstone",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recording_id", sa.String(length=36), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "reason",
            sa.Enum(
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
            ),
            nullable=False,
        ),
        sa.Column("erased_by", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tombstone")),
        sa.UniqueConstraint("recording_id", name=op.f("uq_tombstone_recording_id")),
    )
    op.create_table(
        "subject",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "customer",
                "agent",
                name="subjectkind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("name_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("phone_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("email_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("phone_index", sa.String(length=64), nullable=True),
        sa.Column("email_index", sa.String(length=64), nullable=True),
        sa.Column("country_code", sa.String(length=2), nullable=True),
        sa.Column("principal_handle", sa.String(length=80), nullable=True),
        sa.Column("under_16", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("identifiers_erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["country_code"], ["country.code"], name=op.f("fk_subject_country_code_country")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject")),
    )
    with op.batch_alter_table("subject", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subject_email_index"), ["email_index"], unique=False)
        batch_op.create_index(batch_op.f("ix_subject_phone_index"), ["phone_index"], unique=False)

    op.create_table(
        "call",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column(
            "direction",
            sa.Enum(
                "inbound",
                "outbound",
                name="direction",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("customer_country_code", sa.String(length=2), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "consent",
            sa.Enum(
                "pending",
                "given",
                "refused",
                "withdrawn",
                name="consent",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("monitoring_consent", sa.Boolean(), nullable=False),
        sa.Column("recording_stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["subject.id"], name=op.f("fk_call_agent_id_subject")
        ),
        sa.ForeignKeyConstraint(
            ["company_id"], ["entity.id"], name=op.f("fk_call_company_id_entity")
        ),
        sa.ForeignKeyConstraint(
            ["customer_country_code"],
            ["country.code"],
            name=op.f("fk_call_customer_country_code_country"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["subject.id"], name=op.f("fk_call_customer_id_subject")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call")),
    )
    with op.batch_alter_table("call", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_call_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_call_company_id"), ["company_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_call_customer_id"), ["customer_id"], unique=False)

    op.create_table(
        "separate_consent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=200), nullable=False),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.id"], name=op.f("fk_separate_consent_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_separate_consent")),
    )
    with op.batch_alter_table("separate_consent", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_separate_consent_subject_id"), ["subject_id"], unique=False
        )

    op.create_table(
        "consent_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=36), nullable=False),
        sa.Column(
            "step",
            sa.Enum(
                "ivr_digit_1",
                "ivr_digit_2",
                "agent_recorded_yes",
                "agent_recorded_no",
                "recording_stopped",
                "management_notified",
                "it_notified",
                "start_audio_deleted",
                "withdrawn",
                name="consentstep",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["call_id"], ["call.id"], name=op.f("fk_consent_event_call_id_call")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_event")),
    )
    with op.batch_alter_table("consent_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consent_event_call_id"), ["call_id"], unique=False)

    op.create_table(
        "monitoring_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=36), nullable=False),
        sa.Column("monitor", sa.String(length=80), nullable=False),
        sa.Column(
            "reason",
            sa.Enum(
                "service_quality",
                "probation",
                "employment_contract",
                name="monitoringreason",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["call_id"], ["call.id"], name=op.f("fk_monitoring_session_call_id_call")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_session")),
    )
    with op.batch_alter_table("monitoring_session", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_monitoring_session_call_id"), ["call_id"], unique=False
        )

    op.create_table(
        "recording",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("call_id", sa.String(length=36), nullable=False),
        sa.Column(
            "segment",
            sa.Enum(
                "full",
                "start",
                name="segment",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "shredded",
                "erased",
                name="recordingstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("key_id", sa.String(length=64), nullable=True),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("blob_key", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["call_id"], ["call.id"], name=op.f("fk_recording_call_id_call")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recording")),
    )
    with op.batch_alter_table("recording", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recording_call_id"), ["call_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_recording_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_recording_status"), ["status"], unique=False)

    op.create_table(
        "legal_hold",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recording_id", sa.String(length=36), nullable=False),
        sa.Column(
            "ground",
            sa.Enum(
                "legal_claims",
                "other_legitimate_interest",
                name="holdground",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("justification", sa.Text(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("placed_by", sa.String(length=80), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["recording_id"], ["recording.id"], name=op.f("fk_legal_hold_recording_id_recording")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_hold")),
    )
    with op.batch_alter_table("legal_hold", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_legal_hold_recording_id"), ["recording_id"], unique=False
        )

    with op.batch_alter_table("country", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("eu", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    # Rows seeded before this column existed learn their membership here.
    country = sa.table("country", sa.column("code", sa.String), sa.column("eu", sa.Boolean))
    op.execute(country.update().where(country.c.code.in_(EU)).values(eu=True))


def downgrade() -> None:
    with op.batch_alter_table("country", schema=None) as batch_op:
        batch_op.drop_column("eu")

    with op.batch_alter_table("legal_hold", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_legal_hold_recording_id"))

    op.drop_table("legal_hold")
    with op.batch_alter_table("recording", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recording_status"))
        batch_op.drop_index(batch_op.f("ix_recording_expires_at"))
        batch_op.drop_index(batch_op.f("ix_recording_call_id"))

    op.drop_table("recording")
    with op.batch_alter_table("monitoring_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_monitoring_session_call_id"))

    op.drop_table("monitoring_session")
    with op.batch_alter_table("consent_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_event_call_id"))

    op.drop_table("consent_event")
    with op.batch_alter_table("separate_consent", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_separate_consent_subject_id"))

    op.drop_table("separate_consent")
    with op.batch_alter_table("call", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_customer_id"))
        batch_op.drop_index(batch_op.f("ix_call_company_id"))
        batch_op.drop_index(batch_op.f("ix_call_agent_id"))

    op.drop_table("call")
    with op.batch_alter_table("subject", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subject_phone_index"))
        batch_op.drop_index(batch_op.f("ix_subject_email_index"))

    op.drop_table("subject")
    op.drop_table("tombstone")
