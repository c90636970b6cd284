"""Column types shared by the domain models."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import DateTime, Enum, String, TypeDecorator, inspect
from sqlalchemy.engine import Dialect
from sqlmodel import SQLModel


def enum_column(enum: type[StrEnum]) -> Enum:
    """Stores an enum by value as text with a CHECK, the same on SQLite and PostgreSQL."""
    return Enum(
        enum,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [member.value for member in members],
        name=enum.__name__.lower(),
    )


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both backends (SQLite hands back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def text_lengths(model: type[SQLModel]) -> dict[str, int]:
    """The most characters each bounded text column of a table takes, by field name: a
    field's length is declared once, in its column type, and the checks read it there."""
    return {
        column.key: column.type.length
        for column in inspect(model).columns
        if isinstance(column.type, String) and column.type.length is not None
    }
