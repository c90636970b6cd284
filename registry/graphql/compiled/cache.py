"""Plans kept by document, operation and the values that decide ``@skip`` and ``@include``."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any
from weakref import WeakKeyDictionary

from graphql import GraphQLSchema
from graphql.execution import Executor

from registry._recently_used import RecentlyUsed
from registry.graphql.compiled.compiler import compile_plan
from registry.graphql.compiled.plan import Plan

MAX_PLANS = 256

# One cache per schema: a plan holds that schema's fields and resolvers.
_caches: WeakKeyDictionary[GraphQLSchema, PlanCache] = WeakKeyDictionary()


class PlanCache:
    """The least recently used plans, and the documents found not covered (as None)."""

    def __init__(self, max_entries: int = MAX_PLANS) -> None:
        self._plans: RecentlyUsed[Hashable, Plan | None] = RecentlyUsed(max_entries)

    def plan(self, executor: Executor[Any]) -> Plan | None:
        key = _key(executor)
        if key is None:
            return compile_plan(executor)
        return self._plans.remembered(key, lambda: compile_plan(executor))


def plan_for(executor: Executor[Any]) -> Plan | None:
    cache = _caches.get(executor.schema)
    if cache is None:
        cache = _caches[executor.schema] = PlanCache()
    return cache.plan(executor)


def _key(executor: Executor[Any]) -> Hashable | None:
    location = executor.operation.loc
    if location is None:
        return None
    name = executor.operation.name
    # ``@skip(if:)`` and ``@include(if:)`` take a Boolean: only such values change the plan.
    switches = tuple(
        sorted(
            (variable, value)
            for variable, value in executor.variable_values.coerced.items()
            if value is None or isinstance(value, bool)
        )
    )
    return location.source.body, name.value if name else None, switches
