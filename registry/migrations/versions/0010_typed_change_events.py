"""typed change events: each change's event type, reason and request, and an index for
updatedSince

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 19:00:00.000000

Changes recorded so far get their event type from their subject type and action, which
named one kind of write each; they keep no reason or request, which were not recorded.
Their snapshots get the keys that snapshots now carry, so that the log reads alike across
this revision (a diff would otherwise show the new keys as changed): a transfer's
activity, exporter and importer by slug, and a data category link's two ends. Keys are
only added, never changed.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (subject_type, action) -> event, as the code recorded them up to this revision.
BACKFILL = {
    ("entity", "created"): "entity_created",
    ("entity", "updated"): "entity_updated",
    ("entity", "retired"): "entity_retired",
    ("engagement", "linked"): "sub_processor_engaged",
    ("engagement", "unlinked"): "sub_processor_released",
    ("activity_party", "linked"): "activity_party_added",
    ("activity_data_category", "linked"): "data_category_attached",
    ("transfer", "created"): "transfer_created",
    ("transfer", "updated"): "transfer_updated",
    ("seeds", "created"): "seeds_loaded",
}
EVENTS = (*BACKFILL.values(), "adequacy_decision_changed")


def _event_type() -> sa.Enum:
    return sa.Enum(
        *EVENTS, name="changeevent", native_enum=False, create_constraint=True, length=32
    )


def upgrade() -> None:
    with op.batch_alter_table("change", schema=None) as batch_op:
        batch_op.add_column(sa.Column("event", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("request_id", sa.String(length=64), nullable=True))
        batch_op.create_index(
            "ix_change_subject_at", ["subject_type", "subject_slug", "at"], unique=False
        )
    change = sa.table(
        "change",
        sa.column("subject_type", sa.String()),
        sa.column("action", sa.String()),
        sa.column("event", sa.String()),
    )
    for (subject_type, action), event in BACKFILL.items():
        op.execute(
            change.update()
            .where(change.c.subject_type == subject_type, change.c.action == action)
            .values(event=event)
        )
    _add_named_ends()
    # Every change had one of the kinds above; one that had not would stop the migration
    # here, at NOT NULL, rather than be given a type it never had.
    with op.batch_alter_table("change", schema=None) as batch_op:
        batch_op.alter_column(
            "event",
            existing_type=sa.String(length=32),
            type_=_event_type(),
            nullable=False,
        )


def _add_named_ends() -> None:
    connection = op.get_bind()
    change = sa.table(
        "change",
        sa.column("id", sa.Integer()),
        sa.column("subject_type", sa.String()),
        sa.column("subject_slug", sa.String()),
        sa.column("before", sa.JSON()),
        sa.column("after", sa.JSON()),
    )
    entity_slugs: dict[Any, str] = {
        id_: slug for id_, slug in connection.execute(sa.text("SELECT id, slug FROM entity"))
    }
    activity_slugs: dict[Any, str] = {
        id_: slug for id_, slug in connection.execute(sa.text("SELECT id, slug FROM activity"))
    }

    def transfer_ends(snapshot: dict[str, Any]) -> dict[str, Any]:
        ends = {
            "activity": activity_slugs.get(snapshot.get("activity_id")),
            "exporter": entity_slugs.get(snapshot.get("exporter_id")),
            "importer": entity_slugs.get(snapshot.get("importer_id")),
        }
        return {key: slug for key, slug in ends.items() if slug is not None}

    def category_ends(slug: str) -> dict[str, Any]:
        # activity>category: neither an activity's slug nor a category's key holds a ">".
        activity, _, category = slug.partition(">")
        return {"activity": activity, "data_category": category}

    rows = connection.execute(
        sa.select(
            change.c.id,
            change.c.subject_type,
            change.c.subject_slug,
            change.c.before,
            change.c.after,
        ).where(change.c.subject_type.in_(("transfer", "activity_data_category")))
    ).all()
    for id_, subject_type, slug, before, after in rows:
        values: dict[str, dict[str, Any]] = {}
        for name, snapshot in (("before", before), ("after", after)):
            if not isinstance(snapshot, dict):
                continue
            ends = transfer_ends(snapshot) if subject_type == "transfer" else category_ends(slug)
            added = {key: value for key, value in ends.items() if key not in snapshot}
            if added:
                values[name] = {**snapshot, **added}
        if values:
            connection.execute(change.update().where(change.c.id == id_).values(**values))


def downgrade() -> None:
    # The CHECK on the event types goes first: SQLite's rebuilt table would keep it, naming
    # a column that is gone.
    with op.batch_alter_table("change", schema=None) as batch_op:
        batch_op.alter_column(
            "event", existing_type=_event_type(), type_=sa.String(length=32), nullable=True
        )
    with op.batch_alter_table("change", schema=None) as batch_op:
        batch_op.drop_index("ix_change_subject_at")
        batch_op.drop_column("request_id")
        batch_op.drop_column("reason")
        batch_op.drop_column("event")
