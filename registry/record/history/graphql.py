"""GraphQL feed of changes to the record, for people and integrations to follow (R-INV-4)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from registry.graphql.context import Info
from registry.graphql.loading import id_maker
from registry.graphql.relay import Connection, Node, connection, page
from registry.graphql.selection import selection_of
from registry.record.history import service
from registry.record.history.models import Change, ChangeAction


@strawberry.type(
    name="Change", description="One change to the record: who, when, before and after."
)
class ChangeType(Node):
    sequence: int = strawberry.field(
        description="The change's place in the order changes committed; follow with `after`."
    )
    at: datetime
    actor: str
    subject_type: str
    subject_slug: str
    action: ChangeAction
    before: dict[str, Any] | None = strawberry.field(graphql_type=JSON | None)
    after: dict[str, Any] | None = strawberry.field(graphql_type=JSON | None)


def _sequence(row: Change) -> int:
    # Every change another transaction can read was numbered as it committed.
    assert row.sequence is not None
    return row.sequence


def change_objects(rows: list[Change], want_id: bool) -> list[ChangeType]:
    make_id = id_maker("Change", want_id)
    return [
        ChangeType(
            id=make_id(row.id),
            sequence=_sequence(row),
            at=row.at,
            actor=row.actor,
            subject_type=row.subject_type,
            subject_slug=row.subject_slug,
            action=row.action,
            before=row.before,
            after=row.after,
        )
        for row in rows
    ]


@strawberry.type
class HistoryQuery:
    @strawberry.field(
        description=(
            "Changes in the order they committed, each once: resume with `after` set to the"
            " last `endCursor`. `since` keeps the changes made at or after a time; retired"
            " entities keep theirs."
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
            )
        )
        shown, more = window.split(rows)
        want_id = "id" in selection_of(info.selected_fields).connection_nodes()
        return connection(
            change_objects(shown, want_id),
            [_sequence(r) for r in shown],
            has_next_page=more,
        )
