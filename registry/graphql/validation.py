"""Documents found valid once are not validated again.

Validation walks the whole document with every rule (the depth and alias limits and the
introspection ban among them) on every request: at a page of a hundred it cost about as
much as answering from the database. What it finds depends only on the document's text
and the schema's rules, which are fixed when the schema is built: a text found valid is
valid for good. A document with errors is never remembered, so it is refused, and its
refusal reported, each time it comes.
"""

from __future__ import annotations

from collections.abc import Iterator
from weakref import WeakKeyDictionary

from graphql import GraphQLSchema
from strawberry.extensions import SchemaExtension

from registry._recently_used import RecentlyUsed

# As many as the compiled plans keep: the queries a deployment's callers send are few.
MAX_DOCUMENTS = 256
# Longer texts are validated each time: what is kept stays small whatever callers send.
MAX_REMEMBERED_LENGTH = 16 * 1024

_valid: WeakKeyDictionary[GraphQLSchema, RecentlyUsed[str, None]] = WeakKeyDictionary()


class RememberValidDocuments(SchemaExtension):
    """Skips validating a document whose text the schema has found valid before."""

    def on_validate(self) -> Iterator[None]:
        execution = self.execution_context
        schema = execution.schema._schema
        text = execution.query
        known = _valid.get(schema)
        if known is None:
            known = _valid[schema] = RecentlyUsed(MAX_DOCUMENTS)
        if text is not None and execution.pre_execution_errors is None and known.seen(text):
            # What validation leaves when it finds nothing: strawberry then skips it.
            execution.pre_execution_errors = []
            yield
            return
        yield
        if (
            text is not None
            and len(text) <= MAX_REMEMBERED_LENGTH
            and execution.pre_execution_errors == []
        ):
            known.keep(text, None)
