"""GraphQL reading of the audit log, for the security team only (R-ACC-6)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from registry.audit.models import AuditEvent, Outcome
from registry.graphql.context import Info
from registry.graphql.relay import Connection, connection, page

strawberry.enum(Outcome)


@strawberry.type(name="AuditEvent", description="One audited event and its link in the chain.")
class AuditEventType:
    seq: int
    at: datetime
    principal: str
    action: str
    target: str | None
    purpose: str | None
    outcome: Outcome
    request_id: str | None
    detail: dict[str, Any] | None = strawberry.field(graphql_type=JSON | None)
    prev_hash: str
    hash: str

    @classmethod
    def from_row(cls, row: AuditEvent) -> AuditEventType:
        return cls(
            seq=row.seq,
            at=row.at,
            principal=row.principal,
            action=row.action,
            target=row.target,
            purpose=row.purpose,
            outcome=row.outcome,
            request_id=row.request_id,
            detail=row.detail,
            prev_hash=row.prev_hash,
            hash=row.hash,
        )


@strawberry.input
class AuditEventFilter:
    action: str | None = None
    principal: str | None = None


@strawberry.type
class AuditQuery:
    @strawberry.field(description="The audit log, oldest first. Reading it is audited too.")
    async def audit_events(
        self,
        info: Info,
        filter: AuditEventFilter | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> Connection[AuditEventType]:
        ctx = info.context
        window = page(first, after, limit=ctx.settings.max_page_size)
        flt = filter or AuditEventFilter()
        rows = list(
            await ctx.audit_log.events(
                actor=ctx.actor,
                after_seq=window.after,
                limit=window.fetch,
                action=flt.action,
                principal=flt.principal,
            )
        )
        shown, more = window.split(rows)
        ctx.audit("auditEvents", Outcome.ALLOWED, detail={"events": len(shown)})
        return connection(
            [AuditEventType.from_row(row) for row in shown],
            [row.seq for row in shown],
            has_next_page=more,
        )
