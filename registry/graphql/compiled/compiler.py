"""Decides whether a validated operation is covered, and compiles the plan answering it.

Fields are collected by graphql-core's own ``collect_fields``, with the request's
variables, so aliases, fragments, ``@skip`` and ``@include`` merge and order the answer's
keys exactly as execution would. Whatever the compiler does not know, from a mutation to
one field it has no reader for, leaves the whole operation to ordinary execution.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLEnumType,
    GraphQLID,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLString,
    OperationType,
    is_leaf_type,
)
from graphql.execution import Executor
from graphql.execution.collect_fields import FieldDetails, collect_fields, collect_subfields
from graphql.pyutils import Undefined

from registry.graphql.compiled.plan import Plan, RootField, Serialiser, Unanswerable
from registry.record.inventory.loaders import ENTITY
from registry.record.transfers.loaders import TRANSFER

# Their resolvers and loaders read and never write: the request runs without a transaction.
ROOT_FIELDS = frozenset({"entities", "transfers"})
# A past day's record is rebuilt in a session of its own: left to ordinary execution.
UNCOVERED_ARGUMENTS = frozenset({"asOf"})
# Types all of whose fields are plain attributes of what ``relay.connection`` builds.
CONNECTION_TYPES = frozenset(
    {"EntityConnection", "EntityEdge", "TransferConnection", "TransferEdge", "PageInfo"}
)
# The record's types: the columns and ID their loaders fill, and the relations they nest.
RECORD_FIELDS = {
    "Entity": frozenset({*ENTITY.columns, "id", "transfersOut", "transfersIn"}),
    "Transfer": frozenset({*TRANSFER.columns, "id", "exporter", "importer"}),
}
# What strawberry keeps of its own field on graphql-core's.
STRAWBERRY_FIELD = "strawberry-definition"


def compile_plan(executor: Executor[Any]) -> Plan | None:
    """The plan answering the executor's operation, or None if it is not covered."""
    operation = executor.operation
    schema = executor.schema
    root = schema.query_type
    if operation.operation is not OperationType.QUERY or root is None:
        return None
    collected = collect_fields(
        schema, executor.fragments, executor.variable_values, root, operation
    ).grouped_field_set
    compiler = _Compiler(executor)
    fields: list[RootField] = []
    for key, details in collected.items():
        name = details[0].node.name.value
        if name not in ROOT_FIELDS or _given(details) & UNCOVERED_ARGUMENTS:
            return None
        definition = root.fields[name]
        serialise = compiler.value(definition.type, details)
        if serialise is None:
            return None
        fields.append(RootField(key, definition, details, serialise))
    return Plan(root, tuple(fields))


def covers(
    schema: GraphQLSchema,
    document: DocumentNode,
    variables: dict[str, Any] | None = None,
    operation_name: str | None = None,
) -> bool:
    """Whether a plan answers the operation (a document that cannot run has none)."""
    executor = Executor.build(
        schema, document, raw_variable_values=variables, operation_name=operation_name
    )
    return not isinstance(executor, list) and compile_plan(executor) is not None


def _given(details: list[FieldDetails]) -> set[str]:
    return {argument.name.value for d in details for argument in d.node.arguments or ()}


