"""Strawberry objects holding only the fields a query selected, read from table rows.

graphql-core reads only the fields a query selected, so an object needs no others.
Filling twenty-odd dataclass fields for each of tens of thousands of objects, and
loading whole ORM instances for them, was most of the cost of a large nested query.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter, itemgetter
from typing import Any, Generic, TypeVar, TypeVarTuple

from sqlalchemy import ColumnElement, Row, Select, inspect
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types.base import get_object_definition
from strawberry.utils.str_converters import to_camel_case

from registry.db import Base
from registry.graphql.relay import global_id
from registry.graphql.selection import Selection

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


@dataclass(frozen=True)
class Relation:
    """A field whose value is found from one column of the row (a foreign key, or the id)."""

    key: str
    find: Callable[[Any], Any]


async def column_rows(session: AsyncSession, query: Select[*Ts]) -> Sequence[Row[*Ts]]:
    """The rows of a select of plain columns, executed by Core.

    Through the session's ORM layer the same rows cost a fifth more, for processing that
    plain columns do not need. Core does not autoflush, which loaders need not: they read
    after a mutation's savepoint has ended, and ending it flushed the mutation's changes.
    """
    connection = await session.connection()
    return (await connection.execute(query)).all()


def values_of(rows: Sequence[Any], name: str) -> list[Any]:
    """One column of ``rows``: by position from column rows, by attribute from ORM instances.

    Reading a ``Row`` by name costs several times what reading it by position does, and a
    large answer reads tens of thousands of them.
    """
    if not rows:
        return []
    first = rows[0]
    read = itemgetter(first._fields.index(name)) if isinstance(first, Row) else attrgetter(name)
    return list(map(read, rows))


class Shape(Generic[T]):
    """How a strawberry type maps onto the columns of a table."""

    def __init__(self, cls: type[T], model: type[Base]) -> None:
        self.cls = cls
        self.model = model
        definition = get_object_definition(cls, strict=True)
        self.type_name = definition.name
        table_columns = set(inspect(model).columns.keys())
        # GraphQL field name -> attribute name, for the fields that are plain columns.
        self.columns = {
            field.graphql_name or to_camel_case(field.python_name): field.python_name
            for field in definition.fields
            if field.python_name in table_columns and field.python_name != "id"
        }

    def wanted(self, sel: Selection) -> list[str]:
        """The column-backed fields the selection asks for."""
        return [name for graphql, name in self.columns.items() if graphql in sel]

    def select_names(self, sel: Selection, extra: Iterable[str]) -> list[str]:
        """Columns to load: the primary key, what ``sel`` asks for, and ``extra`` keys."""
        return list(dict.fromkeys(["id", *self.wanted(sel), *extra]))

    def select_list(self, sel: Selection, extra: Iterable[str]) -> list[ColumnElement[Any]]:
        table = inspect(self.model).columns
        return [table[name] for name in self.select_names(sel, extra)]

    def make(self, values: dict[str, Any]) -> T:
        # No dataclass __init__: unselected fields are never read, so they are never set.
        instance = self.cls.__new__(self.cls)
        instance.__dict__ = values
        return instance

    def build(
        self, rows: Sequence[Any], sel: Selection, relations: Mapping[str, Relation]
    ) -> list[T]:
        """One object per row: its selected columns, its ID if asked, and each relation."""
        names = self.wanted(sel)
        # Column by column: each is read in one pass, and each object made from one zip.
        columns = [values_of(rows, name) for name in names]
        if "id" in sel:
            names.append("id")
            columns.append([global_id(self.type_name, key) for key in values_of(rows, "id")])
        for name, relation in relations.items():
            names.append(name)
            columns.append(list(map(relation.find, values_of(rows, relation.key))))
        if not columns:
            # Only __typename is asked: the objects still count.
            return [self.make({}) for _ in rows]
        # Each tuple has one value per name (they were appended together): checking that
        # again for every object would cost a third of making its fields. ``make`` is
        # inlined: a call for each of thousands of objects cost a third more again.
        cls = self.cls
        new = cls.__new__
        objects: list[T] = []
        append = objects.append
        for values in zip(*columns, strict=True):
            instance = new(cls)
            instance.__dict__ = dict(zip(names, values, strict=False))
            append(instance)
        return objects
