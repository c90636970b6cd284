"""What a compiled plan holds: the root fields to resolve, and how to write each answer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLField, GraphQLObjectType
from graphql.execution.collect_fields import FieldDetails

# Reads an object the loaders built and returns its part of the answer.
Serialiser = Callable[[Any], Any]


class Unanswerable(Exception):
    """What the plan read is not what ordinary execution would answer without an error
    (a null where the schema promises a value): ordinary execution answers instead."""


@dataclass(frozen=True)
class RootField:
    key: str
    definition: GraphQLField
    details: list[FieldDetails]
    serialise: Serialiser


@dataclass(frozen=True)
class Plan:
    root_type: GraphQLObjectType
    fields: tuple[RootField, ...]
