"""Running a mutation as one step of the request's transaction, with typed errors."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from registry.errors import DomainError, InvalidInput
from registry.graphql.context import Info
from registry.graphql.errors import ErrorType, error_from

Result = TypeVar("Result")

MAX_LIST_INPUT = 50


async def run(
    info: Info, work: Callable[[AsyncSession], Awaitable[Result]]
) -> tuple[Result | None, list[ErrorType]]:
    """Runs ``work`` in a savepoint: a domain error undoes its writes and becomes a typed error."""
    try:
        async with info.context.savepoint() as session:
            return await work(session), []
    except DomainError as error:
        return None, [error_from(error)]


def given_fields(data: Any) -> dict[str, Any]:
    """The fields of an input object that the caller set (``null`` included, to clear a value)."""
    return {
        f.name: getattr(data, f.name)
        for f in dataclasses.fields(data)
        if getattr(data, f.name) is not strawberry.UNSET
    }


def capped(values: list[Any] | None, name: str) -> list[Any]:
    if values is None:
        return []
    if len(values) > MAX_LIST_INPUT:
        raise InvalidInput(f"at most {MAX_LIST_INPUT} values", field=name)
    return values
