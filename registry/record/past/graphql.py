"""GraphQL of the record's past: answering as of a day, and the diff between two days."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from registry.access.policy import Action
from registry.graphql.context import Context, Info
from registry.record.past import as_of
from registry.record.past import diff as service
from registry.record.past.diff import DiffKind

strawberry.enum(DiffKind)

AS_OF = (
    "The record as it stood at the end of this day (UTC), as it was known then; flows are "
    "judged on that day. Today, or none, is the record as it is now."
)


@asynccontextmanager
async def context_as_of(
    ctx: Context, day: date | None, reading: Action = Action.INVENTORY_READ
) -> AsyncIterator[Context]:
    """The request's context reading the record as of ``day``: its loaders, which read
    ``session``, then answer from the rebuilt record too. What it audits stays the
    request's."""
    async with as_of.session_as_of(
        session=ctx.session, actor=ctx.actor, day=day, reading=reading
    ) as past:
        if past is ctx.session:
            yield ctx
        else:
            yield dataclasses.replace(ctx, _session=past, _countries=None, as_of=day)


@strawberry.type(name="SubjectDiff", description="One part of the record that changed.")
class SubjectDiffType:
    subject_type: str
    subject_slug: str
    kind: DiffKind
    before: dict[str, Any] | None = strawberry.field(
        graphql_type=JSON | None, description="As it stood at the end of `from`."
    )
    after: dict[str, Any] | None = strawberry.field(
        graphql_type=JSON | None, description="As it stood at the end of `to`."
    )
    fields: list[str] = strawberry.field(description="The fields that differ.")


@strawberry.type(name="RecordDiff")
class RecordDiffType:
    from_: date = strawberry.field(name="from")
    to: date
    changes: list[SubjectDiffType]


@strawberry.type
class PastQuery:
    @strawberry.field(
        description=(
            "What was added, changed, retired or ended in the record between the end of"
            " `from` and the end of `to` (UTC), from the change log: for periodic review."
        )
    )
    async def diff(
        self,
        info: Info,
        from_: Annotated[date, strawberry.argument(name="from")],
        to: date,
    ) -> RecordDiffType:
        ctx = info.context
        found = await service.diff(session=ctx.session, actor=ctx.actor, since=from_, until=to)
        return RecordDiffType(
            from_=found.since,
            to=found.until,
            changes=[
                SubjectDiffType(
                    subject_type=c.subject_type,
                    subject_slug=c.subject_slug,
                    kind=c.kind,
                    before=c.before,
                    after=c.after,
                    fields=c.fields,
                )
                for c in found.changes
            ],
        )
