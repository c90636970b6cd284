"""Every refusal of a query is audited, like every mutation (R-ACC-6)."""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from registry.audit.models import Outcome
from registry.errors import Forbidden, error_extensions
from registry.graphql.context import Context


class AuditDenials(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        context = self.execution_context.context
        if result is None or not result.errors or not isinstance(context, Context):
            return
        for error in result.errors:
            if isinstance(error.original_error, Forbidden):
                field = str(error.path[0]) if error.path else "query"
                context.audit(field, Outcome.DENIED, detail=error_extensions(error.original_error))
