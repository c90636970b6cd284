"""Running a mutation as one step of the request's transaction, with typed errors."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types.nodes import SelectedField

from registry.audit.models import Outcome
from registry.errors import DomainError, Forbidden, InvalidInput, RuleBroken, error_extensions
from registry.graphql.context import Info
from registry.graphql.errors import ErrorType, error_from

Result = TypeVar("Result")

MAX_LIST_INPUT = 50


# Arguments that name what a mutation acts on, for the audit log's ``target``.
IDENTIFYING = (
    "slug",
    "processor",
    "subProcessor",
    "activity",
    "entity",
    "exporter",
    "importer",
    "handle",
    "id",
    "call",
    "recording",
    "subject",
    "hold",
    "session",
    "request",
    "objection",
    "restriction",
    "notice",
    # An authority's own reference for its request: the request has no ID before it is recorded.
    "reference",
)


async def run(
    info: Info,
    work: Callable[[AsyncSession], Awaitable[Result]],
    *,
    detail: Callable[[Result], dict[str, Any]] | None = None,
) -> tuple[Result | None, list[ErrorType]]:
    """Runs ``work`` in a savepoint: a domain error undoes its writes and becomes a typed error.

    Either way the attempt is audited, under the mutation's name; ``detail`` tells what a
    successful one changed, for its audit entry.
    """
    context = info.context
    target = _target(info)
    try:
        async with context.savepoint() as session:
            result = await work(session)
    except DomainError as error:
        outcome = Outcome.DENIED if isinstance(error, Forbidden | RuleBroken) else Outcome.FAILED
        context.audit(info.field_name, outcome, target=target, detail=error_extensions(error))
        return None, [error_from(error)]
    context.audit(
        info.field_name,
        Outcome.ALLOWED,
        target=target,
        detail=detail(result) if detail is not None else None,
    )
    return result, []


def _target(info: Info) -> str | None:
    selected = info.selected_fields[0] if info.selected_fields else None
    arguments = selected.arguments if isinstance(selected, SelectedField) else {}
    given = arguments.get("input")
    values = {**arguments, **(given if isinstance(given, dict) else {})}
    named = [
        f"{key}={values[key]}"
        for key in IDENTIFYING
        if isinstance(values.get(key), str | int) and not isinstance(values.get(key), bool)
    ]
    return ", ".join(named)[:300] or None


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