class _Compiler:
    def __init__(self, executor: Executor[Any]) -> None:
        self.executor = executor

    def value(self, output: GraphQLOutputType, details: list[FieldDetails]) -> Serialiser | None:
        """Writes a field's value of type ``output``, a null included."""
        found = self._nullable(output, details)
        if found is None:
            return None
        present, required = found
        return _required(present) if required else _optional(present)

    def _nullable(
        self, output: GraphQLOutputType, details: list[FieldDetails]
    ) -> tuple[Serialiser, bool] | None:
        """Writes a value of type ``output`` that is not null, and whether the schema
        promises one (the null check is made by the caller, saving a call per value)."""
        if isinstance(output, GraphQLNonNull):
            present = self._present(output.of_type, details)
            return None if present is None else (present, True)
        present = self._present(output, details)
        return None if present is None else (present, False)

    def _present(self, output: GraphQLOutputType, details: list[FieldDetails]) -> Serialiser | None:
        """Writes a value of type ``output`` that is not null."""
        if isinstance(output, GraphQLList):
            item = self._nullable(output.of_type, details)
            return None if item is None else _list(*item)
        if is_leaf_type(output):
            return _leaf(output)
        if isinstance(output, GraphQLObjectType):
            return self._object(output, details)
        return None

    def _object(self, kind: GraphQLObjectType, details: list[FieldDetails]) -> Serialiser | None:
        executor = self.executor
        collected = collect_subfields(
            executor.schema,
            executor.fragments,
            executor.variable_values,
            executor.operation,
            kind,
            details,
        ).grouped_field_set
        known = RECORD_FIELDS.get(kind.name)
        if known is None and kind.name not in CONNECTION_TYPES:
            return None
        readers: list[tuple[str, Serialiser]] = []
        for key, sub_details in collected.items():
            name = sub_details[0].node.name.value
            if name == "__typename":
                readers.append((key, _constant(kind.name)))
                continue
            definition = kind.fields.get(name)
            field = definition.extensions.get(STRAWBERRY_FIELD) if definition else None
            # Only attributes the loaders set: a field with a resolver (or arguments) runs code.
            if (
                definition is None
                or field is None
                or not field.is_basic_field
                or (known is not None and name not in known)
                or _given(sub_details)
            ):
                return None
            reader = _text_attribute(field.python_name, definition.type)
            if reader is None:
                value = self._nullable(definition.type, sub_details)
                if value is None:
                    return None
                reader = _attribute(field.python_name, *value)
            readers.append((key, reader))
        return _fields(readers)


def _fields(readers: list[tuple[str, Serialiser]]) -> Serialiser:
    def write(source: Any) -> dict[str, Any]:
        return {key: read(source) for key, read in readers}

    return write


def _attribute(name: str, present: Serialiser, required: bool) -> Serialiser:
    get = attrgetter(name)
    if required:

        def read_required(source: Any) -> Any:
            value = get(source)
            if value is None:
                raise Unanswerable("a null where the schema promises a value")
            return present(value)

        return read_required

    def read(source: Any) -> Any:
        value = get(source)
        return None if value is None else present(value)

    return read


def _text_attribute(name: str, output: GraphQLOutputType) -> Serialiser | None:
    """Reads a text field in one call (most of an answer's values are text); None if the
    field is not text."""
    required = isinstance(output, GraphQLNonNull)
    kind = output.of_type if isinstance(output, GraphQLNonNull) else output
    if kind is not GraphQLString and kind is not GraphQLID:
        return None
    get = attrgetter(name)
    coerce = kind.coerce_output_value

    def read(source: Any) -> Any:
        value = get(source)
        if type(value) is str:
            return value
        if value is None:
            if required:
                raise Unanswerable("a null where the schema promises a value")
            return None
        return _coerced(coerce, value)

    return read


def _constant(value: str) -> Serialiser:
    return lambda _source: value


def _required(present: Serialiser) -> Serialiser:
    def write(value: Any) -> Any:
        if value is None:
            # Execution would answer an error here: it answers the request instead.
            raise Unanswerable("a null where the schema promises a value")
        return present(value)

    return write


def _optional(present: Serialiser) -> Serialiser:
    return lambda value: None if value is None else present(value)


def _list(present: Serialiser, required: bool) -> Serialiser:
    if required:

        def write_required(values: Any) -> Any:
            written = [None if value is None else present(value) for value in values]
            if None in written:
                raise Unanswerable("a null where the schema promises a value")
            return written

        return write_required
    return lambda values: [None if value is None else present(value) for value in values]


def _leaf(kind: GraphQLLeafType) -> Serialiser:
    coerce = kind.coerce_output_value
    if kind is GraphQLString or kind is GraphQLID:
        # Text is written as it is (what coerce_output_value does), without the call.
        def text(value: Any) -> Any:
            return value if type(value) is str else _coerced(coerce, value)

        return text
    if isinstance(kind, GraphQLEnumType):
        # An enum has a few values, and finding a value's name is a search: each is kept.
        names: dict[Any, Any] = {}

        def name(value: Any) -> Any:
            found = names.get(value)
            if found is None:
                found = names[value] = _coerced(coerce, value)
            return found

        return name
    return lambda value: _coerced(coerce, value)


def _coerced(coerce: Serialiser, value: Any) -> Any:
    # As graphql-core's complete_leaf_value: a value that coerces to nothing is an error.
    coerced = coerce(value)
    if coerced is None or coerced is Undefined:
        raise Unanswerable("a value the scalar cannot write")
    return coerced
