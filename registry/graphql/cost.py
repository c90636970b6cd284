"""What a query may cost, known from its document before it runs (as GitHub and Shopify do).

The cost is the number of objects the answer may hold: each object field counts once for
each object it is asked of, a connection multiplies what is below it by its ``first``,
and a plain list by ``LIST_ESTIMATE``. Aliases count as often as they are written. A
request may cost at most ``max_query_cost``, and each principal has
``query_cost_per_minute`` to spend (a bucket that refills steadily), so no caller can fill
the workers with large answers at the expense of everyone else.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    is_leaf_type,
)
from strawberry.extensions import SchemaExtension

from registry.graphql.context import Context

# Objects a plain list (one without ``first``) is reckoned to hold: most hold a handful.
LIST_ESTIMATE = 10


class QueryCost(SchemaExtension):
    """Refuses a query costing more than one request may, or more than its principal has
    left this minute; reports what it cost in the answer's ``extensions``."""

    cost: int | None = None

    def on_execute(self) -> Iterator[None]:
        execution = self.execution_context
        context = execution.context
        document = execution.graphql_document
        if isinstance(context, Context) and document is not None and not execution.result:
            self.cost = query_cost(
                execution.schema._schema,
                document,
                execution.operation_name,
                execution.variables if isinstance(execution.variables, dict) else {},
                max_page_size=context.settings.max_page_size,
            )
            refusal = self._refusal(context, self.cost)
            if refusal is not None:
                execution.result = ExecutionResult(data=None, errors=[refusal])
        yield

    def _refusal(self, context: Context, cost: int) -> GraphQLError | None:
        maximum = context.settings.max_query_cost
        if maximum and cost > maximum:
            message = (
                f"this query may cost {cost}, more than the {maximum} a request may:"
                " ask for fewer objects (a smaller `first`, fewer aliases, less nesting)"
            )
            return GraphQLError(message, extensions={"code": "QUERY_TOO_COSTLY"})
        wait = context.cost_budget.take(context.actor.handle, cost)
        if not wait:
            return None
        # Nothing runs; the view answers 429 with the wait, as for too many requests.
        context.retry_after = math.ceil(wait)
        message = f"this query costs {cost}, more than is left of this minute's budget"
        return GraphQLError(message, extensions={"code": "RATE_LIMITED"})

    def get_results(self) -> dict[str, Any]:
        if self.cost is None:
            return {}
        context = self.execution_context.context
        maximum = context.settings.max_query_cost if isinstance(context, Context) else 0
        return {"cost": {"requested": self.cost, "maximum": maximum or None}}


def query_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any],
    *,
    max_page_size: int,
) -> int:
    """The cost of the operation that ``operation_name`` picks from a validated document."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [o for o in operations if operation_name in (None, o.name and o.name.value)]
    if not chosen:
        return 0
    operation = chosen[0]
    root = schema.get_root_type(operation.operation)
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    counter = _Counter(schema, fragments, variables, max_page_size)
    return counter.selection(root, operation.selection_set, 1) if root else 0


class _Counter:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        max_page_size: int,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.max_page_size = max_page_size

    def selection(self, parent: Any, selection_set: SelectionSetNode, times: int) -> int:
        """What the selection costs when asked of ``times`` objects of type ``parent``."""
        total = 0
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                total += self.field(parent, node, times)
            elif isinstance(node, InlineFragmentNode):
                condition = node.type_condition
                kind = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selection(kind, node.selection_set, times)
            elif isinstance(node, FragmentSpreadNode):
                fragment = self.fragments[node.name.value]
                kind = self.schema.get_type(fragment.type_condition.name.value)
                total += self.selection(kind, fragment.selection_set, times)
        return total

    def field(self, parent: Any, node: FieldNode, times: int) -> int:
        if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            return 0
        definition = parent.fields.get(node.name.value)
        if (
            definition is None
            or node.selection_set is None
            or is_leaf_type(get_named_type(definition.type))
        ):
            return 0
        if "first" in definition.args:
            # One connection per parent; what is below it, ``first`` times.
            count, below = times, times * self._first(node, definition.args["first"].default_value)
        else:
            count = below = times * self._list_size(definition.type, parent)
        kind = get_named_type(definition.type)
        return count + self.selection(kind, node.selection_set, below)

    def _first(self, node: FieldNode, default: Any) -> int:
        given: Any = default
        for argument in node.arguments or ():
            if argument.name.value != "first":
                continue
            value = argument.value
            if isinstance(value, IntValueNode):
                given = int(value.value)
            elif isinstance(value, VariableNode):
                given = self.variables.get(value.name.value, default)
        if not isinstance(given, int) or isinstance(given, bool):
            return self.max_page_size
        # A `first` out of range is refused when the field runs; here it costs the most.
        return min(max(given, 1), self.max_page_size)

    def _list_size(self, output: GraphQLOutputType, parent: Any) -> int:
        # A connection's edges and nodes are counted by its ``first``, not as plain lists.
        if parent.name.endswith("Connection"):
            return 1
        size = 1
        while isinstance(output, GraphQLNonNull | GraphQLList):
            if isinstance(output, GraphQLList):
                size *= LIST_ESTIMATE
            output = output.of_type
        return size
