"""Checks of a request's inputs that hold for every field, made once before execution."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import DocumentNode, ExecutionResult, GraphQLError, StringValueNode, Visitor, visit
from strawberry.extensions import SchemaExtension

from registry.errors import InvalidInput, error_extensions

NUL = "\x00"


class RefuseNulCharacters(SchemaExtension):
    """A NUL character in any string input refuses the request before anything runs.

    PostgreSQL cannot keep one in text, so it would fail deep in the driver (an INTERNAL
    error, or an audit entry that cannot be written), and no name, reference or reason
    holds one. Checked here, every string argument and input field of the schema is
    covered, whether written in the document or sent as a variable.
    """

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if _holds_nul(context.variables) or (document is not None and _literal_nul(document)):
            error = InvalidInput("a string input holds a NUL character, which no field takes")
            context.result = ExecutionResult(
                data=None,
                errors=[GraphQLError(error.message, extensions=error_extensions(error))],
            )
        yield


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


class _FindNul(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
        self.found = self.found or NUL in node.value


def _literal_nul(document: DocumentNode) -> bool:
    # The lexer has turned escapes (\u0000) into the characters they stand for.
    finder = _FindNul()
    visit(document, finder)
    return finder.found
