"""GraphQL feed of changes to the record, for people and integrations to follow (R-INV-4)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from registry.graphql.context import Info
from registry.graphql.loading import id_maker
from registry.graphql.mutations import capped
from registry.graphql.relay import Connection, Node, connection, page
from registry.graphql.selection import selection_of
from registry.record.history import service
from registry.record.history.events import SCHEMA_VERSION
from registry.record.history.models import Change, ChangeAction, ChangeEvent, ImportBatch


@strawberry.type(
    name="ImportBatch",
    description="An applied import of an entity list: the file, its SHA-256, who and when.",
)
class ImportBatchType:
    file_name: str
    sha256: str = strawberry.field(description="The imported file's SHA-256, in hex.")
    actor: str
    at: datetime

    @classmethod
    def from_model(cls, batch: ImportBatch) -> ImportBatchType:
        return cls(file_name=batch.file_name, sha256=batch.sha256, actor=batch.actor, at=batch.at)


@strawberry.type(
    name="Change",
    description=(
        "One change to the record, a typed event: what happened (`event`), to which subject,"
        " its snapshot before and after, who, when, why, and the request that made it."
    ),
)
class ChangeType(Node):
    sequence: int = strawberry.field(
        description="The change's place in the order changes committed; follow with `after`."
    )
    schema_version: int = strawberry.field(
        description=(
            "The version of this shape and of the snapshots' keys. Keys and event types are"
            " only ever added; the version moves when they are."
        )
    )
    event: ChangeEvent = strawberry.field(description="What kind of write this was.")
    at: datetime
    actor: str
    subject_type: str
    subject_slug: str = strawberry.field(
        description="The subject's slug; a link's is its ends joined by `>`, and its"
        " snapshots name each end (`processor`, `sub_processor`, `activity`, ...)."
    )
    action: ChangeAction
    before: dict[str, Any] | None = strawberry.field(
        graphql_type=JSON | None, description="The subject as it was; null if it was new."
    )
    after: dict[str, Any] | None = strawberry.field(
        graphql_type=JSON | None, description="The subject as the change left it."
    )
    reason: str | None = strawberry.field(description="Why, as the person who made it said.")
    request_id: str | None = strawberry.field(
        description="The API request that made the change (its `X-Request-ID`); null for"
        " changes made from the command line or by loading the seeds."
    )
    import_batch: ImportBatchType | None = strawberry.field(
        default=None, description="The imported file the change came from; null if none."
    )


def _sequence(row: Change) -> int:
    # Every change another transaction can read was numbered as it committed.
    assert row.sequence is not None
    return row.sequence


def change_objects(
    rows: list[Change], want_id: bool, batches: dict[int, ImportBatch] | None = None
) -> list[ChangeType]:
    make_id = id_maker("Change", want_id)
    found = batches or {}
    return [
        ChangeType(
            id=make_id(row.id),
            sequence=_sequence(row),
            schema_version=SCHEMA_VERSION,
            event=row.event,
            at=row.at,
            actor=row.actor,
            subject_type=row.subject_type,
            subject_slug=row.subject_slug,
            action=row.action,
            before=row.before,
            after=row.after,
            reason=row.reason,
            request_id=row.request_id,
            import_batch=(
                ImportBatchType.from_model(found[row.import_batch_id])
                if row.import_batch_id in found
                else None
            ),
        )
        for row in rows
    ]


@strawberry.type
class HistoryQuery:
    @strawberry.field(
        description=(
            "Changes in the order they committed, each once: resume with `after` set to the"
            " last `endCursor`. `since` keeps the changes made at or after a time; retired"
            " entities keep theirs. `events` keeps the changes of those types."
        )
    )
    async def changes(
        self,
        info: Info,
        first: int = 50,
        after: str | None = None,
        subject_type: str | None = None,
        subject_slug: str | None = None,
        since: datetime | None = None,
        events: list[ChangeEvent] | None = None,
    ) -> Connection[ChangeType]:
        ctx = info.context
        window = page(first, after, limit=ctx.settings.max_page_size)
        rows = list(
            await service.list_changes(
                session=ctx.session,
                actor=ctx.actor,
                after_sequence=window.after,
                limit=window.fetch,
                subject_type=subject_type,
                subject_slug=subject_slug,
                since=since,
                events=frozenset(capped(events, "events")),
            )
        )
        shown, more = window.split(rows)
        nodes = selection_of(info.selected_fields).connection_nodes()
        # The page's batches in one statement, and only when asked for.
        batches = (
            await service.batches_by_id(
                ctx.session, [r.import_batch_id for r in shown if r.import_batch_id is not None]
            )
            if "importBatch" in nodes
            else {}
        )
        return connection(
            change_objects(shown, "id" in nodes, batches),
            [_sequence(r) for r in shown],
            has_next_page=more,
        )
