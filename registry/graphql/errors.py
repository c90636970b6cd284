"""Typed errors returned in mutation payloads, one type per kind of domain error."""

from __future__ import annotations

import strawberry

from registry.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    RuleBroken,
)


@strawberry.interface(
    name="Error", description="Something the request could not do; nothing was changed."
)
class ErrorType:
    message: str
    field: str | None


@strawberry.type
class RuleBrokenError(ErrorType):
    rule_id: str


@strawberry.type
class InvalidInputError(ErrorType):
    pass


@strawberry.type
class NotFoundError(ErrorType):
    pass


@strawberry.type
class ConflictError(ErrorType):
    pass


@strawberry.type
class ForbiddenError(ErrorType):
    pass


ERROR_TYPES: list[type] = [
    RuleBrokenError,
    InvalidInputError,
    NotFoundError,
    ConflictError,
    ForbiddenError,
]


def error_from(error: DomainError) -> ErrorType:
    if isinstance(error, RuleBroken):
        return RuleBrokenError(message=error.message, field=error.field, rule_id=error.rule_id)
    kinds: list[tuple[type[DomainError], type[ErrorType]]] = [
        (InvalidInput, InvalidInputError),
        (NotFound, NotFoundError),
        (Conflict, ConflictError),
        (Forbidden, ForbiddenError),
    ]
    for domain_type, graphql_type in kinds:
        if isinstance(error, domain_type):
            return graphql_type(message=error.message, field=error.field)
    return InvalidInputError(message=error.message, field=error.field)
